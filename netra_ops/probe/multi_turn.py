"""Multi-turn golden path (seed 3.2, "Business Value Validation").

`conversation(env, turns=[...])` walks what a user does: log in, load the chat page, open
the WebSocket, ask, read the answer, then ask again in the same thread with a question that
depends on the first, and check the agent remembered: the last answer must mention a number
that only an earlier turn gave (the default turns give a monthly spend and a token volume
first, then ask to cut "it" by half). Each step is timed; a step that fails, or never runs
because an earlier one failed, fails its checklist item: nothing passes silently.

`checklist_frame()` answers the seed's 3.2 checklist, one row per item with the evidence.
`conversation` and `conversation_async` take their defaults from `ConversationOptions`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TypedDict, Unpack

import pandas as pd

from netra_ops.config import Environment, load_environment
from netra_ops.errors import NetraOpsError
from netra_ops.probe._options import shows_options
from netra_ops.probe._transport.connections import (
    STEP_TIMEOUT_S,
    Step,
    clock_offset,
    close_quietly,
    login_steps,
    open_connection,
)
from netra_ops.probe._transport.drivers import (
    Deadline,
    Http,
    Steps,
    run_steps,
    run_steps_async,
)
from netra_ops.probe._transport.http import HttpAnswer
from netra_ops.probe.agent_events import REQUIRED_FIELDS, EventCheck
from netra_ops.probe.event_timing import DEFAULT_ANSWER_BUDGET_S, DEFAULT_EVENT_BUDGET_MS
from netra_ops.probe.golden_path_run import TurnResult, close_reserve, new_thread_id, turn_steps

__all__ = [
    "CHECKLIST",
    "DEFAULT_TURNS",
    "ConversationOptions",
    "ConversationResult",
    "MemoryCheck",
    "chat_page",
    "conversation",
    "conversation_async",
    "memory_check",
]

DEFAULT_TURNS: tuple[str, ...] = (
    "We spend about $18,500 a month on GPT-4o for 4 million tokens a day. "
    "Where is that money going, and what should we change first?",
    "We need to cut it by half. What exactly should we change?",
)
CHECKLIST: tuple[str, ...] = (
    "User can log in successfully",
    "Chat interface loads without errors",
    "Agent execution starts and completes",
    "WebSocket events delivered in real-time",
    "AI responses are substantive and helpful",
    "Multiple conversation turns work correctly",
    "No silent failures in agent execution",
)
_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(k|m|bn|thousand|million|billion)?\b",
                     re.IGNORECASE)
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
_SILENT_ENDS = ("timeout", "closed", "protocol")
_REALTIME_CHECKS = ("present", "first event", "delivery")


@dataclass(frozen=True)
class MemoryCheck:
    """Whether the last answer used what only earlier turns said."""

    ok: bool
    given_earlier: tuple[str, ...]
    mentioned: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class ConversationResult:
    """One multi-turn conversation, step by step; `ok` only if every step passed and the
    agent remembered. `steps` are login, chat page, connect, established, each turn and
    close; `failed_step` names the first that failed (or `memory`)."""

    ok: bool
    environment: str
    started_at: datetime
    thread_id: str
    turns: tuple[str, ...]
    event_budget_ms: float
    steps: tuple[Step, ...]
    turn_results: tuple[TurnResult, ...]
    memory: MemoryCheck | None
    failed_step: str | None
    error: str | None
    elapsed_ms: float

    def step(self, name: str) -> Step | None:
        """The step of that name, if it ran."""
        return next((s for s in self.steps if s.name == name), None)

    def to_frame(self) -> pd.DataFrame:
        """One row per step: step, ok, ms, detail, http_status."""
        return pd.DataFrame([asdict(s) for s in self.steps],
                            columns=["name", "ok", "ms", "detail", "http_status"]
                            ).rename(columns={"name": "step"})

    def checks_frame(self) -> pd.DataFrame:
        """Every check of every turn, with the turn number."""
        frames = [t.to_frame().assign(turn=n) for n, t in enumerate(self.turn_results, 1)]
        if not frames:
            return pd.DataFrame(columns=["turn", "check", "event", "ok", "value", "detail"])
        frame = pd.concat(frames, ignore_index=True)
        return frame[["turn", *[c for c in frame.columns if c != "turn"]]]

    def checklist_frame(self) -> pd.DataFrame:
        """The seed's 3.2 checklist: item, passed, evidence (one row per item)."""
        rows = [{"item": item, "passed": passed, "evidence": evidence}
                for item, (passed, evidence) in zip(CHECKLIST, _checklist(self), strict=True)]
        return pd.DataFrame(rows, columns=["item", "passed", "evidence"])


