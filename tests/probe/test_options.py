"""Each sync/async probe pair takes its keyword defaults from one options object.

The defaults are written once, as the fields of a frozen dataclass; both functions of a pair
default each keyword to that field (`timeout_s: float = HealthOptions.timeout_s`) and build
the object from what they were given. These checks fail when a default is written by hand
again and drifts: the two signatures must be identical, and every defaulted parameter (but
the environment or token a probe is pointed at) must be a field of the options object, with
the field's default and type.
"""

from __future__ import annotations

import dataclasses
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

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
    """Every way the pair's defaults disagree with each other or with `options`."""
    problems = []
    signature = inspect.signature(sync)
    if inspect.signature(twin) != signature:
        problems.append(f"{twin.__name__}{inspect.signature(twin)} differs from "
                        f"{sync.__name__}{signature}")
    fields = {f.name: f for f in dataclasses.fields(options)}
    for name, parameter in signature.parameters.items():
        if parameter.default is inspect.Parameter.empty or name in TARGETS:
            continue
        field = fields.pop(name, None)
        if field is None:
            problems.append(f"{sync.__name__}({name}=...) is not a field of {options.__name__}")
        elif (parameter.default, parameter.annotation) != (field.default, field.type):
            problems.append(f"{sync.__name__}({name}: {parameter.annotation} = "
                            f"{parameter.default!r}) but {options.__name__}.{name}: "
                            f"{field.type} = {field.default!r}")
    problems += [f"{options.__name__}.{name} is no keyword of {sync.__name__}"
                 for name in fields]
    return problems


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


def _from_options(url: str, *, timeout_s: float = _Options.timeout_s) -> None: ...


async def _from_options_async(url: str, *, timeout_s: float = _Options.timeout_s) -> None: ...


def _by_hand(url: str, *, timeout_s: float = 6.0) -> None: ...


async def _by_hand_async(url: str, *, timeout_s: float = 6.0) -> None: ...


def test_a_default_written_again_by_hand_is_caught() -> None:
    assert drift(_from_options, _from_options_async, _Options) == []
    assert drift(_from_options, _by_hand_async, _Options) != []  # the twins differ
    assert drift(_by_hand, _by_hand_async, _Options) != []  # both differ from the options
    assert drift(_from_options, _from_options_async, DependencyOptions) == []
    assert drift(_from_options, _from_options_async, HealthOptions) != []  # path, method...


def test_every_pair_is_checked() -> None:
    """A new `*_async` probe in `netra_ops.probe` needs a row in PAIRS."""
    twins = {name.removesuffix("_async") for name in probe.__all__ if name.endswith("_async")}
    assert twins == {sync.__name__ for sync, _, _ in PAIRS}


def test_no_probe_module_is_named_like_a_public_name() -> None:
    """`netra_ops.probe.health` is the function: no module may shadow or be shadowed by it."""
    modules = {m.name for m in pkgutil.iter_modules(probe.__path__)}
    assert modules & set(probe.__all__) == set()
    assert "_transport" in modules
