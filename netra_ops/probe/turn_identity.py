"""Whose turn an event belongs to: its run, thread and user, against the probe's own (pure).

An answer meant for someone else is not an answer to the probe, however complete it looks
(cross-talk between users is a data leak as well as a wrong verdict). Every golden-path
event of a turn must carry:

- `run_id`: the run `agent_started` announced (the probe cannot know it before);
- `thread_id`: the thread the probe sent (or, when the caller gave none, agent_started's);
- `user_id`: the user the probe logged in as (or, when login did not say, agent_started's).

A value may sit at the top level of the event or under `data` (Netra sends both on
`agent_started`); every place it is given must agree. A missing value is a problem too: the
Netra protocol puts all three on every event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["IDENTITY_FIELDS", "TurnIdentity", "identity_mismatches"]

IDENTITY_FIELDS: tuple[str, ...] = ("run_id", "thread_id", "user_id")
_NO_DATA: dict[str, Any] = {}


@dataclass(frozen=True)
class TurnIdentity:
    """What the probe knows of its own turn: the thread it sent and the user it logged in
    as (None: not known, then agent_started's value is the reference)."""

    thread_id: str | None = None
    user_id: str | None = None

    def expected(self, name: str) -> tuple[str | None, str]:
        """(the expected value of a field, where it comes from), before agent_started."""
        if name == "thread_id" and self.thread_id is not None:
            return self.thread_id, "the thread the probe sent"
        if name == "user_id" and self.user_id is not None:
            return self.user_id, "the user the probe logged in as"
        return None, "agent_started's"


def _values(message: dict[str, Any], name: str) -> list[str]:
    """Every non-empty value of a field an event carries (top level, then `data`)."""
    data = message.get("data")
    nested = data if isinstance(data, dict) else _NO_DATA
    return [str(v) for v in (message.get(name), nested.get(name)) if v is not None and v != ""]


def identity_mismatches(events: Iterable[tuple[str, float, dict[str, Any]]],
                        identity: TurnIdentity, golden: frozenset[str]
                        ) -> dict[str, str | None]:
    """Per identity field, the problem with it (None: every golden-path event agrees)."""
    turn = [(kind, message) for kind, _, message in events if kind in golden]
    return {name: _field_problem(turn, name, identity) for name in IDENTITY_FIELDS}


def _field_problem(turn: list[tuple[str, dict[str, Any]]], name: str,
                   identity: TurnIdentity) -> str | None:
    expected, origin = identity.expected(name)
    if expected is None:
        started = next((message for kind, message in turn if kind == "agent_started"), None)
        values = _values(started, name) if started is not None else []
        if not values:
            return f"{name}: none in agent_started" if started is not None else None
        expected = values[0]
    wrong: dict[str, list[str]] = {}
    missing: list[str] = []
    for kind, message in turn:
        values = _values(message, name)
        if not values:
            missing.append(kind)
        for value in values:
            if value != expected:
                wrong.setdefault(value, []).append(kind)
    return _describe(name, expected, origin, wrong, missing)


def _describe(name: str, expected: str, origin: str, wrong: dict[str, list[str]],
              missing: list[str]) -> str | None:
    parts = [f"{value!r} in {', '.join(dict.fromkeys(kinds))}" for value, kinds in wrong.items()]
    if missing:
        parts.append(f"none in {', '.join(dict.fromkeys(missing))}")
    if not parts:
        return None
    return f"{name} is not the probe's own {expected!r} ({origin}): {'; '.join(parts)}"
