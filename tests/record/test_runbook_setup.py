"""The one setup call of every runbook, and the helpers its cells use (outside a kernel:
values are kept by `recorded()` and lines printed)."""

from __future__ import annotations

import logging

import matplotlib
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from netra_ops.logs_setup import configure_logging
from netra_ops.record import (
    environment_frame,
    note,
    record_each,
    recorded,
    recorder,
    runbook_setup,
)


@pytest.fixture(autouse=True)
def _fresh_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorder, "_recorded", {})


def test_setup_loads_the_environment_and_records_its_name_and_project() -> None:
    env = runbook_setup("sandbox")
    assert env.name == "sandbox"
    assert recorded() == {"environment": "sandbox", "project": env.project}


@pytest.mark.parametrize(("records", "expected"), [((), set()), (["environment"], {"environment"})])
def test_setup_records_only_what_it_is_asked_to(records: list[str], expected: set[str]) -> None:
    runbook_setup("sandbox", records=records)  # type: ignore[arg-type]
    assert set(recorded()) == expected


def test_the_environment_at_a_glance_with_a_runbooks_own_columns() -> None:
    env = runbook_setup("sandbox", records=())
    frame = environment_frame(env, engine="locust")
    assert list(frame.columns) == ["environment", "project", "region", "service", "backend",
                                   "auth", "frontend", "engine"]
    assert frame.iloc[0]["backend"] == env.backend.url and frame.iloc[0]["engine"] == "locust"


def test_record_each_records_in_order_under_a_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    record_each({"match": 3, "missing": 1}, prefix="drift.")
    assert list(recorded().items()) == [("drift.match", 3), ("drift.missing", 1)]
    assert capsys.readouterr().out == "drift.match = 3\ndrift.missing = 1\n"


def test_a_note_shows_its_texts_and_nothing_when_they_are_empty(
        capsys: pytest.CaptureFixture[str]) -> None:
    note("", None)
    assert capsys.readouterr().out == ""
    note("no deploy needed", "", "**bold**")
    assert capsys.readouterr().out == "no deploy needed\n**bold**\n"


def test_in_a_notebook_log_lines_are_plain_output_and_warnings_stay_on_stderr(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "enable_gui", lambda gui=None: None)  # a kernel's own
    backend = matplotlib.get_backend()
    try:
        runbook_setup("sandbox", records=())
        logging.getLogger("netra_ops.metrics.validation").info("run 1/3: ok")
        logging.getLogger("netra_ops.metrics.validation").warning("run 2/3: failed")
        out, err = capsys.readouterr()
        assert "INFO netra_ops.metrics.validation: run 1/3: ok" in out and "1/3" not in err
        assert "WARNING netra_ops.metrics.validation: run 2/3: failed" in err
        assert "2/3" not in out
        shown, _ = shell.display_formatter.format(pd.DataFrame({"latency_ms": [21.104334]}))
        assert "21.1 ms" in shown["text/html"] and "row_heading" not in shown["text/html"]
    finally:
        configure_logging()
        pd.reset_option("display")
        InteractiveShell.clear_instance()
        matplotlib.use(backend)
