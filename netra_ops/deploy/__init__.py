"""Build the release, deploy, verify and roll back through Google's clients (seed 1.1-1.3,
4.2-4.3): Cloud Build (or docker here) for the images, Cloud Run for the services.

`ship` deploys a release to the three services (auth, backend, frontend) by digest, each
verified before the next; `deploy`, `verify`, `rollback` and the marks act on one service
(`role`, the backend by default); `roll_out` moves the backend's traffic to a new revision
in steps, watching the rollback triggers at each. Nothing changes without `execute=True`,
and only in an allow-listed environment; without it each call returns its plan. Every
change leaves an audit entry.
"""

from netra_ops.cloud import (
    KNOWN_BAD,
    KNOWN_GOOD,
    AuditEntry,
    RevisionInfo,
    ServiceState,
    append_audit,
    audit_trail,
    read_service,
)
from netra_ops.deploy.build import (
    BUILD_MODES,
    BuildResult,
    build,
    build_release,
    dockerfile,
    resolve_commit,
)
from netra_ops.deploy.change import ChangeResult, split_text
from netra_ops.deploy.config_sync import ConfigFix, apply_fix, plan_fix
from netra_ops.deploy.marks import KnownGoodMark, mark_clean_window, mark_revision
from netra_ops.deploy.preflight import PreflightResult, preflight
from netra_ops.deploy.rehearsal import serve_for_rehearsal
from netra_ops.deploy.release import (
    DEPLOY_ORDER,
    RollbackTarget,
    choose_rollback_target,
    deploy,
    release_image,
    release_images,
    rollback,
    rollback_target,
    set_traffic,
)
from netra_ops.deploy.risks import RISKS, risk_table
from netra_ops.deploy.rollback_steps import (
    changes_frame,
    mark_rolled_back_from,
    quiet_window_s,
    rollback_choice,
    rolled_back_from,
    validate_rollback_to,
)
from netra_ops.deploy.rollbacks import (
    RollbackOutcome,
    Rollbacks,
    ServiceRollback,
    plan_rollbacks,
    roll_back,
    rolled_back_checks,
)
from netra_ops.deploy.rollout import (
    ROLLOUT_ACTIONS,
    Rollout,
    RolloutOptions,
    RolloutStep,
    health_checks_for,
    roll_out,
    rollout_options,
)
from netra_ops.deploy.ship import (
    ServiceShipment,
    Shipment,
    read_services,
    services_frame,
    ship,
)
from netra_ops.deploy.url_decision import url_decision, with_url_checks
from netra_ops.deploy.verify import (
    Checks,
    change_checks,
    count_server_errors,
    deploy_decision,
    resources_check,
    validate_rollback,
    verify,
)

__all__ = [
    "BUILD_MODES",
    "DEPLOY_ORDER",
    "KNOWN_BAD",
    "KNOWN_GOOD",
    "RISKS",
    "ROLLOUT_ACTIONS",
    "AuditEntry",
    "BuildResult",
    "ChangeResult",
    "Checks",
    "ConfigFix",
    "KnownGoodMark",
    "PreflightResult",
    "RevisionInfo",
    "RollbackOutcome",
    "RollbackTarget",
    "Rollbacks",
    "Rollout",
    "RolloutOptions",
    "RolloutStep",
    "ServiceRollback",
    "ServiceShipment",
    "ServiceState",
    "Shipment",
    "append_audit",
    "apply_fix",
    "audit_trail",
    "build",
    "build_release",
    "change_checks",
    "changes_frame",
    "choose_rollback_target",
    "count_server_errors",
    "deploy",
    "deploy_decision",
    "dockerfile",
    "health_checks_for",
    "mark_clean_window",
    "mark_revision",
    "mark_rolled_back_from",
    "plan_fix",
    "plan_rollbacks",
    "preflight",
    "quiet_window_s",
    "read_service",
    "read_services",
    "release_image",
    "release_images",
    "resolve_commit",
    "resources_check",
    "risk_table",
    "roll_back",
    "roll_out",
    "rollback",
    "rollback_choice",
    "rollback_target",
    "rolled_back_checks",
    "rolled_back_from",
    "rollout_options",
    "serve_for_rehearsal",
    "services_frame",
    "set_traffic",
    "ship",
    "split_text",
    "url_decision",
    "validate_rollback",
    "validate_rollback_to",
    "verify",
    "with_url_checks",
]