@dataclass(frozen=True)
class ConversationOptions:
    """The options of `conversation` and `conversation_async` (`turns` may be passed by
    position), with their one set of defaults. `timeout_s` bounds the whole conversation,
    `turn_timeout_s` each turn; `thread_id` None: a fresh one."""

    turns: Sequence[str] = DEFAULT_TURNS
    thread_id: str | None = None
    timeout_s: float = 90.0
    turn_timeout_s: float = 45.0
    event_budget_ms: float = DEFAULT_EVENT_BUDGET_MS
    answer_budget_s: float = DEFAULT_ANSWER_BUDGET_S


class _ConversationKeywords(TypedDict, total=False):
    thread_id: str | None
    timeout_s: float
    turn_timeout_s: float
    event_budget_ms: float
    answer_budget_s: float


@shows_options(ConversationOptions)
def conversation(env: Environment | str = "sandbox",
                 turns: Sequence[str] = ConversationOptions.turns,
                 **keywords: Unpack[_ConversationKeywords]) -> ConversationResult:
    """Hold a conversation of `turns` (two or more, one thread, one connection) within
    `timeout_s` in total, each turn within `turn_timeout_s`; never raises for a bad answer.
    Each turn is judged as the golden path judges its one (`event_budget_ms` for the first
    event and each delivery, `answer_budget_s` for the answer). Raises NetraOpsError when
    the turns cannot test memory (see `memory_check`)."""
    plan = _Plan.of(env, ConversationOptions(turns=turns, **keywords))
    return run_steps(_steps(plan))


@shows_options(ConversationOptions)
async def conversation_async(env: Environment | str = "sandbox",
                             turns: Sequence[str] = ConversationOptions.turns,
                             **keywords: Unpack[_ConversationKeywords]) -> ConversationResult:
    """The async twin of `conversation` (same steps, asyncio I/O)."""
    plan = _Plan.of(env, ConversationOptions(turns=turns, **keywords))
    return await run_steps_async(_steps(plan))


# --- memory ------------------------------------------------------------------------------


def numbers_in(text: str) -> dict[float, str]:
    """Distinctive numbers of a text (10 or more, scales like `4 million` applied), by
    value, each as first written."""
    found: dict[float, str] = {}
    for match in _NUMBER.finditer(text):
        digits, scale = match.groups()
        try:
            value = float(digits.replace(",", "")) * _SCALE.get((scale or "").lower(), 1.0)
        except ValueError:
            continue
        if value >= 10:
            found.setdefault(value, match.group(0).strip())
    return found


def memory_check(earlier: Sequence[str], last: str, answer: str | None) -> MemoryCheck:
    """Did `answer` (to the `last` message) mention a number that only the `earlier`
    messages gave? That number can only come from the agent's memory of the thread."""
    given = {v: t for message in earlier for v, t in numbers_in(message).items()}
    only_earlier = {v: t for v, t in given.items() if v not in numbers_in(last)}
    said = numbers_in(answer or "")
    mentioned = tuple(t for v, t in only_earlier.items() if v in said)
    listed = ", ".join(only_earlier.values())
    if answer is None:
        detail = "no answer to the last turn"
    elif mentioned:
        detail = (f"the last answer mentions {', '.join(mentioned)}, given only in an earlier "
                  "turn")
    else:
        detail = f"the last answer mentions none of {listed} from earlier turns: forgotten?"
    return MemoryCheck(bool(mentioned), tuple(only_earlier.values()), mentioned, detail)


# --- steps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One conversation: the environment, the options, the turns checked and the thread."""

    env: Environment
    options: ConversationOptions
    turns: tuple[str, ...]
    thread_id: str

    @classmethod
    def of(cls, env: Environment | str, options: ConversationOptions) -> _Plan:
        turns = tuple(options.turns)
        if len(turns) < 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise NetraOpsError("a conversation needs two or more non-empty turns, e.g. "
                                "netra_ops.probe.DEFAULT_TURNS")
        if not memory_check(turns[:-1], turns[-1], "").given_earlier:
            raise NetraOpsError("the turns cannot show the agent remembers: give a number "
                                "(10 or more) in an earlier turn that the last turn does not "
                                "repeat, as DEFAULT_TURNS does")
        return cls(load_environment(env), options, turns,
                   options.thread_id or new_thread_id())


