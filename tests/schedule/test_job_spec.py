"""The schedule as Cloud Run and Cloud Scheduler jobs, without calling anything: the plan
(`job_spec`), the webhook kept out of the spec, the CLI's dry run and refusals, and the
triggered run (`Scheduler.run_due`) on a fake clock."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from google.cloud import run_v2, scheduler_v1
from schedule_fakes import START, FakeClock, ScriptedRunner
from typer.testing import CliRunner

from netra_ops import cli_schedule
from netra_ops.config import load_environment
from netra_ops.errors import ParameterError
from netra_ops.schedule import (
    DEFAULT_CADENCE,
    DEFAULT_RUNBOOKS,
    RECORDS_ENV,
    JobsPlan,
    Schedule,
    Scheduler,
    job_id_for,
    parse_cadence,
    plan_jobs,
    plan_validations,
    webhook_secret,
)
from netra_ops.schedule.job_spec import IMAGE_OUTPUTS, PHASE_ENV

TOKEN = "T0KEN-jobs-0f9e8d7c"
M = timedelta(minutes=1)
H = timedelta(hours=1)


def plan_for(env_name: str = "staging", *, cadence: str = DEFAULT_CADENCE,
             webhook: str | None = "env:NETRA_HOOK", outputs: Path | str | None = None
             ) -> JobsPlan:
    env = load_environment(env_name)
    schedule = Schedule(incident="INC-358", environment=env_name,
                        validations=plan_validations(DEFAULT_RUNBOOKS, {"runs": 3}),
                        cadence=parse_cadence(cadence), start=START + timedelta(seconds=27),
                        outputs_dir=outputs)
    return plan_jobs(env, schedule, image="us-docker.pkg.dev/p/netra/netra-ops:1",
                     service_account="jobs@p.iam.gserviceaccount.com",
                     webhook=webhook_secret(webhook), now=START)


def test_job_ids_are_cloud_runs_and_keep_incidents_apart() -> None:
    ids = [job_id_for(i) for i in ("INC-358", "INC_358", "inc-358", "A" * 64, "x.y")]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", i) for i in ids), ids
    assert ids[0].startswith("netra-validate-inc-358-")


def test_a_trigger_per_cron_line_of_each_phase_in_utc_calling_jobs_run() -> None:
    plan = plan_for()
    assert plan.start == START  # whole minutes: cron fires at :00
    assert [(j.name.rsplit(plan.job_id, 1)[1], j.schedule) for j in plan.schedules] == [
        ("-p1", "10,40 14-17 11 1 *"), ("-p2-1", "10 18-22/2 11 1 *"),
        ("-p2-2", "10 0-12/2 12 1 *"), ("-p3", "10 14 * * *")]
    assert all(j.name.startswith(f"{plan.parent}/jobs/") for j in plan.schedules)
    for job, phase in zip(plan.schedules, (1, 2, 2, 3), strict=True):
        target = job.http_target
        assert job.time_zone == "Etc/UTC" and job.retry_config.retry_count == 0
        assert target.uri == ("https://run.googleapis.com/v2/projects/netra-staging/"
                              f"locations/us-central1/jobs/{plan.job_id}:run")
        assert target.http_method == scheduler_v1.HttpMethod.POST
        assert target.oauth_token.service_account_email == "jobs@p.iam.gserviceaccount.com"
        [override] = json.loads(target.body)["overrides"]["containerOverrides"]
        assert override["env"] == [{"name": PHASE_ENV, "value": str(phase)}]
    assert "until 2025-01-12T14:10:00+00:00" in plan.schedules[2].description


def test_the_job_runs_one_triggered_validation_with_the_webhook_from_secret_manager(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRA_HOOK", f"https://hooks.example.com/x?token={TOKEN}")
    plan = plan_for()
    task = plan.job.template.template
    [container] = task.containers
    args = list(container.args)
    assert args[:3] == ["schedule", "--incident", "INC-358"] and args[-1] == "--due-now"
    assert args[args.index("--env") + 1] == "staging"
    assert args[args.index("--start") + 1] == START.isoformat()
    assert args[args.index("--cadence") + 1] == DEFAULT_CADENCE
    assert args[args.index("--webhook") + 1] == "env:NETRA_HOOK"
    assert "04_golden_path_validation.runs=3" in args and "07_monitoring.runs=3" not in args
    env = {v.name: v for v in container.env}
    assert env[RECORDS_ENV].value == IMAGE_OUTPUTS
    assert env["NETRA_HOOK"].value == ""
    assert env["NETRA_HOOK"].value_source.secret_key_ref.secret == "NETRA_HOOK"
    assert env["NETRA_HOOK"].value_source.secret_key_ref.version == "latest"
    assert task.max_retries == 0 and task.timeout.seconds == 1800
    assert plan.job.template.task_count == 1
    spec = run_v2.Job.to_json(plan.job) + "".join(scheduler_v1.Job.to_json(j)
                                                 for j in plan.schedules)
    assert TOKEN not in spec and "hooks.example.com" not in spec
    assert any("only as long as the task" in n for n in plan.notes)


def test_on_the_sandbox_the_records_location_is_this_machines(tmp_path: Path) -> None:
    plan = plan_for("sandbox", webhook=None, outputs=tmp_path)
    [container] = plan.job.template.template.containers
    assert {v.name: v.value for v in container.env} == {RECORDS_ENV: str(tmp_path)}
    assert plan.records == str(tmp_path)
    assert "--webhook" not in container.args
    assert any("only logged" in n for n in plan.notes)


@pytest.mark.parametrize("env_name", ["staging", "sandbox"])
def test_a_bucket_records_location_goes_to_the_job_as_it_is(env_name: str) -> None:
    plan = plan_for(env_name, webhook=None, outputs="gs://netra-incident-records/staging")
    [container] = plan.job.template.template.containers
    assert {v.name: v.value for v in container.env} == {
        RECORDS_ENV: "gs://netra-incident-records/staging"}
    assert not any("only as long as the task" in n for n in plan.notes)


@pytest.mark.parametrize("webhook", ["https://hooks.example.com/x?token=T",
                                     "file:/run/secrets/hook", "env:", "env:1BAD"])
def test_a_webhook_that_would_land_in_the_spec_is_refused(webhook: str) -> None:
    with pytest.raises(ParameterError, match="--webhook env:NAME"):
        webhook_secret(webhook)


def test_a_webhook_secret_names_its_secret_and_version() -> None:
    assert webhook_secret("env:HOOK", "chat-hook:3") == webhook_secret("env:HOOK",
                                                                       "chat-hook:3")
    found = webhook_secret("env:HOOK", "chat-hook:3")
    assert found is not None and (found.env_name, found.secret, found.version) == (
        "HOOK", "chat-hook", "3")
    with pytest.raises(ParameterError, match="Secret Manager secret id"):
        webhook_secret("env:HOOK", "bad/secret")
    with pytest.raises(ParameterError, match="give --webhook env:NAME"):
        webhook_secret(None, "chat-hook")


def invoke(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(cli_schedule.schedule)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_plans_without_execute_and_refuses_a_read_only_project(tmp_path: Path) -> None:
    common = ["-i", "INC-358", "--env", "staging", "--outputs", str(tmp_path),
              "--start", "2025-01-11T14:10:00+00:00", "--webhook", "env:NETRA_HOOK"]
    code, out, err = invoke(*common, "--deploy-jobs")
    assert code == 0, err
    assert "Cloud Scheduler job" in out and "10,40 14-17 11 1 * (Etc/UTC)" in out
    assert "plan: create Cloud Run job netra-validate-inc-358-" in out
    assert "dry run: nothing changed" in out
    code, out, err = invoke(*common, "--deploy-jobs", "--execute")
    assert code == 2 and "not allow-listed for changes" in err
    code, _, err = invoke(*common, "--remove-jobs", "--execute")
    assert code == 2 and "not allow-listed for changes" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, message", [
    (["--deploy-jobs", "--remove-jobs"], "give one of them"),
    (["--print-cron", "--due-now"], "give one of them"),
    (["--execute"], "--execute goes with --deploy-jobs or --remove-jobs"),
    (["--deploy-jobs", "--webhook", "https://hooks.example.com/x"], "--webhook env:NAME"),
])
def test_conflicting_or_unsafe_options_exit_2(flags: list[str], message: str,
                                              tmp_path: Path) -> None:
    code, _, err = invoke("-i", "INC-1", "--env", "staging", "--outputs", str(tmp_path),
                          *flags)
    assert code == 2 and message in err, err


def scheduler(tmp_path: Path, clock: FakeClock, runner: ScriptedRunner) -> Scheduler:
    plan = Schedule(incident="INC-42", environment="sandbox",
                    validations=plan_validations(DEFAULT_RUNBOOKS),
                    cadence=parse_cadence(DEFAULT_CADENCE), start=START, outputs_dir=tmp_path)
    return Scheduler(plan, clock=clock, runner=runner)


def test_a_trigger_runs_the_due_time_it_stands_for_and_nothing_else(tmp_path: Path) -> None:
    clock = FakeClock(START - 30 * M)
    runner = ScriptedRunner(clock, tmp_path, "INC-42", duration=M)
    assert scheduler(tmp_path, clock, runner).run_due(phase=1).slots == ()  # too early
    clock.time = START - 20 * timedelta(seconds=1)  # the trigger's clock runs ahead
    first = scheduler(tmp_path, clock, runner).run_due(phase=1)
    assert [(s.due, s.status) for s in first.slots] == [(START, "passed")]
    assert runner.calls[0][1] == START and first.exit_code == 0
    clock.time = START + 5 * M  # the open-ended phase's line fires on the first day too
    assert scheduler(tmp_path, clock, runner).run_due(phase=3).slots == ()
    assert scheduler(tmp_path, clock, runner).run_due(phase=1).slots == ()  # already run
    clock.time = START + 90 * M + 3 * timedelta(seconds=1)  # two triggers were lost
    caught = scheduler(tmp_path, clock, runner).run_due(phase=1)
    assert [(s.due - START, s.status) for s in caught.slots] == [
        (30 * M, "missed"), (60 * M, "missed"), (90 * M, "passed")]
    clock.time = START + 30 * H  # a dated line of phase 1 a year later: not its phase
    assert scheduler(tmp_path, clock, runner).run_due(phase=1).slots == ()
    assert len(runner.calls) == 2 * len(DEFAULT_RUNBOOKS)
