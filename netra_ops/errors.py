"""Errors raised by netra-ops for bad configuration, bad input and programming mistakes.

A probe never raises for a bad answer from its target: it reports it in its result. What
raises is what the caller must fix before anything useful can happen. Every message says what
was wrong and what to do about it.

    NetraOpsError
    ├── ConfigError                 an environment file cannot be used
    │   ├── EnvironmentNotFoundError    no environment of that name or path
    │   └── SecretError                 a secret reference cannot be resolved
    ├── DeployError                 a change to a service cannot be made
    │   ├── ChangesNotAllowedError      the environment is not allow-listed for changes
    │   ├── ServiceNotFoundError        the API knows no such service or revision
    │   ├── ApiUnreachableError         the Google API (or the sandbox's emulation) is down
    │   ├── NoRollbackTargetError       there is no earlier Ready revision to go back to
    │   └── BuildError                  a build of the release failed (step, log's last lines)
    │       └── DockerUnavailableError      a local build, and docker is missing or silent
    ├── QueryError                  a log or metric query was refused by the API
    ├── SandboxError                the local sandbox cannot do what was asked
    │   ├── SandboxNotRunningError      nothing answers where the sandbox should be
    │   ├── PortInUseError              a configured port is taken by another process
    │   └── SandboxStartError           a sandbox process did not become healthy
    ├── RunError                    a runbook cannot be run or recorded
    │   ├── NotebookNotFoundError       no runbook at that name or path
    │   ├── ParameterError              a runbook parameter is malformed
    │   │   └── CadenceError                a validation schedule's cadence is malformed
    │   ├── ScheduleLockedError         another scheduler runs this incident's schedule
    │   ├── RecordError                 a recorded value or a verdict table is unusable
    │   ├── TargetUnreachableError      the environment's services or APIs do not answer
    │   └── RunStopped                  SIGTERM / Ctrl-C stopped a run (its record is complete)
    ├── LocustError                 the Locust load path cannot run or be read back
    │   ├── LocustNotInstalledError     locust or websocket-client is missing
    │   └── LocustRunError              Locust failed, overran or left no results
    └── VerdictFailed               a runbook's verdict has failed criteria
"""

from __future__ import annotations

__all__ = [
    "ApiUnreachableError",
    "BuildError",
    "CadenceError",
    "ChangesNotAllowedError",
    "ConfigError",
    "DeployError",
    "DockerUnavailableError",
    "EnvironmentNotFoundError",
    "LocustError",
    "LocustNotInstalledError",
    "LocustRunError",
    "NetraOpsError",
    "NoRollbackTargetError",
    "NotebookNotFoundError",
    "ParameterError",
    "PortInUseError",
    "QueryError",
    "RecordError",
    "RunError",
    "RunStopped",
    "SandboxError",
    "SandboxNotRunningError",
    "SandboxStartError",
    "ScheduleLockedError",
    "SecretError",
    "ServiceNotFoundError",
    "TargetUnreachableError",
    "VerdictFailed",
]


class NetraOpsError(Exception):
    """Root of every error netra-ops raises on purpose."""


class ConfigError(NetraOpsError):
    """An environment file is missing, malformed or inconsistent."""


class EnvironmentNotFoundError(ConfigError):
    """No environment file matches the given name or path."""


class SecretError(ConfigError):
    """A secret reference cannot be resolved (unset variable, missing file, bad scheme)."""


class DeployError(NetraOpsError):
    """A deploy, traffic change or rollback cannot be made or checked."""


class ChangesNotAllowedError(DeployError):
    """The environment's project is not allow-listed for changes (`allow_changes`)."""


class ServiceNotFoundError(DeployError):
    """The API answered that the service or revision does not exist."""


class ApiUnreachableError(DeployError):
    """The Google API, or the sandbox's emulation of it, did not answer."""


class NoRollbackTargetError(DeployError):
    """No earlier Ready revision exists to roll back to."""


class BuildError(DeployError):
    """A build of the release failed, timed out or could not be made.

    `step` names the step that failed (e.g. `build-backend`, `push`), `log_tail` holds the
    last lines of its log, `build_id` the build (Cloud Build's id; None for a local build).
    """

    def __init__(self, message: str, *, step: str | None = None,
                 log_tail: tuple[str, ...] = (), build_id: str | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.log_tail = tuple(log_tail)
        self.build_id = build_id


class DockerUnavailableError(BuildError):
    """A local build was asked for, and the `docker` command is missing or no daemon answers."""


class QueryError(NetraOpsError):
    """Cloud Logging or Cloud Monitoring refused a query (its message says why)."""


class SandboxError(NetraOpsError):
    """The local sandbox cannot do what was asked."""


class SandboxNotRunningError(SandboxError):
    """The sandbox is not running where the environment says it should be."""


class PortInUseError(SandboxError):
    """A port the sandbox needs is already taken."""


class SandboxStartError(SandboxError):
    """A sandbox process exited or stayed unhealthy while starting."""


class RunError(NetraOpsError):
    """A runbook cannot be executed or its record cannot be written."""


class NotebookNotFoundError(RunError):
    """No runbook exists at the given name or path."""


class ParameterError(RunError):
    """A `-p key=value` runbook parameter is malformed."""


class RecordError(RunError):
    """A value given to `record()` or a table given to `verdict()` cannot be used."""


class TargetUnreachableError(RunError):
    """The environment's services or Google APIs do not answer at all (a stopped sandbox, no
    network): checked before a run or a playbook starts, so nothing ran."""


class CadenceError(ParameterError):
    """A schedule's cadence text cannot be parsed, or cannot be expressed as asked (cron)."""


class ScheduleLockedError(RunError):
    """Another live process already runs the schedule of this incident."""


class RunStopped(RunError):
    """This process was asked to stop (SIGTERM, SIGINT / Ctrl-C) while a runbook ran.

    Raised by `run_notebook()` once the stopped run's record is complete, so that whoever
    runs it stops too (a loop of runs, a playbook, a schedule). `status` is "terminated" or
    "interrupted", `exit_code` 143 or 130, `result` the run's `RunResult`.
    """

    def __init__(self, message: str, status: str, exit_code: int, result: object) -> None:
        super().__init__(message)
        self.status = status
        self.exit_code = exit_code
        self.result = result


class LocustError(NetraOpsError):
    """The Locust path cannot run, or its results cannot be read."""


class LocustNotInstalledError(LocustError):
    """Locust or websocket-client is not installed where netra-ops runs."""


class LocustRunError(LocustError):
    """Locust exited with an error, ran over its time, or left no results."""


class VerdictFailed(NetraOpsError):
    """A runbook's verdict has at least one failed criterion.

    Raised by `netra_ops.record.verdict()` in the final cell of a runbook; the runner tells a
    failed verdict (exit 1) from a crashed cell (exit 3) by this type. `failed` holds the
    names of the failed criteria.
    """

    def __init__(self, message: str, failed: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed: list[str] = list(failed or [])
