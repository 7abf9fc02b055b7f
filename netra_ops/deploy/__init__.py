"""Deploy, verify and roll back through Google's Cloud Run client (seed 1.1-1.3, 4.2-4.3).

Nothing changes without `execute=True`, and only in an allow-listed environment; without it
each call returns its plan. Every change leaves an audit entry.
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
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.config_sync import ConfigFix, apply_fix, plan_fix
from netra_ops.deploy.marks import mark_revision
from netra_ops.deploy.preflight import PreflightResult, preflight
from netra_ops.deploy.rehearsal import serve_for_rehearsal
from netra_ops.deploy.release import (
    RollbackTarget,
    choose_rollback_target,
    deploy,
    release_image,
    rollback,
    rollback_target,
    set_traffic,
)
from netra_ops.deploy.risks import RISKS, risk_table
from netra_ops.deploy.verify import (
    Checks,
    change_checks,
    count_server_errors,
    deploy_decision,
    validate_rollback,
    verify,
)

__all__ = [
    "KNOWN_BAD",
    "KNOWN_GOOD",
    "RISKS",
    "AuditEntry",
    "ChangeResult",
    "Checks",
    "ConfigFix",
    "PreflightResult",
    "RevisionInfo",
    "RollbackTarget",
    "ServiceState",
    "append_audit",
    "apply_fix",
    "audit_trail",
    "change_checks",
    "choose_rollback_target",
    "count_server_errors",
    "deploy",
    "deploy_decision",
    "mark_revision",
    "plan_fix",
    "preflight",
    "read_service",
    "release_image",
    "risk_table",
    "rollback",
    "rollback_target",
    "serve_for_rehearsal",
    "set_traffic",
    "validate_rollback",
    "verify",
]
