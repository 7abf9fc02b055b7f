"""The incident index an auditor opens first, on records built with the record API (no
kernel): each playbook run apart with its outcome, scenario, rehearsal or real, a timeline
with the rollback branch marked, figures written for people, relative links that resolve,
failing cells cut at a word, and the notifications sent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from netra_ops.record import verify_incident, write_index
from netra_ops.record.archive import write_summary
from netra_ops.record.incident import record_playbook_run
from netra_ops.record.index_page import figure_text, shorten
from netra_ops.record.manifest import write_run_manifest

T0 = datetime(2026, 12, 7, 9, 0, 0, tzinfo=UTC)
LONG_ERROR = ("the backend revision netra-backend-00007 answered 503 to 41 of 80 health "
              "checks while starting; the deploy's verification gave up after 120 seconds "
              "and recorded a rollback decision for the playbook to take")
NOTIFIED = [{"sent_at": "2026-12-07T09:10:00+00:00", "channel": "webhook:oncall",
             "event": "playbook.outcome", "status": "delivered", "manifest_sha256": "ab" * 32,
             "http_status": 204}]


def fabricate(incident: Path, minute: float, runbook: str, status: str = "passed", *,
              duration_s: float = 20.0, records: dict[str, Any] | None = None,
              playbook: dict[str, Any] | None = None, **extra: Any) -> str:
    """One run's folder as the runner leaves it: notebook, HTML, run.log, summary.json and
    its manifest."""
    started = T0 + timedelta(minutes=minute)
    folder = incident / f"{started:%Y%m%dT%H%M%SZ}-{runbook}"
    folder.mkdir(parents=True)
    (folder / f"{runbook}.ipynb").write_text("{}\n")
    (folder / f"{runbook}.html").write_text(f"<html><body>{runbook}</body></html>\n")
    (folder / "run.log").write_text(f"{started.isoformat()} INFO netra_ops.record: ran\n")
    write_summary({"runbook": runbook, "notebook": f"{runbook}.ipynb",
                   "html": f"{runbook}.html", "status": status,
                   "exit_code": 0 if status == "passed" else 1,
                   "started_at": started.isoformat(timespec="milliseconds"),
                   "duration_s": duration_s, "records": records or {},
                   **({"playbook": playbook} if playbook else {}), **extra},
                  folder / "summary.json")
    write_run_manifest(folder)
    return folder.name


def step(run: str, branch: str | None = None, kind: str = "main") -> dict[str, Any]:
    return {"run": run, "playbook": "golden_path_remediation", "scenario": "bad-deploy",
            "rehearsal": True, "execute": True, "branch": branch, "step": kind}


def outcome(run: str, status: str, minute: float, **facts: Any) -> dict[str, Any]:
    return {"id": run, "playbook": "golden_path_remediation", "scenario": "bad-deploy",
            "environment": "sandbox", "rehearsal": True, "execute": True,
            "started_at": (T0 + timedelta(minutes=minute)).isoformat(), "status": status,
            "outcome": status.replace("_", " ").upper(), **facts}


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run by hand, a rolled-back playbook run, then a remediated one that notified."""
    folder = tmp_path_factory.mktemp("outputs") / "INC-audit"
    fabricate(folder, 0, "04_golden_path_validation", records={"pass_rate": 0.8})
    first, second = "20261207T090500Z-golden_path_remediation", \
        "20261207T092000Z-golden_path_remediation"
    fabricate(folder, 5, "01_preflight", records={"gates_passed": True}, playbook=step(first))
    fabricate(folder, 6, "02_deploy", "failed", duration_s=140.0, playbook=step(first),
              records={"deploy_status": "done", "deploy_duration_s": 131.25,
                       "decision": "rollback", "decision.reason": "verification failed",
                       "verdict.failed": ["new revision healthy"]},
              failing_cell={"index": 9, "ename": "VerdictFailed", "evalue": LONG_ERROR})
    fabricate(folder, 9, "06_rollback", playbook=step(first, "rollback", "branch"),
              records={"rollback_status": "done", "golden_path_ok": True,
                       "rollback_to_serving_s": 21.10433440004726})
    fabricate(folder, 11, "00_incident_summary", playbook=step(first, kind="finally"),
              records={"criteria_passed": 3})
    record_playbook_run(folder, outcome(first, "rolled_back", 5, branch_taken="rollback",
                                        reason="02_deploy decided rollback"))
    fabricate(folder, 20, "02_deploy", playbook=step(second), notifications=NOTIFIED,
              records={"deploy_status": "done"})
    fabricate(folder, 23, "07_monitoring", playbook=step(second), duration_s=600.0,
              records={"http_error_rate": 0.0042, "memory_mean_bytes": 53026020.0,
                       "response_time_p95_ms": 1234.5678, "health_ok_rate": 1.0})
    record_playbook_run(folder, outcome(second, "remediated", 20, reason="every step "
                                        "continued", notifications=[
                                            {"sent_at": "2026-12-07T09:40:00+00:00",
                                             "channel": "webhook:stakeholders",
                                             "event": "incident.update", "status": "failed",
                                             "error": "HTTP 500 from the receiver"}]))
    return folder


