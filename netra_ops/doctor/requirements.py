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

and what `netra-ops schedule --deploy-jobs` / `--remove-jobs` (with --execute) call:

    run.jobs.create, .update    the validation job (jobs.create, jobs.patch)  roles/run.developer
    run.jobs.get, .list         read it back, list it                         roles/run.viewer
    run.executions.list         its runs, in the listing                      roles/run.viewer
    run.jobs.delete             --remove-jobs                                 roles/run.developer
    run.jobs.run                a run by hand (what Cloud Scheduler does)     roles/run.developer
    cloudscheduler.jobs.create, .update, .delete   the triggers      roles/cloudscheduler.admin
    cloudscheduler.jobs.list    find the incident's triggers        roles/cloudscheduler.viewer
    iam.serviceAccounts.actAs   a job and a trigger that run as the jobs' service account
                                                                  roles/iam.serviceAccountUser

`run.services.*` and `run.revisions.*` are asked on the backend service (Cloud Run's
`testIamPermissions`, which sees bindings on the service and inherited ones); the others on
the project (Resource Manager's `projects.testIamPermissions`). Deploying a new revision on
Google also needs `iam.serviceAccounts.actAs` on the service's runtime service account
(roles/iam.serviceAccountUser); it can be granted per service account, and is asked here
on the project only for the jobs (a grant on the project covers every service account in
it; one on the jobs' service account alone is not seen, and the row then fails wrongly).
Cloud Build pushes with its own service account, which needs Artifact Registry's writer role
(roles/artifactregistry.writer) on the repository; a failed build's log is read with
logging.logEntries.list (without it the error says the log could not be read). The jobs'
service account itself needs roles/run.invoker (Cloud Scheduler calls `jobs.run` as it),
roles/secretmanager.secretAccessor on the webhook's secret, and what its runbooks need.
01_preflight, 04_golden_path_validation and 00_incident_summary need no Google permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["BUCKET_REQUIREMENTS", "BUCKET_ROLE", "REQUIREMENTS", "Requirement",
           "changing_runbooks", "requirement"]

Scope = Literal["service", "project", "bucket"]


@dataclass(frozen=True)
class Requirement:
    """A permission, where it is asked, the least predefined role granting it, and which
    runbooks (or commands) need it (`changes`: only to change something, with
    execute=true / --execute)."""

    permission: str
    role: str
    runbooks: tuple[str, ...]
    scope: Scope
    changes: bool = False
    commands: tuple[str, ...] = ()

    def needed_by(self) -> str:
        """The runbooks and commands, as a phrase."""
        if self.commands and not self.runbooks:
            ours = all(c.startswith("schedule ") for c in self.commands)
            return ", ".join(self.commands) + (" (with --execute)" if self.changes and ours
                                               else "")
        return ", ".join(self.runbooks + self.commands) + (
            " (with execute=true)" if self.changes else "")


_READ = ("02_deploy", "03_config_sync", "05_performance", "06_rollback", "07_monitoring",
         "09_session_longevity")
_JOBS = ("schedule --deploy-jobs",)
_REMOVE = ("schedule --deploy-jobs", "schedule --remove-jobs")
# 07 writes the known-good mark on the service (an annotation) when it decides continue.
_CHANGE = ("02_deploy", "03_config_sync", "06_rollback", "07_monitoring")

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("run.services.get", "roles/run.viewer", _READ, "service"),
    Requirement("run.revisions.list", "roles/run.viewer", _READ, "service"),
    Requirement("run.revisions.get", "roles/run.viewer", ("03_config_sync", "09_session_longevity"),
                "service"),
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
    Requirement("run.jobs.create", "roles/run.developer", (), "project", True, _JOBS),
    Requirement("run.jobs.update", "roles/run.developer", (), "project", True, _JOBS),
    Requirement("run.jobs.get", "roles/run.viewer", (), "project", True, _REMOVE),
    Requirement("run.jobs.list", "roles/run.viewer", (), "project", True, _REMOVE),
    Requirement("run.executions.list", "roles/run.viewer", (), "project", True, _JOBS),
    Requirement("run.jobs.run", "roles/run.developer", (), "project", True,
                ("gcloud run jobs execute: a validation by hand",)),
    Requirement("run.jobs.delete", "roles/run.developer", (), "project", True,
                ("schedule --remove-jobs",)),
    Requirement("cloudscheduler.jobs.create", "roles/cloudscheduler.admin", (), "project",
                True, _JOBS),
    Requirement("cloudscheduler.jobs.update", "roles/cloudscheduler.admin", (), "project",
                True, _JOBS),
    Requirement("cloudscheduler.jobs.list", "roles/cloudscheduler.viewer", (), "project",
                True, _REMOVE),
    Requirement("cloudscheduler.jobs.delete", "roles/cloudscheduler.admin", (), "project",
                True, _REMOVE),
    Requirement("iam.serviceAccounts.actAs", "roles/iam.serviceAccountUser", (), "project",
                True, _JOBS),
)


_RECORDS = ("every run (its record)",)

BUCKET_ROLE = "roles/storage.objectUser"
"""The least predefined role granting all four: records replace the incident's index,
manifest and sent-log at each run (under a generation precondition), and Cloud Storage
replaces an object by deleting it, so `storage.objects.delete` is needed beside create, get
and list; roles/storage.objectCreator with roles/storage.objectViewer would not do, and
roles/storage.objectAdmin adds object IAM policies records never touch."""

BUCKET_REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("storage.objects.create", "roles/storage.objectCreator", (), "bucket",
                commands=(*_RECORDS, "schedule --deploy-jobs runs")),
    Requirement("storage.objects.get", "roles/storage.objectViewer", (), "bucket",
                commands=("every run (earlier runs' values)", "records show, verify")),
    Requirement("storage.objects.list", "roles/storage.objectViewer", (), "bucket",
                commands=("every run (the incident's objects)", "records list, show, verify")),
    Requirement("storage.objects.delete", BUCKET_ROLE, (), "bucket",
                commands=("every run (replacing the incident's index, manifest and sent-log;"
                          " Cloud Storage replaces an object by deleting it)",)),
)
"""What a records bucket (`records_url = "gs://..."`) needs, asked on the bucket itself
(`buckets.testIamPermissions`, which sees bucket and inherited bindings)."""


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