def chat_page(env: Environment, deadline: Deadline) -> Steps[Step]:
    """Steps: GET the frontend's chat page; it must be 200 HTML."""
    url = env.frontend.url + "/"
    answer: HttpAnswer = yield Http("GET", url, deadline.cap(STEP_TIMEOUT_S))
    if answer.failure:
        return Step("chat page", False, answer.elapsed_ms, f"GET {url}: {answer.error}")
    return _judge_page(url, answer)


def _judge_page(url: str, answer: HttpAnswer) -> Step:
    kind = answer.content_type or "no content type"
    head = answer.body[:2048].lower()
    evidence = f"GET {url}: HTTP {answer.status_code} {kind}, {len(answer.body)} bytes"
    if answer.status_code != 200:
        return Step("chat page", False, answer.elapsed_ms, evidence, answer.status_code)
    if "html" not in kind or (b"<html" not in head and b"<!doctype html" not in head):
        return Step("chat page", False, answer.elapsed_ms, f"{evidence}: not an HTML page",
                    answer.status_code)
    return Step("chat page", True, answer.elapsed_ms, evidence, answer.status_code)


def _steps(plan: _Plan) -> Steps[ConversationResult]:
    started_at, started = datetime.now(UTC), time.perf_counter()
    options = plan.options
    reserve = close_reserve(options.timeout_s)
    work = Deadline(started + options.timeout_s - reserve, options.timeout_s)
    token, login_step, user_id = yield from login_steps(plan.env, work)
    steps = [login_step]
    if token is None:
        return _result(plan, started_at, started, steps, [])
    clock = yield from clock_offset(plan.env, work)
    steps.append((yield from chat_page(plan.env, work)))
    opened = yield from open_connection(plan.env, work, token, close_timeout_s=reserve)
    steps += opened.steps
    if opened.link is None:
        return _result(plan, started_at, started, steps, [])
    turns: list[TurnResult] = []
    for number, message in enumerate(plan.turns, start=1):
        deadline = min(work.at, time.perf_counter() + options.turn_timeout_s)
        turn = yield from turn_steps(opened.link, message, plan.thread_id, deadline,
                                     options.event_budget_ms,
                                     answer_budget_s=options.answer_budget_s,
                                     user_id=user_id, clock=clock)
        turns.append(turn)
        steps.append(Step(f"turn {number}", turn.ok, turn.total_ms, _turn_detail(turn)))
        if turn.report.end != "completed":
            break
    steps.append((yield from close_quietly(opened.link, reserve)))
    return _result(plan, started_at, started, steps, turns)


def _turn_detail(turn: TurnResult) -> str:
    if turn.error:
        return turn.error
    events = sum(1 for e in turn.events if e.type in REQUIRED_FIELDS)
    return f"{events} events, answer of {len(turn.final_response or '')} characters"


def _result(plan: _Plan, started_at: datetime, started: float, steps: list[Step],
            turns: list[TurnResult]) -> ConversationResult:
    memory = None
    if len(turns) == len(plan.turns):
        memory = memory_check(plan.turns[:-1], plan.turns[-1], turns[-1].final_response)
    failed = next((s for s in steps if not s.ok and s.name != "close"), None)
    failed_step, error = (failed.name, failed.detail) if failed else (None, None)
    if failed is None and len(turns) < len(plan.turns):
        failed_step, error = "turns", f"only {len(turns)}/{len(plan.turns)} turns ran"
    if failed_step is None and memory is not None and not memory.ok:
        failed_step, error = "memory", memory.detail
    return ConversationResult(
        ok=failed_step is None, environment=plan.env.name, started_at=started_at,
        thread_id=plan.thread_id, turns=plan.turns,
        event_budget_ms=plan.options.event_budget_ms,
        steps=tuple(steps), turn_results=tuple(turns), memory=memory,
        failed_step=failed_step, error=error,
        elapsed_ms=(time.perf_counter() - started) * 1000)


# --- the seed's 3.2 checklist ------------------------------------------------------------


def _checklist(result: ConversationResult) -> list[tuple[bool, str]]:
    return [_login_item(result), _chat_item(result), _execution_item(result),
            _realtime_item(result), _substance_item(result), _turns_item(result),
            _silent_item(result)]


def _not_reached(result: ConversationResult) -> tuple[bool, str]:
    return False, f"not checked: {result.failed_step} failed ({result.error})"


