"""Deploy, verify, traffic and rollback through google-cloud-run against the sandbox.

One sandbox for the module; the tests run in order and each leaves the develop-long-lived
build serving 100% when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import psutil
import pytest

from netra_ops import sandbox
from netra_ops.cloud import pinned_image
from netra_ops.config import Environment
from netra_ops.deploy import (
    KNOWN_BAD,
    KNOWN_GOOD,
    RevisionInfo,
    ServiceState,
    audit_trail,
    choose_rollback_target,
    deploy,
    mark_revision,
    read_service,
    rollback,
    rollback_target,
    set_traffic,
    validate_rollback,
    verify,
)
from netra_ops.errors import (
    ApiUnreachableError,
    ChangesNotAllowedError,
    DeployError,
    NoRollbackTargetError,
    QueryError,
    ServiceNotFoundError,
)
from netra_ops.metrics.logs import log_entries, request_log_filter
from netra_ops.probe import golden_path, health

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


def image(env: Environment, tag: str) -> str:
    assert env.sandbox is not None
    return env.sandbox.initial_image.rsplit(":", 1)[0] + ":" + tag


@pytest.fixture(scope="module")
def env(module_sandbox_env: Environment) -> Environment:
    return module_sandbox_env


def serving_pid(env: Environment) -> int | None:
    state = sandbox.status(env)
    serving = read_service(env).serving_revision
    return next((r.get("pid") for r in state.revisions if r.get("name") == serving), None)


def test_dry_run_changes_nothing(env: Environment) -> None:
    before = read_service(env)
    result = deploy(env, image(env, "main"))
    assert result.status == "planned" and not result.executed
    assert any("image:" in step for step in result.plan)
    after = read_service(env)
    assert after == before
    assert audit_trail()[-1].outcome == "planned"


def test_deploy_of_what_serves_is_unchanged_once_it_serves_by_digest(env: Environment) -> None:
    assert env.sandbox is not None
    first = deploy(env, env.sandbox.initial_image, execute=True)  # the tag, now by digest
    assert first.status == "done" and first.image == pinned_image(env, env.sandbox.initial_image)
    result = deploy(env, env.sandbox.initial_image, execute=True)
    assert result.status == "unchanged" and result.plan == ()


def test_deploy_stale_then_fixed_starts_new_processes(env: Environment) -> None:
    old_pid = serving_pid(env)
    stale = deploy(env, image(env, "main"), execute=True, deadline_s=60)
    assert stale.status == "done", stale.error
    assert stale.new_revision and stale.after is not None
    assert stale.after.serving == {stale.new_revision: 100}
    new_pid = serving_pid(env)
    assert new_pid is not None and new_pid != old_pid and psutil.pid_exists(new_pid)
    assert not golden_path(env).ok
    fixed = deploy(env, image(env, "develop-long-lived"), execute=True, deadline_s=60)
    assert fixed.status == "done", fixed.error
    checks = verify(env, expected_image=image(env, "develop-long-lived"))
    assert checks.ok, checks.to_frame()
    assert golden_path(env).ok
    entry = audit_trail()[-1]
    assert entry.executed and entry.before["serving_images"] != entry.after["serving_images"]


def test_crash_on_start_fails_before_its_deadline_with_traffic_unchanged(
        env: Environment) -> None:
    before = read_service(env)
    started = time.monotonic()
    result = deploy(env, image(env, "crash-on-start"), execute=True, deadline_s=60)
    assert time.monotonic() - started < 60
    assert result.status == "failed" and result.error
    assert result.after is not None and result.after.serving == before.serving
    assert health(env.backend.url).ok


def test_rollback_puts_the_old_revision_back_within_seconds(env: Environment) -> None:
    good = read_service(env).serving_revision
    deploy(env, image(env, "main"), execute=True, deadline_s=60)
    assert read_service(env).serving_revision != good
    since = datetime.now(UTC)
    started = time.monotonic()
    result = rollback(env, execute=True)
    assert result.status == "done", result.error
    validation = validate_rollback(env, revision=good, within_s=10, since=since, quiet_s=1,
                                   poll_s=0.5)
    elapsed = time.monotonic() - started
    assert validation.ok, validation.to_frame()
    assert elapsed < 10
    state = read_service(env)
    assert state.serving == {good: 100}
    assert state.template_image == pinned_image(env, image(env, "main"))
    assert state.serving_image == pinned_image(env, image(env, "develop-long-lived"))
    assert golden_path(env).ok
    names = [c.name for c in validation.checks]
    assert names == ["health 200 within 10 s", "authentication works",
                     "service dependencies reachable", "no 5xx in request logs for 1 s"]


def test_known_good_and_bad_marks_live_on_the_service_and_steer_rollbacks(
        env: Environment) -> None:
    fix = read_service(env).serving_revision
    assert fix is not None
    planned = mark_revision(env, fix, "good")
    assert planned.status == "planned" and KNOWN_GOOD not in read_service(env).annotations
    marked = mark_revision(env, fix, "good", execute=True)
    assert marked.status == "done", marked.error
    state = read_service(env)
    assert state.known_good == (fix,) and state.annotations[KNOWN_GOOD] == fix
    assert state.latest_created == marked.before.latest_created  # no revision for a mark
    assert mark_revision(env, fix, "good", execute=True).status == "unchanged"
    for attempt in ("1", "2"):  # two bad deploys, each rolled back: both land on the fix
        bad = deploy(env, image(env, "main"), env_vars={"ATTEMPT": attempt}, execute=True,
                     deadline_s=60).new_revision
        assert bad is not None and read_service(env).serving_revision == bad
        choice = choose_rollback_target(read_service(env))
        assert (choice.revision, choice.known_good) == (fix, True)
        assert rollback(env, execute=True).status == "done"
        assert mark_revision(env, bad, "bad", execute=True).status == "done"
        assert read_service(env).serving == {fix: 100}
    state = read_service(env)
    assert len(state.known_bad) == 2 and state.known_good == (fix,)
    assert state.known(state.known_bad[0]) == "bad" and state.known(fix) == "good"
    with pytest.raises(NoRollbackTargetError, match="recorded as known bad"):
        rollback(env, to_revision=state.known_bad[0])
    assert read_service(env).serving == {fix: 100}


def test_pinned_traffic_survives_a_deploy_until_sent_to_latest(env: Environment) -> None:
    pinned = read_service(env).serving_revision
    assert pinned is not None
    sandbox.push(env, "develop-long-lived-2")  # a build under that tag: deployed by digest
    result = deploy(env, image(env, "develop-long-lived-2"), execute=True, send_traffic=False,
                    deadline_s=60)
    assert result.status == "done" and result.after is not None
    assert result.after.serving == {pinned: 100}
    again = deploy(env, image(env, "develop-long-lived-2"), execute=True, deadline_s=60)
    assert again.status == "done" and again.after is not None
    assert again.after.serving_image == pinned_image(env, image(env, "develop-long-lived-2"))
    assert again.new_revision is None  # the template's revision (created above) takes it
    assert again.plan == (f"traffic: {pinned} 100% -> {result.new_revision} 100% (the "
                          "template's revision)",)


def test_traffic_split_and_its_errors(env: Environment) -> None:
    state = read_service(env)
    ready = [r.name for r in state.revisions if r.ready][:2]
    result = set_traffic(env, {ready[0]: 50, ready[1]: 50}, execute=True)
    assert result.status == "done" and result.after is not None
    assert result.after.serving == {ready[0]: 50, ready[1]: 50}
    with pytest.raises(DeployError, match="sum to 100"):
        set_traffic(env, {ready[0]: 50})
    with pytest.raises(ServiceNotFoundError, match="no revision 'nope'"):
        set_traffic(env, {"nope": 100})
    set_traffic(env, {ready[0]: 100}, execute=True)


def test_request_logs_show_injected_5xx(env: Environment) -> None:
    since = datetime.now(UTC)
    sandbox.apply_scenario(env, "http-errors")
    statuses = [health(env.backend.url).status_code for _ in range(40)]
    assert 500 in statuses
    deadline = time.monotonic() + 5
    while True:
        logged = log_entries(env, request_log_filter(env, since, "httpRequest.status>=500"))
        if len(logged) >= statuses.count(500) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(logged) == statuses.count(500)
    assert set(logged["status"]) == {500}
    sandbox.apply_scenario(env, "fixed")


def test_unsupported_logging_filter_is_a_clear_error(env: Environment) -> None:
    with pytest.raises(QueryError, match="refused the filter"):
        log_entries(env, 'textPayload=~"session_id.*"')


def test_not_allow_listed_and_unknown_service_and_no_target(env: Environment) -> None:
    locked = env.model_copy(update={"allow_changes": False})
    with pytest.raises(ChangesNotAllowedError, match="allow_changes = true"):
        deploy(locked, image(env, "main"), execute=True)
    assert deploy(locked, image(env, "main")).status == "planned"
    services = dict(env.services)
    services["backend"] = services["backend"].model_copy(update={"name": "no-such-service"})
    with pytest.raises(ServiceNotFoundError, match="no-such-service"):
        read_service(env.model_copy(update={"services": services}))
    with pytest.raises(ServiceNotFoundError, match="has no revision 'nope'"):
        rollback(env, to_revision="nope")
    only = RevisionInfo("r1", "img", True, 100, None)
    single = ServiceState(name="s", uri="", template_image="img", template_env={},
                          template_limits={}, traffic_latest=True, latest_ready="r1",
                          latest_created="r1", revisions=(only,))
    with pytest.raises(NoRollbackTargetError, match="no revision of s to roll back to"):
        rollback_target(single)


def test_deadline_exceeded_keeps_traffic_where_it_was(env: Environment) -> None:
    before = read_service(env)
    result = deploy(env, image(env, "develop-long-lived-late"), execute=True, deadline_s=0.3)
    assert result.status == "deadline_exceeded"
    assert result.error is not None and "deadline of 0.3 s" in result.error
    time.sleep(3)
    assert read_service(env).serving == before.serving
    assert health(env.backend.url).ok


def test_api_unreachable_says_how_to_start_the_sandbox(
        make_sandbox_env: Callable[[], Environment]) -> None:
    stopped = make_sandbox_env()
    with pytest.raises(ApiUnreachableError, match="netra-ops sandbox up"):
        read_service(stopped)


def state_of(*revisions: tuple[str, bool, int], good: str = "", bad: str = "") -> ServiceState:
    infos = tuple(RevisionInfo(name, f"img:{name}", ready, percent, None)
                  for name, ready, percent in revisions)
    annotations = {k: v for k, v in ((KNOWN_GOOD, good), (KNOWN_BAD, bad)) if v}
    return ServiceState(name="s", uri="", template_image="img", template_env={},
                        template_limits={}, traffic_latest=False, latest_ready=infos[0].name,
                        latest_created=infos[0].name, revisions=infos, annotations=annotations)


def test_the_rollback_target_is_the_newest_known_good_never_a_known_bad_one() -> None:
    # newest first: r4 serves (bad build), r3 known bad, r2 Ready, r1 known good
    state = state_of(("r4", True, 100), ("r3", True, 0), ("r2", True, 0), ("r1", True, 0),
                     good="r1", bad="r3")
    chosen = choose_rollback_target(state)
    assert (chosen.revision, chosen.known_good) == ("r1", True)
    assert "newest known good" in chosen.reason
    fallback = choose_rollback_target(state_of(("r4", True, 100), ("r3", True, 0),
                                               ("r2", True, 0), bad="r3"))
    assert (fallback.revision, fallback.known_good) == ("r2", False)
    assert fallback.reason.startswith("no known good revision to roll back to")
    # a deploy that never became Ready: the serving (older) revision is the target
    unready = state_of(("r2", False, 0), ("r1", True, 100))
    assert choose_rollback_target(unready, avoid=["r2"]).revision == "r1"
    with pytest.raises(NoRollbackTargetError, match=r"neither known bad \(r1\)"):
        choose_rollback_target(state_of(("r2", True, 100), ("r1", True, 0), good="r1",
                                        bad="r1"))
