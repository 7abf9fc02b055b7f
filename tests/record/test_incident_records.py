"""An incident as a whole: index, earlier values across runs, manifest and `records verify`.

`records verify` is tested against one byte changed in each kind of file of a record and
against rewritten manifests, each case on a copy of the one incident this module writes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netra_ops.errors import RecordError
from netra_ops.record import (
    earlier_value,
    incident_dir,
    incident_runs,
    list_incidents,
    run_notebook,
    verify_incident,
    write_index,
    write_manifest,
)
from netra_ops.record.manifest import manifest_digest, write_run_manifest

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvbmNhbGwifQ.c2lnbmF0dXJlLW9mLWEtdG9rZW4"


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of one incident: `ok` records values, `reads_earlier` reads one back."""
    folder = tmp_path_factory.mktemp("records")
    env = folder / "sandbox.toml"
    shutil.copy(SANDBOX_TOML, env)
    outputs = folder / "outputs"
    for name in ("ok", "reads_earlier"):
        result = run_notebook(NOTEBOOKS / f"{name}.ipynb", environment=str(env),
                              incident="INC-7", outputs_dir=outputs)
        assert result.exit_code == 0, result.summary["failing_cell"]
    return outputs / "INC-7"


def test_a_later_run_reads_what_an_earlier_one_recorded(incident: Path) -> None:
    later = incident_runs(incident)[-1]
    assert later.runbook == "reads_earlier"
    assert later.records == {"earlier_count": 2, "absent": "none"}
    assert earlier_value("probe.count", incident="INC-7", outputs_dir=incident.parent) == 2
    with pytest.raises(RecordError, match=r"no recorded value 'nope'.*searched: ok"):
        earlier_value("nope", incident="INC-7", runbook="ok", outputs_dir=incident.parent)


def test_the_index_lists_runs_phases_and_links(incident: Path) -> None:
    index = json.loads((incident / "index.json").read_text())
    assert [run["runbook"] for run in index["runs"]] == ["ok", "reads_earlier"]
    assert index["phases"]["ok"]["status"] == "passed" and index["status"] == "passed"
    page = (incident / "index.html").read_text()
    for run in index["runs"]:
        assert f"{run['folder']}/{run['html']}" in page
    listed = list_incidents(incident.parent)
    assert listed.to_dict("records")[0]["incident"] == "INC-7"
    assert listed.to_dict("records")[0]["runs"] == 2


def test_unknown_incident_names_the_known_ones(incident: Path) -> None:
    with pytest.raises(RecordError, match=r"no record of incident 'INC-8'.*INC-7"):
        incident_dir("INC-8", incident.parent)


def test_verify_passes_then_catches_a_changed_byte_and_planted_secrets(
        incident: Path, tmp_path: Path) -> None:
    copy = tmp_path / "INC-7"
    shutil.copytree(incident, copy)
    clean = verify_incident(copy)
    assert clean.ok and clean.files >= 8
    summary = next(copy.glob("*-ok/summary.json"))
    data = bytearray(summary.read_bytes())
    data[data.index(b"passed")] = ord("P")
    summary.write_bytes(bytes(data))
    (copy / "notes.txt").write_text(f"Authorization: Bearer {JWT}\n")
    report = verify_incident(copy)
    assert not report.ok
    assert report.changed == (summary.relative_to(copy).as_posix(),)
    assert report.unlisted == ("notes.txt",)
    assert report.secrets and all(s.startswith("notes.txt") for s in report.secrets)
    assert JWT not in " ".join(report.secrets)


def test_the_manifest_is_chained_to_the_one_it_replaced(incident: Path) -> None:
    manifest = json.loads((incident / "manifest.json").read_text())
    assert manifest["previous"] is not None and len(manifest["history"]) == 1
    assert all(len(d) == 64 for d in manifest["files"].values())


@pytest.fixture()
def copy(incident: Path, tmp_path: Path) -> Path:
    """A copy of the module's incident (verified clean by the test above), to tamper with."""
    shutil.copytree(incident, tmp_path / incident.name)
    return tmp_path / incident.name


def flip_one_byte(path: Path) -> None:
    """Change one byte in the middle of a file (a letter for another: it stays readable)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    at = next(i for i in range(middle, len(data)) if chr(data[i]).isalpha())
    data[at] = ord("x") if data[at] != ord("x") else ord("y")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("pattern", ["*-ok/ok.ipynb", "*-ok/ok.html", "*-ok/summary.json",
                                     "*-ok/run.log", "*-ok/manifest.json", "index.json",
                                     "index.html"])
def test_verify_catches_one_changed_byte_in_each_kind_of_file(copy: Path,
                                                              pattern: str) -> None:
    changed = next(copy.glob(pattern))
    flip_one_byte(changed)
    report = verify_incident(copy)
    assert not report.ok
    assert changed.relative_to(copy).as_posix() in report.changed, report.to_frame()


def test_a_rewritten_run_manifest_differs_from_the_digest_the_index_keeps(copy: Path) -> None:
    # The change hidden as well as our own API allows: the run's manifest, the index and the
    # incident's manifest written again over the changed file.
    run = next(copy.glob("*-ok"))
    held = manifest_digest(run)
    flip_one_byte(run / "summary.json")
    write_run_manifest(run)
    write_index(copy)
    write_manifest(copy)
    report = verify_incident(copy)
    assert report.changed == () and report.missing == () and report.unlisted == ()
    assert not report.ok
    assert report.rewritten == (f"{run.name}/manifest.json: sha256 "
                                f"{manifest_digest(run)[:12]}…, the index holds {held[:12]}…",)
    assert json.loads((copy / "index.json").read_text())["runs"][0]["manifest_sha256"] == held


def test_a_rewritten_index_is_caught_by_a_digest_kept_elsewhere(copy: Path) -> None:
    # The index rewritten by hand too: only a digest kept outside the incident (in a
    # notification, a ticket) still tells.
    run = next(copy.glob("*-ok"))
    notified = manifest_digest(run)
    assert notified is not None
    flip_one_byte(run / "ok.ipynb")
    write_run_manifest(run)
    index = json.loads((copy / "index.json").read_text())
    index["runs"][0]["manifest_sha256"] = manifest_digest(run)
    (copy / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    write_manifest(copy)
    assert verify_incident(copy).ok, "without a digest kept elsewhere, this rewrite is whole"
    report = verify_incident(copy, expected=(notified,))
    assert report.rewritten == (f"expected manifest sha256 {notified}: no manifest of the "
                                "incident has it",)
    assert report.to_frame()["problem"].tolist() == ["manifest rewritten"]


def test_verify_accepts_the_digests_it_printed_and_refuses_a_malformed_one(
        incident: Path) -> None:
    def verify(*expect: str) -> subprocess.CompletedProcess[str]:
        args = [arg for digest in expect for arg in ("--expect", digest)]
        return subprocess.run([sys.executable, "-m", "netra_ops", "records", "verify",
                               incident.name, "--outputs", str(incident.parent), *args],
                              capture_output=True, text=True, timeout=60)

    runs = [manifest_digest(run) or "" for run in sorted(incident.glob("*-*"))]
    done = verify(manifest_digest(incident) or "", *runs)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"manifest sha256 {manifest_digest(incident)}" in done.stdout
    bad = verify("abc123")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "not a SHA-256 digest" in bad.stderr
