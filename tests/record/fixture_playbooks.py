"""Playbook files over the fixture notebooks (tests/record/notebooks), written for a test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def write_fixture_playbook(path: Path, steps: Sequence[str], *, branch: Sequence[str] = (),
                           final: str | None = None, final_ticks: int | None = None,
                           scenario: bool = False) -> Path:
    """`path` as a playbook named "fixture": `steps` (fixture notebook names) in order, the
    last with `on_rollback = "rollback"` when there is a `branch`, then `final`, and a
    scenario `story` (`ok.runs = 5`) if asked."""
    lines = ['name = "fixture"']
    for number, name in enumerate(steps, 1):
        lines += ["[[steps]]", f'runbook = "{NOTEBOOKS / name}"']
        if branch and number == len(steps):
            lines.append('on_rollback = "rollback"')
    for name in branch:
        lines += ["[[branches.rollback]]", f'runbook = "{NOTEBOOKS / name}"']
    if final is not None:
        lines += ["[finally]", f'runbook = "{NOTEBOOKS / final}"']
        if final_ticks is not None:
            lines.append(f"parameters = {{ ticks = {final_ticks} }}")
    if scenario:
        lines += ["[scenarios.story]", 'parameters = { "ok.runs" = 5 }']
    path.write_text("\n".join(lines) + "\n")
    return path
