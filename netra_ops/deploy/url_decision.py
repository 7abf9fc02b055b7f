"""The service URLs (seed: "Service URL mismatch") as part of a deploy's verification and
of what it decides.

`with_url_checks` adds the rows of `netra_ops.probe.service_urls` to a deployment's
verification, so the runbook's verdict and its decision judge them with the rest.
`url_decision` is `deploy_decision` over those checks, with one exception: a new revision
whose only faults are a URL mismatch it *inherited* (the revision that served before the
deploy carries the same wrong value) is escalated, not rolled back, since the revision a
rollback returns to has the same mismatch; the fix is the configuration (03_config_sync).
A new build that is unhealthy or serves the wrong image is still rolled back.
"""

from __future__ import annotations

from netra_ops.checks import Check
from netra_ops.deploy.change import ChangeResult
from netra_ops.deploy.verify import Checks, deploy_decision
from netra_ops.probe.url_consistency import ConfiguredUrl, ServiceUrls

__all__ = ["url_decision", "with_url_checks"]

_ROLLBACK_REGARDLESS = ("health", "serving image")
"""Checks whose failure a rollback repairs whatever the URLs say (names start so)."""


def with_url_checks(checks: Checks, urls: ServiceUrls) -> Checks:
    """The deployment verification with the service URL rows after its own."""
    return Checks(f"{checks.title} and service URLs", (*checks.checks, *urls.checks),
                  checks.state)


def url_decision(change: ChangeResult, checks: Checks, urls: ServiceUrls) -> tuple[str, str]:
    """What the playbook does after the deploy (`deploy_decision` over `checks`, which carry
    the URL rows), escalating instead of rolling back when the new revision's faults are
    URL mismatches the revision before it had too; see the module docstring."""
    action, reason = deploy_decision(change, checks)
    before = change.before.serving_revision
    if action != "rollback" or change.status != "done" or before is None:
        return action, reason
    inherited = _inherited(change, before, urls.mismatches)
    failed = [c for c in checks.checks if not c.ok and c not in urls.checks]
    if not inherited or any(_repaired_by_rollback(c) for c in failed):
        return action, reason
    said = ", ".join(f"{m.variable}={m.value}" for m in inherited)
    return "escalate", (f"{reason}; not rolled back: {before}, which served before, has the "
                        f"same {said}, so a rollback would not fix it; fix the configuration "
                        "(03_config_sync with Cloud Run's URLs), a human decides")


def _inherited(change: ChangeResult, before: str,
               mismatches: tuple[ConfiguredUrl, ...]) -> tuple[ConfiguredUrl, ...]:
    """The mismatches, when every one is on a new revision and was already on `before`
    (empty otherwise)."""
    env = change.before.revision(before).env
    same = all(m.revision != before and m.is_value(env.get(m.variable)) for m in mismatches)
    return mismatches if mismatches and same else ()


def _repaired_by_rollback(check: Check) -> bool:
    return check.name.startswith(_ROLLBACK_REGARDLESS)
