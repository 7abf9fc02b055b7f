"""Playbooks: the remediation as one headless run of runbooks, branching on the decisions
they record; orchestration beside `netra_ops.schedule`, above `netra_ops.record`.

`book` reads and validates a playbook file (`playbooks/*.toml`); `run` runs it into one
incident (`run_playbook`) and says how it ended (`PlaybookResult`, `PLAYBOOK_EXIT_CODES`).
"""

from netra_ops.playbook.book import (
    Playbook,
    Scenario,
    Step,
    find_playbook,
    is_playbook,
    load_playbook,
)
from netra_ops.playbook.run import (
    PLAYBOOK_EXIT_CODES,
    PlaybookResult,
    StepOutcome,
    run_playbook,
    step_decision,
)

__all__ = [
    "PLAYBOOK_EXIT_CODES",
    "Playbook",
    "PlaybookResult",
    "Scenario",
    "Step",
    "StepOutcome",
    "find_playbook",
    "is_playbook",
    "load_playbook",
    "run_playbook",
    "step_decision",
]
