"""A playbook's checkpoints on fixture notebooks, through the command line: `--webhook`
posts the start, each phase's start and outcome, the escalations and the outcome to a
receiver on loopback, each naming the incident; a resumed run (`--from`) sends only what is
new; the sent-log and the index's standing are in the record. Optional steps (`--with`).

The same on the real playbook and sandbox: tests/test_playbook_scenarios.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webhook_receiver import Receiver, receiving

from netra_ops.errors import ParameterError
from netra_ops.notify import SentLog
from netra_ops.playbook import run_playbook
from netra_ops.playbook.checkpoints import MANIFEST_FIELD

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "tests" / "record" / "notebooks"
TOKEN = "hook-T0KEN-71c2d3e4"
LEAKED = ("c2lnbmF0dXJl" * 3, "correct-horse-battery-staple")  # secret_leaking.ipynb prints

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixture playbook with an optional step that prints secrets and breaks, and an env."""
    here = tmp_path_factory.mktemp("notify")
    shutil.copy(ROOT / "environments" / "sandbox.toml", here / "sandbox.toml")
    (here / "fixture.toml").write_text(f"""
name = "notify-fixture"
[[steps]]
runbook = "{NOTEBOOKS / 'ok.ipynb'}"
[[steps]]
runbook = "{NOTEBOOKS / 'secret_leaking.ipynb'}"
optional = true
[[steps]]
runbook = "{NOTEBOOKS / 'decides.ipynb'}"
on_rollback = "rollback"
[[branches.rollback]]
runbook = "{NOTEBOOKS / 'verdict_failing.ipynb'}"
[finally]
runbook = "{NOTEBOOKS / 'reads_earlier.ipynb'}"
""")
    return here


def play(folder: Path, receiver: Receiver, *args: str
         ) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run the fixture playbook into INC-N with the webhook; the process and what the
    receiver got during the run."""
    before = len(receiver.received)
    done = subprocess.run(
        [sys.executable, "-m", "netra_ops", "run", str(folder / "fixture.toml"), "--incident",
         "INC-N", "--env", str(folder / "sandbox.toml"), "--outputs", str(folder / "out"),
         "--webhook", "env:NOTIFY_HOOK", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=500, stdin=subprocess.DEVNULL,
        env={**os.environ, "NOTIFY_HOOK": f"{receiver.url}/hooks/{TOKEN}"})
    return done, [r.body for r in receiver.received[before:]]


def events(bodies: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(b["netra_ops"]["event"], b["netra_ops"]["phase"], b["netra_ops"]["verdict"])
            for b in bodies]


def test_bad_options_are_refused_before_anything_runs(folder: Path, receiver: Receiver) -> None:
    options = {"environment": str(folder / "sandbox.toml"), "incident": "INC-N",
               "outputs_dir": folder / "out"}
    with pytest.raises(ParameterError, match=r"--with '07' is not an optional step of "
                                             r"playbook notify-fixture \(optional: "
                                             r"secret_leaking\)"):
        run_playbook(folder / "fixture.toml", with_steps=["07"], **options)
    with pytest.raises(ParameterError, match="it is optional: add --with secret_leaking"):
        run_playbook(folder / "fixture.toml", start_from="secret_leaking", **options)
    done, got = play(folder, receiver, "--webhook-format", "teams")
    assert done.returncode == 2 and "use one of auto, slack, google-chat, json" in done.stderr
    assert got == []
    runbook = subprocess.run([sys.executable, "-m", "netra_ops", "run", "00_incident_summary",
                              "-i", "X", "--webhook", "http://127.0.0.1:9/x"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert runbook.returncode == 2 and "--webhook are for playbooks" in runbook.stderr
    assert not (folder / "out").exists()


def test_each_checkpoint_is_posted_once_and_a_resumed_run_sends_only_news(
        folder: Path, receiver: Receiver) -> None:
    done, first = play(folder, receiver, "--with", "secret_leaking")
    assert "outcome: FAILED" in done.stdout, done.stdout + done.stderr
    assert events(first) == [
        ("playbook.started", "", ""),
        ("phase.started", "ok", "running"), ("phase.outcome", "ok", "passed"),
        ("phase.started", "secret_leaking", "running"),
        ("phase.outcome", "secret_leaking", "error"),
        ("escalation", "secret_leaking", "error"),
        ("phase.started", "reads_earlier", "running"),
        ("phase.outcome", "reads_earlier", "passed"),
        ("playbook.outcome", "", "FAILED")]
    concern = first[5]["netra_ops"]
    assert concern["fields"]["Trigger"] == "Any security or data integrity concerns"
    assert concern["severity"] == "critical"

    done, resumed = play(folder, receiver, "--from", "decides")
    assert "outcome: REMEDIATED" in done.stdout, done.stdout + done.stderr
    assert events(resumed) == [  # reads_earlier's start and same outcome: sent before
        ("playbook.resumed", "decides", ""),
        ("phase.started", "decides", "running"), ("phase.outcome", "decides", "passed"),
        ("playbook.outcome", "", "REMEDIATED")]

    bodies = first + resumed
    keys = [b["netra_ops"]["key"] for b in bodies]
    assert len(set(keys)) == len(keys)
    assert {b["netra_ops"]["run_id"] for b in bodies} == {first[0]["netra_ops"]["run_id"]}
    for body in bodies:
        assert body["netra_ops"]["incident"] == "INC-N" and "INC-N" in body["text"]
        assert {"Incident", "Phase", "Verdict", "Record"} <= {
            f["text"].split("\n")[0].strip("*") for f in body["blocks"][2]["fields"]}
        assert body["netra_ops"]["record"].startswith(str(folder / "out" / "INC-N"))
    outcome = first[4]["netra_ops"]
    assert outcome["record"].endswith("secret_leaking.html") and "decided fail" in \
        outcome["text"]

    incident = folder / "out" / "INC-N"
    logged = SentLog(incident).entries()
    assert [e["key"] for e in logged] == keys and all(e["delivered"] for e in logged)
    everything = json.dumps(bodies) + (incident / "notifications.jsonl").read_text()
    for secret in (*LEAKED, TOKEN):
        assert secret not in everything
    assert TOKEN not in done.stdout + done.stderr
    standing = json.loads((incident / "index.json").read_text())["standing"]
    assert standing["progress"]["text"].startswith("playbook notify-fixture REMEDIATED")
    assert "Where it stands" in (incident / "index.html").read_text()
    # each phase outcome carries its run's manifest digest: the receiver's copy, outside the
    # record, that `records verify --expect` holds the record to (issue 20)
    sealed = [b["netra_ops"]["fields"][MANIFEST_FIELD] for b in bodies
              if b["netra_ops"]["event"] == "phase.outcome"]
    assert len(sealed) == 4 and all(len(digest) == 64 for digest in sealed)
    listed = [n for run in json.loads((incident / "index.json").read_text())["playbook_runs"]
              for n in run.get("notifications", []) if n.get("manifest_sha256")]
    assert {n["manifest_sha256"] for n in listed} == set(sealed)
    expect = [arg for digest in sealed for arg in ("--expect", digest)]
    verified = subprocess.run([sys.executable, "-m", "netra_ops", "records", "verify", "INC-N",
                               "--outputs", str(folder / "out"), *expect], capture_output=True,
                              text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout
