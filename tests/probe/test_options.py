"""Each sync/async probe pair takes its keyword defaults from one options object.

The defaults are written once, as the fields of a frozen dataclass; both functions of a pair
take `**keywords` typed by a TypedDict of the same names and types and build the dataclass
from them (`netra_ops.probe._options`). These checks fail when a default is written by hand
again or the types drift: the two signatures shown must be identical; every defaulted
parameter (but the environment or token a probe is pointed at) must be a field of the
options object, with the field's default and type; and the keywords mypy checks must be the
fields' names and types.
"""

from __future__ import annotations

import dataclasses
import inspect
import pkgutil
import typing
from collections.abc import Callable
from typing import Any, TypedDict, Unpack

import pytest

import netra_ops.probe as probe
from netra_ops.probe import (
    AgentTurnOptions,
    AuthCallOptions,
    AuthFailureRateOptions,
    ConnectionRateOptions,
    ConversationOptions,
    DependencyOptions,
    GoldenPathOptions,
    HealthOptions,
    PostgresOptions,
    RedisOptions,
    WaitHealthyOptions,
    WebSocketConnectOptions,
)
from netra_ops.probe._options import shows_options

PAIRS: list[tuple[Callable[..., Any], Callable[..., Any], type]] = [
    (probe.health, probe.health_async, HealthOptions),
    (probe.wait_healthy, probe.wait_healthy_async, WaitHealthyOptions),
    (probe.login, probe.login_async, AuthCallOptions),
    (probe.refresh, probe.refresh_async, AuthCallOptions),
    (probe.validate, probe.validate_async, AuthCallOptions),
    (probe.auth_failure_rate, probe.auth_failure_rate_async, AuthFailureRateOptions),
    (probe.golden_path, probe.golden_path_async, GoldenPathOptions),
    (probe.websocket_connect, probe.websocket_connect_async, WebSocketConnectOptions),
    (probe.agent_turn, probe.agent_turn_async, AgentTurnOptions),
    (probe.conversation, probe.conversation_async, ConversationOptions),
    (probe.connection_rate, probe.connection_rate_async, ConnectionRateOptions),
    (probe.check_dependencies, probe.check_dependencies_async, DependencyOptions),
    (probe.postgres, probe.postgres_async, PostgresOptions),
    (probe.redis, probe.redis_async, RedisOptions),
]
TARGETS = {"env", "token"}  # what a probe is pointed at, not how it behaves


def drift(sync: Callable[..., Any], twin: Callable[..., Any], options: type) -> list[str]:
    """Every way the pair's defaults or types disagree with each other or with `options`."""
    problems = []
    signature = inspect.signature(sync)
    if inspect.signature(twin) != signature:
        problems.append(f"{twin.__name__}{inspect.signature(twin)} differs from "
                        f"{sync.__name__}{signature}")
    fields = {f.name: f for f in dataclasses.fields(options)}
    unused = dict(fields)
    for name, parameter in signature.parameters.items():
        if parameter.default is inspect.Parameter.empty or name in TARGETS:
            continue
        field = unused.pop(name, None)
        if field is None:
            problems.append(f"{sync.__name__}({name}=...) is not a field of {options.__name__}")
        elif (parameter.default, parameter.annotation) != (field.default, field.type):
            problems.append(f"{sync.__name__}({name}: {parameter.annotation} = "
                            f"{parameter.default!r}) but {options.__name__}.{name}: "
                            f"{field.type} = {field.default!r}")
    problems += [f"{options.__name__}.{name} is no keyword of {sync.__name__}"
                 for name in unused]
    positional = {name for name, p in signature.parameters.items()
                  if p.kind is not inspect.Parameter.KEYWORD_ONLY}
    types = typing.get_type_hints(options)
    expected = {name: types[name] for name in fields if name not in positional}
    problems += [f"{function.__name__}(**keywords) types {typed}, {options.__name__} {expected}"
                 for function in (sync, twin) if (typed := keywords_typed(function)) != expected]
    return problems


def keywords_typed(function: Callable[..., Any]) -> dict[str, Any]:
    """The names and types of `**keywords: Unpack[SomeTypedDict]` ({} without them)."""
    hint = typing.get_type_hints(function, include_extras=True).get("keywords")
    return typing.get_type_hints(typing.get_args(hint)[0]) if hint is not None else {}


@pytest.mark.parametrize(("sync", "twin", "options"), PAIRS,
                         ids=[sync.__name__ for sync, _, _ in PAIRS])
def test_a_pair_takes_its_defaults_from_its_options(sync: Callable[..., Any],
                                                    twin: Callable[..., Any],
                                                    options: type) -> None:
    assert inspect.iscoroutinefunction(twin) and not inspect.iscoroutinefunction(sync)
    first = dataclasses.fields(options)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options(), first, None)
    assert drift(sync, twin, options) == []


@dataclasses.dataclass(frozen=True)
class _Options:
    timeout_s: float = 5.0


class _Keywords(TypedDict, total=False):
    timeout_s: float


class _WrongKeywords(TypedDict, total=False):
    timeout_s: int


@shows_options(_Options)
def _right(url: str, **keywords: Unpack[_Keywords]) -> None: ...


@shows_options(_Options)
async def _right_async(url: str, **keywords: Unpack[_Keywords]) -> None: ...


@shows_options(_Options)
async def _mistyped_async(url: str, **keywords: Unpack[_WrongKeywords]) -> None: ...


def _by_hand(url: str, *, timeout_s: float = 6.0) -> None: ...


async def _by_hand_async(url: str, *, timeout_s: float = 6.0) -> None: ...


def test_a_default_written_by_hand_or_a_type_that_drifts_is_caught() -> None:
    assert drift(_right, _right_async, _Options) == []
    assert drift(_right, _mistyped_async, _Options) != []  # the TypedDict says int
    assert drift(_by_hand, _by_hand_async, _Options) != []  # 6.0 is not the options' 5.0
    assert drift(_right, _by_hand_async, _Options) != []  # the twins differ
    assert drift(_right, _right_async, HealthOptions) != []  # path, method, ... missing


def test_the_options_are_shown_as_keywords() -> None:
    """`help(probe.health)` lists the options with their defaults, as before."""
    assert str(inspect.signature(probe.health)) == (
        "(url: 'str', *, path: 'str' = '/health', method: 'str' = 'GET', "
        "expect_json: 'bool' = True, timeout_s: 'float' = 5.0, "
        "max_body_bytes: 'int' = 1048576, max_redirects: 'int' = 3) -> 'HealthResult'")
    with pytest.raises(TypeError, match="timout_s"):
        probe.health("http://127.0.0.1:9", timout_s=1)  # type: ignore[call-arg]


def test_every_pair_is_checked() -> None:
    """A new `*_async` probe in `netra_ops.probe` needs a row in PAIRS."""
    twins = {name.removesuffix("_async") for name in probe.__all__ if name.endswith("_async")}
    assert twins == {sync.__name__ for sync, _, _ in PAIRS}


def test_no_probe_module_is_named_like_a_public_name() -> None:
    """`netra_ops.probe.health` is the function: no module may shadow or be shadowed by it."""
    modules = {m.name for m in pkgutil.iter_modules(probe.__path__)}
    assert modules & set(probe.__all__) == set()
    assert "_transport" in modules
