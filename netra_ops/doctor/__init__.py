"""`netra-ops doctor`: check an environment before the first real run, with the fix for each.

    from netra_ops.doctor import doctor
    report = doctor("staging")        # name, path, or a loaded Environment
    print(report.to_text())           # the table the CLI prints
    report.ok                         # False when any check failed
    report.to_frame()                 # one row per check, in a notebook

Each row is pass / fail / skipped with what was seen and, unless it passed, what to do:
the environment file, its secret references, credentials (which principal), the Cloud Run,
Logging and Monitoring APIs, each permission the runbooks need (`REQUIREMENTS`: asked
through `testIamPermissions`, with the predefined role that grants it), whether the project
is allow-listed for changes, and the services' URLs.
"""

from netra_ops.doctor.checkup import doctor
from netra_ops.doctor.principal import Principal, find_principal
from netra_ops.doctor.report import DoctorReport
from netra_ops.doctor.requirements import REQUIREMENTS, Requirement, changing_runbooks

__all__ = [
    "REQUIREMENTS",
    "DoctorReport",
    "Principal",
    "Requirement",
    "changing_runbooks",
    "doctor",
    "find_principal",
]
