"""An incident as a whole: index, earlier values across runs, manifest and `records verify`."""

from __future__ import annotations

import json
import shutil
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
)

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
