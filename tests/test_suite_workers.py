"""The suite's worker processes themselves (tests/conftest.py): what they leave out, and what
they keep away from the garbage collector, to spend less CPU per test."""

from __future__ import annotations

import gc
import sys
import weakref


def test_a_worker_goes_without_rfc3987_syntax_s_grammar() -> None:
    """conftest.py's guard is in place before anything imports nbformat (a worker that built
    the grammar would hold the module here, not the guard's None)."""
    assert "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_what_lived_before_the_module_is_frozen_and_a_test_s_garbage_is_still_collected(
) -> None:
    assert gc.get_freeze_count() > 10_000  # modules, collected tests, session fixtures
    cycle = _Cycle()
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None