def _timed(step: Step) -> str:
    return f"{step.detail} ({step.ms:.0f} ms)" if step.ms is not None else step.detail


def _login_item(result: ConversationResult) -> tuple[bool, str]:
    step = result.step("login")
    return (False, "login did not run") if step is None else (step.ok, _timed(step))


def _chat_item(result: ConversationResult) -> tuple[bool, str]:
    names = ("chat page", "connect", "established")
    steps = [s for s in (result.step(n) for n in names) if s is not None]
    if len(steps) < len(names) and all(s.ok for s in steps):
        return _not_reached(result)
    return all(s.ok for s in steps), "; ".join(f"{s.name}: {_timed(s)}" for s in steps)


def _planned_turns_ran(result: ConversationResult) -> bool:
    return len(result.turn_results) == len(result.turns)


def _execution_item(result: ConversationResult) -> tuple[bool, str]:
    if not result.turn_results:
        return _not_reached(result)
    bad = [f"turn {n}: {t.report.end_detail or t.report.end}"
           for n, t in enumerate(result.turn_results, 1) if t.report.end != "completed"]
    ran = f"{len(result.turn_results)}/{len(result.turns)} turns"
    if bad or not _planned_turns_ran(result):
        return False, "; ".join([ran, *bad])
    return True, f"{ran} went from agent_started to agent_completed"


def _realtime_item(result: ConversationResult) -> tuple[bool, str]:
    if not result.turn_results:
        return _not_reached(result)
    budget = result.event_budget_ms
    problems = []
    for n, turn in enumerate(result.turn_results, 1):
        problems += [f"turn {n}: {check.event} {check.value or check.detail}".replace(
            "  ", " ") for check in turn.report.checks
            if check.check in _REALTIME_CHECKS and not check.ok]
    if problems or not _planned_turns_ran(result):
        return False, "; ".join(problems[:4]) or "not every turn ran"
    timings = [t.report.timing for t in result.turn_results]
    first = max(t.first_event_ms or 0.0 for t in timings)
    delivery = max(t.max_delivery_ms or 0.0 for t in timings)
    return True, (f"first event within {budget:g} ms of the send (slowest {first:.0f} ms); "
                  f"every event delivered within {budget:g} ms of its timestamp (slowest "
                  f"{delivery:.0f} ms)")


def _substance_item(result: ConversationResult) -> tuple[bool, str]:
    if not result.turn_results:
        return _not_reached(result)
    problems = [f"turn {n}: {c.event} {c.detail}" for n, t in enumerate(result.turn_results, 1)
                for c in t.report.checks if c.check == "content" and not c.ok]
    if problems or not _planned_turns_ran(result):
        return False, "; ".join(problems) or "not every turn answered"
    sizes = ", ".join(str(len(t.final_response or "")) for t in result.turn_results)
    return True, f"answers of {sizes} characters with numbers or a recommendation"


def _turns_item(result: ConversationResult) -> tuple[bool, str]:
    if result.memory is None:
        ran = len(result.turn_results)
        return (False, f"only {ran}/{len(result.turns)} turns ran") if ran else (
            _not_reached(result))
    turns_ok = all(t.ok for t in result.turn_results)
    failing = [f"turn {n} failed" for n, t in enumerate(result.turn_results, 1) if not t.ok]
    return turns_ok and result.memory.ok, "; ".join([*failing, result.memory.detail])


def _is_silent(check: EventCheck, end: str) -> bool:
    """A failed check nobody was told about: an event that lacks fields or came twice, or
    (when the agent claimed completion) an event that never came."""
    received = check.detail != "event never received"
    return (check.check == "fields" and received) or check.check == "duplicates" or (
        check.check == "present" and end == "completed")


def _silent_item(result: ConversationResult) -> tuple[bool, str]:
    if not result.turn_results:
        return _not_reached(result)
    silent, loud = [], []
    for n, turn in enumerate(result.turn_results, 1):
        report = turn.report
        if report.end in _SILENT_ENDS:
            silent.append(f"turn {n}: {report.end_detail}")
        elif report.end == "agent_error":
            loud.append(f"turn {n} failed loudly: {report.end_detail}")
        silent += [f"turn {n}: {c.check} {c.event} {c.detail}".replace("  ", " ")
                   for c in report.checks if not c.ok and _is_silent(c, report.end)]
    if silent:
        return False, "; ".join(silent[:4])
    return True, "; ".join(loud) or "every turn ended with agent_completed and complete events"
