"""The Google Cloud permissions each runbook needs, and the predefined role that grants each.

Read from the calls the runbooks make through `netra_ops.cloud`'s clients:

    permission                  what calls it                                role
    run.services.get            read_service, deploy and rollback            roles/run.viewer
    run.revisions.list          read_service, revision limits, markers       roles/run.viewer
    run.revisions.get           config_drift (the serving revision's env)    roles/run.viewer
    run.services.update         deploy, set_traffic, rollback (execute)      roles/run.developer
    run.operations.get          waiting on a change's operation (execute)    roles/run.viewer
    logging.logEntries.list     request-log errors (validate_rollback, 07)   roles/logging.viewer
    monitoring.timeSeries.list  request, latency, memory and CPU metrics     roles/monitoring.viewer
    cloudbuild.builds.create    build the release (02, execute)   roles/cloudbuild.builds.editor
    cloudbuild.builds.get       wait on the build, read it (02)   roles/cloudbuild.builds.viewer
    cloudbuild.builds.update    cancel it past its deadline (02)  roles/cloudbuild.builds.editor

`run.services.*` and `run.revisions.*` are asked on the backend service (Cloud Run's
`testIamPermissions`, which sees bindings on the service and inherited ones); the others on
the project (Resource Manager's `projects.testIamPermissions`). Deploying a new revision on
Google also needs `iam.serviceAccounts.actAs` on the service's runtime service account
(roles/iam.serviceAccountUser); it is granted per service account, so it is not asked here.
Cloud Build pushes with its own service account, which needs Artifact Registry's writer role
(roles/artifactregistry.writer) on the repository; a failed build's log is read with
logging.logEntries.list (without it the error says the log could not be read).
01_preflight, 04_golden_path_validation and 00_incident_summary need no Google permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["REQUIREMENTS", "Requirement", "changing_runbooks", "requirement"]

Scope = Literal["service", "project"]


@dataclass(frozen=True)
class Requirement:
    """A permission, where it is asked, the least predefined role granting it, and which
    runbooks need it (`changes`: only to change the service, with execute=true)."""

    permission: str
    role: str
    runbooks: tuple[str, ...]
    scope: Scope
    changes: bool = False

    def needed_by(self) -> str:
        """The runbooks, as a phrase."""
        return ", ".join(self.runbooks) + (" (with execute=true)" if self.changes else "")


_READ = ("02_deploy", "03_config_sync", "05_performance", "06_rollback", "07_monitoring")
# 07 writes the known-good mark on the service (an annotation) when it decides continue.
_CHANGE = ("02_deploy", "03_config_sync", "06_rollback", "07_monitoring")

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("run.services.get", "roles/run.viewer", _READ, "service"),
    Requirement("run.revisions.list", "roles/run.viewer", _READ, "service"),
    Requirement("run.revisions.get", "roles/run.viewer", ("03_config_sync",), "service"),
    Requirement("run.services.update", "roles/run.developer", _CHANGE, "service", changes=True),
    Requirement("run.operations.get", "roles/run.viewer", _CHANGE, "project", changes=True),
    Requirement("logging.logEntries.list", "roles/logging.viewer",
                ("06_rollback", "07_monitoring"), "project"),
    Requirement("monitoring.timeSeries.list", "roles/monitoring.viewer",
                ("05_performance", "07_monitoring"), "project"),
    Requirement("cloudbuild.builds.create", "roles/cloudbuild.builds.editor", ("02_deploy",),
                "project", changes=True),
    Requirement("cloudbuild.builds.get", "roles/cloudbuild.builds.viewer", ("02_deploy",),
                "project", changes=True),
    Requirement("cloudbuild.builds.update", "roles/cloudbuild.builds.editor", ("02_deploy",),
                "project", changes=True),
)


def requirement(permission: str) -> Requirement:
    """The requirement of that permission; KeyError names the known ones."""
    for item in REQUIREMENTS:
        if item.permission == permission:
            return item
    raise KeyError(f"no requirement {permission!r}; known: "
                   f"{', '.join(r.permission for r in REQUIREMENTS)}")


def changing_runbooks() -> tuple[str, ...]:
    """The runbooks that change the service when run with execute=true."""
    names = {name for item in REQUIREMENTS if item.changes for name in item.runbooks}
    return tuple(sorted(names))
