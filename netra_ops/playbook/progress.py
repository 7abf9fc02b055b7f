"""A playbook's steps as its watcher sees them: a line when each starts, and one when it ends
with its status, its decision and its time; each step's run shown by the caller's
`RunProgress` (the terminal's: its cells, the kernel's latest line).

    step 2/5 02_deploy: started, 14 cells
    step 2/5 02_deploy: PASSED, decided continue in 41.2 s (passed)
    rollback branch 06_rollback: started, 12 cells
    finally 00_incident_summary: started, 11 cells

Also where the playbook checks its target before the first step (`check_target`), so
that the playbook's run module makes one call for each of these.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from netra_ops.playbook.book import Playbook, Step
from netra_ops.record.progress import RunProgress
from netra_ops.record.runner import find_runbook
from netra_ops.record.target import require_target

if TYPE_CHECKING:
    from netra_ops.playbook.run import StepOutcome

__all__ = ["StepProgress", "check_target"]


def check_target(environment: str, book: Playbook, steps: Iterable[Step]) -> None:
    """TargetUnreachableError before anything runs (scenario staging included) when one of
    the `steps` to run, a branch's or the final one reaches the environment's services or
    APIs and they do not answer."""
    branches = [step for branch in book.branches.values() for step in branch]
    final = [book.final] if book.final is not None else []
    require_target(environment, [find_runbook(step.runbook)
                                 for step in [*steps, *branches, *final]])


class StepProgress:
    """A `RunProgress` for the playbook's step runs, over `inner` (None: shows nothing):
    each run is labelled with its step (`step 2/5 02_deploy`, `rollback branch
    06_rollback`, `finally 00_incident_summary`), and its end is said with the step's
    decision (`step_finished`)."""

    def __init__(self, inner: RunProgress | None, steps: Sequence[Step],
                 final: Step | None) -> None:
        self.inner = inner
        self.planned = len(steps)
        self.final = final
        self._number = 0
        self._label = ""

    @property
    def for_runs(self) -> StepProgress | None:
        """What a step's run is given to show: this, or None when nothing is shown."""
        return self if self.inner is not None else None

    def step_started(self, step: Step, branch: str | None) -> None:
        """The next step starts (its run's lines are labelled with it)."""
        if branch is not None:
            self._label = f"{branch} branch {step.name}"
        elif step is self.final:
            self._label = f"finally {step.name}"
        else:
            self._number += 1
            self._label = f"step {self._number}/{self.planned} {step.name}"

    def step_finished(self, outcome: StepOutcome) -> None:
        """Say how the step ended, what it decided, why, and how long it took."""
        reason = f" ({outcome.reason})" if outcome.reason else ""
        self.note(f"{self._label}: {outcome.status.upper()}, decided {outcome.decision} in "
                  f"{outcome.duration_s:.1f} s{reason}")

    def note(self, text: str) -> None:
        """A line to keep."""
        if self.inner is not None:
            self.inner.note(text)

    def run_started(self, label: str, cells: int) -> None:
        """The step's run starts: labelled with the step."""
        if self.inner is not None:
            self.inner.run_started(self._label or label, cells)

    def cell_started(self, number: int, text: str) -> None:
        """As the inner progress shows it."""
        if self.inner is not None:
            self.inner.cell_started(number, text)

    def kernel_said(self, text: str) -> None:
        """As the inner progress shows it."""
        if self.inner is not None:
            self.inner.kernel_said(text)

    def tick(self) -> None:
        """As the inner progress shows it."""
        if self.inner is not None:
            self.inner.tick()

    def run_finished(self, label: str, summary: str | None) -> None:
        """The run's end is said by `step_finished`, with the decision."""
        if self.inner is not None:
            self.inner.run_finished(self._label or label, None)

