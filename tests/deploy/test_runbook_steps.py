"""The deploy layer's runbook steps on constructed values (pure: no service is read or
changed): verdict rows of a change, runbook 06's choices and outcome, 03's fix, 07's mark."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from netra_ops.checks import Check
from netra_ops.config import load_environment
from netra_ops.deploy import (
    ChangeResult,
    Checks,
    ConfigFix,
    KnownGoodMark,
    PreflightResult,
    RollbackOutcome,
    RollbackTarget,
    ServiceRollback,
    apply_fix,
    change_checks,
    changes_frame,
    mark_clean_window,
    mark_rolled_back_from,
    quiet_window_s,
    rollback_choice,
    rolled_back_from,
)

ENV = load_environment("sandbox")


def _state(serving: str | None = "rev-3", known_good: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(serving_revision=serving, known_good=known_good)


def _change(status: str = "done", error: str | None = None, plan: tuple[str, ...] = ("x",),
            action: str = "rollback") -> ChangeResult:
    return ChangeResult(action, status, status != "planned", plan, _state(), None, 0.1, error,
                        SimpleNamespace(to_dict=lambda: {"action": action}))  # type: ignore[arg-type]


def test_a_change_and_its_checks_are_the_verdict_rows() -> None:
    checks = Checks("t", (Check("health", False, "HTTP 503", seconds=1.0),), _state())
    rows = change_checks(_change("planned", plan=("route 100% to rev-2",)), checks)
    assert [(c.name, c.ok, c.detail) for c in rows] == [
        ("rollback", True, "planned: route 100% to rev-2"), ("health", False, "HTTP 503")]
    failed = change_checks(_change("failed", error="not Ready", plan=()), checks)[0]
    assert (failed.ok, failed.detail) == (False, "not Ready")
    assert change_checks(_change("unchanged", plan=()), checks)[0].detail == (
        "unchanged: nothing to change")


def test_the_revision_rolled_back_from_and_the_target() -> None:
    state = _state("rev-3", known_good=("rev-1",))
    assert rolled_back_from(state, "rev-9", "rev-4") == "rev-9"
    assert rolled_back_from(state, "", "rev-4") == "rev-4"
    assert rolled_back_from(state) == "rev-3"
    named = rollback_choice(state, "rev-1")
    assert named == RollbackTarget("rev-1", True, "named by to_revision")
    assert rollback_choice(state, "rev-2").known_good is False


def test_only_a_completed_rollback_from_another_revision_marks_it_bad() -> None:
    target = RollbackTarget("rev-1", True, "known good")
    assert mark_rolled_back_from(ENV, None, target, _change(), execute=False) is None
    assert mark_rolled_back_from(ENV, "rev-1", target, _change(), execute=False) is None
    assert mark_rolled_back_from(ENV, "rev-3", target, _change("failed"), execute=False) is None
    assert quiet_window_s(300.0, execute=True) == 300.0
    assert quiet_window_s(300.0, execute=False) == 0.0


def test_the_rollback_outcome_says_where_and_whether_to_escalate() -> None:
    validation = Checks("v", (Check("health", True, "ok"),), _state("rev-1"))
    broken = SimpleNamespace(ok=False, error="missing agent_completed")
    outcome = RollbackOutcome("rev-3", RollbackTarget("rev-1", True, "known good"),
                              validation, broken, 5.0)  # type: ignore[arg-type]
    assert outcome.escalate
    assert outcome.reason == ("rolled back from rev-3 to rev-1 (known good; seed 4.3 passed, "
                              "no 5xx watched 5 s); the golden path is broken there "
                              "(missing agent_completed)")
    assert outcome.describe().endswith("(known good); escalated: the fix needs another attempt.")
    works = RollbackOutcome("rev-3", RollbackTarget("rev-1", False, "fallback"), validation,
                            SimpleNamespace(ok=True, error=None), 0.0)  # type: ignore[arg-type]
    assert works.escalate and works.describe() == (
        "**The golden path works there**: `rev-1` (not known good).")


def test_the_outcome_of_rolling_back_other_services_too() -> None:
    validation = Checks("v", (Check("health", True, "ok"),), _state("rev-1"))
    fine = SimpleNamespace(ok=True, error=None)
    auth = ServiceRollback("auth", _state("auth-2"), "auth-2",  # type: ignore[arg-type]
                           RollbackTarget("auth-1", False, "fallback"))
    both = RollbackOutcome("rev-3", RollbackTarget("rev-1", True, "known good"), validation,
                           fine, 5.0, (auth,))  # type: ignore[arg-type]
    assert both.escalate  # auth's target is not known good
    assert "; auth rolled back from auth-2 to auth-1 (not known good); the golden path " \
        "works there" in both.reason
    alone = RollbackOutcome(None, None, validation, fine, 5.0,  # type: ignore[arg-type]
                            (replace(auth, target=RollbackTarget("auth-1", True, "good")),))
    assert not alone.escalate
    assert alone.reason.startswith("the backend kept rev-1 (seed 4.3 passed")
    assert alone.describe() == "**The golden path works there**: `rev-1`."


def test_the_plans_of_the_changes_made_are_one_table() -> None:
    table = changes_frame(_change(plan=("a", "b")), None, _change(action="mark", plan=()))
    assert list(table["action"]) == ["rollback", "rollback", "mark"]
    assert list(table["step"]) == ["a", "b", "(nothing)"]


def _drift(error: str | None = None) -> Any:
    return SimpleNamespace(error=error, strict=False)


def test_a_fix_without_a_plan_or_a_change_says_why() -> None:
    unread = ConfigFix(_drift("403"), None)
    assert (unread.status, unread.changes, unread.cannot_fix()) == ("not planned", None, [])
    assert unread.outcome() == "no plan: the configuration could not be read"
    assert apply_fix(ENV, unread, execute=True) is unread  # nothing to deploy from
    plan = SimpleNamespace(changes=(), skipped=("DB_PASSWORD: a secret's value",),
                           needed=False, image="img:1", to_frame=lambda: "plan")
    nothing = ConfigFix(_drift(), plan)  # type: ignore[arg-type]
    assert apply_fix(ENV, nothing, execute=True) is nothing
    assert (nothing.status, nothing.changes, nothing.outcome()) == (
        "nothing to do", [], "no deploy needed")
    assert nothing.cannot_fix() == ["cannot be fixed by a deploy: DB_PASSWORD: a secret's value"]
    assert nothing.sync_figures() == {"sync.status": "nothing to do"}
    assert nothing.after_figures() == {} and nothing.drift_now is nothing.drift
    assert nothing.after_note() == "nothing deployed: the reading above stands"
    assert (nothing.plan_frame(), nothing.change_frame(), nothing.after_frame()) == (
        "plan", None, None)


def test_a_deployed_fix_is_judged_on_the_second_reading() -> None:
    after = SimpleNamespace(counts={"match": 6, "missing": 0}, revision="rev-5")
    fix = ConfigFix(_drift(), None, _change("done", action="deploy"), after)  # type: ignore[arg-type]
    assert fix.drift_now is after and fix.status == "done" and fix.outcome() == ""
    assert fix.sync_figures() == {"sync.status": "done", "audit": {"action": "deploy"}}
    assert fix.after_figures() == {"drift_after.match": 6, "drift_after.missing": 0,
                                   "drift_after.revision": "rev-5"}


@pytest.mark.parametrize("action", ["rollback", "hold", "escalate"])
def test_only_a_clean_window_marks_known_good(action: str) -> None:
    mark = mark_clean_window(ENV, action, execute=False)  # no service is read
    assert mark == KnownGoodMark() and mark.to_record() is None and mark.describe() == ""


def test_a_known_good_mark_as_recorded_and_said() -> None:
    mark = KnownGoodMark("rev-5", _change("planned", action="mark"),
                         {"auth": ("auth-2", _change("unchanged", action="mark"))})
    assert mark.to_record() == {"revision": "rev-5", "status": "planned", "services": {
        "auth": {"revision": "auth-2", "status": "unchanged"}}}
    assert mark.describe() == "`rev-5` known good: planned; auth `auth-2`: unchanged"


def test_the_preflight_tables() -> None:
    result = PreflightResult(Path("/repo"), "develop-long-lived", "main", 55, 0,
                             ("abc fix", "def feat"), (Check("gate", True, "exit 0",
                                                             exit_code=0, seconds=1.5),))
    assert result.branches_frame().to_dict(orient="records") == [
        {"repository": "/repo", "release": "develop-long-lived", "base": "main", "ahead": 55,
         "behind": 0, "compared": ""}]
    assert result.figures() == {"release_commit": None, "compared_refs": None,
                                "migrations": None}
    assert result.migrations_frame().empty
    assert list(result.commits_frame()["commit"]) == ["abc fix", "def feat"]
    assert result.to_frame().to_dict(orient="records") == [
        {"name": "gate", "ok": True, "detail": "exit 0", "exit_code": 0, "duration_s": 1.5,
         "output": ""}]
    assert [c.name for c in result.checks] == ["gate"]
