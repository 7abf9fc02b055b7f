"""One check of incident ids, wherever one is taken, and a clear error for a missing record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netra_ops.errors import ParameterError, RecordError
from netra_ops.record import earlier_value, incident_dir
from netra_ops.record.incident import check_incident, incident_path
from netra_ops.record.parameters import check_incident as check_incident_of_parameters
from netra_ops.schedule.scheduler import Schedule
from netra_ops.ui.journal import journal_path

OUTSIDE = ["..", ".", "../../etc", "a/b", "/etc", "", "INC 1"]


def test_parameters_and_incident_share_the_one_check() -> None:
    assert check_incident_of_parameters is check_incident


@pytest.mark.parametrize("incident", OUTSIDE)
def test_an_id_that_is_not_a_folder_name_is_refused_everywhere(incident: str,
                                                               tmp_path: Path) -> None:
    """`..` or `../../etc` never names a folder outside the records folder: not for
    records, earlier values, the panel's journal, nor the schedule."""
    (tmp_path / "etc").mkdir()
    for look_up in (lambda: incident_dir(incident, tmp_path / "outputs"),
                    lambda: incident_path(incident, tmp_path),
                    lambda: earlier_value("x", incident=incident, outputs_dir=tmp_path),
                    lambda: journal_path(incident, tmp_path),
                    lambda: Schedule(incident, "sandbox", (), None,  # type: ignore[arg-type]
                                     outputs_dir=tmp_path).folder()):
        with pytest.raises(ParameterError, match=r"incident id .* is not valid"):
            look_up()


def test_a_missing_incident_is_a_clear_error_naming_the_known_ones(tmp_path: Path) -> None:
    run = tmp_path / "INC-1" / "20250101T000000Z-ok"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"runbook": "ok", "status": "passed"}))
    assert incident_dir("INC-1", tmp_path) == tmp_path / "INC-1"
    with pytest.raises(RecordError, match=r"no record of incident 'nonexistent'.*INC-1.*"
                                          r"records list"):
        incident_dir("nonexistent", tmp_path)


def test_a_folder_that_holds_no_record_is_not_an_incident(tmp_path: Path) -> None:
    """A folder of the right name but no run, index or manifest (`etc` under `/`) is not
    read, hashed or listed as an incident."""
    (tmp_path / "etc" / "ssl").mkdir(parents=True)
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    with pytest.raises(RecordError, match="no record of incident 'etc'"):
        incident_dir("etc", tmp_path)


def test_a_run_in_progress_makes_an_incident(tmp_path: Path) -> None:
    """The first run's folder has its log before its summary (00 summarizing a fresh
    incident reads it then)."""
    run = tmp_path / "INC-2" / "20250101T000000Z-00_incident_summary"
    run.mkdir(parents=True)
    (run / "run.log").write_text("starting\n")
    assert incident_dir("INC-2", tmp_path) == tmp_path / "INC-2"