class _Page(HTMLParser):
    """The page's links, text, and the timeline bars' attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.bars: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag == "g" and found.get("class") == "bar":
            self.bars.append(found)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def page(incident: Path) -> _Page:
    parsed = _Page()
    parsed.feed((incident / "index.html").read_text())
    return parsed


def test_each_playbook_run_is_kept_apart_with_its_outcome(incident: Path) -> None:
    index = json.loads((incident / "index.json").read_text())
    groups = [(g["id"] and g["outcome"], g["scenario"] if g["id"] else None,
               [r.split("-", 1)[1] for r in g["runs"]]) for g in index["playbook_runs"]]
    assert groups == [
        (None, None, ["04_golden_path_validation"]),
        ("ROLLED BACK", "bad-deploy", ["01_preflight", "02_deploy", "06_rollback",
                                       "00_incident_summary"]),
        ("REMEDIATED", "bad-deploy", ["02_deploy", "07_monitoring"])]
    assert index["playbook_runs"][1]["branch_taken"] == "rollback"
    assert all(len(run["manifest_sha256"]) == 64 for run in index["runs"])
    assert verify_incident(incident).ok


def test_the_page_says_outcome_scenario_and_rehearsal_and_marks_the_branch(
        incident: Path) -> None:
    html = (incident / "index.html").read_text()
    text = " ".join(" ".join(page(incident).text).split())
    assert "Latest playbook run: REMEDIATED REHEARSAL (sandbox)" in text
    assert "Playbook run 1: golden_path_remediation · ROLLED BACK" in text
    assert "branch taken: rollback" in text and "Why: 02_deploy decided rollback" in text
    bars = page(incident).bars
    assert [(b["data-runbook"], b["data-status"], b["data-branch"]) for b in bars[1:5]] == [
        ("01_preflight", "passed", ""), ("02_deploy", "failed", ""),
        ("06_rollback", "passed", "rollback"), ("00_incident_summary", "passed", "")]
    assert html.count("class='branch-start'") == 1 and "rollback branch: rollback" in text
    assert html.count("<svg class='timeline'") == 3  # one chart per group
    assert "<script" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")


def test_figures_are_written_for_people(incident: Path) -> None:
    text = " ".join(page(incident).text)
    for shown in ("memory_mean_bytes: 50.6 MiB", "http_error_rate: 0.42 %",
                  "response_time_p95_ms: 1.23 s", "rollback_to_serving_s: 21.1 s",
                  "deploy_duration_s: 2 min 11 s", "golden_path_ok: yes",
                  "FAILED: new revision healthy", "10 min 00 s"):
        assert shown in text, shown
    assert "21.10433440004726" not in text and "e+07" not in text
    assert figure_text("x", float("nan")) == "—"
    assert figure_text("served", [1, 2500]) == "1, 2500"


def test_a_failing_cell_is_cut_at_a_word_with_the_whole_text_kept(incident: Path) -> None:
    html = unescape((incident / "index.html").read_text())
    summary = re.search(r"cell 9: <details><summary>(VerdictFailed: [^<]*)</summary>", html)
    assert summary, html
    short = summary.group(1)
    assert short.endswith("…") and len(short) <= 160
    assert f"VerdictFailed: {LONG_ERROR}".startswith(short[:-1])
    assert f"VerdictFailed: {LONG_ERROR}"[len(short) - 1] == " ", "cut inside a word"
    assert LONG_ERROR in html
    assert shorten("word " * 3 + "x" * 50, 20) == "word word word…"


def test_every_link_is_relative_and_opens_a_file_of_the_record(incident: Path) -> None:
    links = [link for link in page(incident).links if not link.startswith("#")]
    assert len(links) == 7 * 4
    for link in links:
        assert not link.startswith(("/", "file:", "http")), link
        assert (incident / link).is_file(), link


def test_the_notifications_sent_are_listed_with_their_playbook_run(incident: Path) -> None:
    html = (incident / "index.html").read_text()
    first, second = html.split("<h2 id='run-")[1:]
    assert "Notifications sent" not in first
    assert "Notifications sent (2)" in second
    rows = re.findall(r"<table class='notifications'>(.*?)</table>", second)[0]
    assert rows.index("webhook:oncall") < rows.index("webhook:stakeholders")
    for shown in ("delivered", "ab" * 32, "204", "HTTP 500 from the receiver",
                  "incident.update"):
        assert shown in rows, shown


def test_a_playbook_runs_file_rewritten_keeps_the_notifications_it_listed(
        tmp_path: Path) -> None:
    folder = tmp_path / "INC-again"
    run = "20261207T090500Z-golden_path_remediation"
    fabricate(folder, 5, "01_preflight", playbook=step(run))
    record_playbook_run(folder, outcome(run, "in_progress", 5, notifications=NOTIFIED))
    index = record_playbook_run(folder, outcome(run, "remediated", 5))
    assert index["playbook_runs"][0]["notifications"] == NOTIFIED
    assert index["playbook_runs"][0]["outcome"] == "REMEDIATED"


def test_an_index_without_playbook_runs_still_renders(tmp_path: Path) -> None:
    fabricate(tmp_path / "INC-one", 0, "01_preflight", records={"gates_passed": False})
    index = write_index(tmp_path / "INC-one")
    assert [g["id"] for g in index["playbook_runs"]] == [None]
    assert "No playbook run; runbooks run one by one" in (tmp_path / "INC-one" /
                                                           "index.html").read_text()
