"""Shared fixtures: sandbox environments on free loopback ports, in temporary folders.

- `make_sandbox_env()` writes a copy of environments/sandbox.toml with free ports and a
  temporary state dir, and returns the loaded Environment (nothing started). Every sandbox
  started from one is stopped at the end of the session, as a safety net.
- `sandbox_env` is one running sandbox shared by the whole session (`up()` once, `down()` at
  the end, asserting no recorded process survives). Do not break it: tests that deploy
  scenarios or kill processes start their own with `make_sandbox_env`.
"""

from __future__ import annotations

import json
import re
import socket
import tomllib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
import pytest

from netra_ops.config import Environment, load_environment

ROOT = Path(__file__).resolve().parent.parent
SANDBOX_TOML = ROOT / "environments" / "sandbox.toml"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that nothing listens on (bound together, then released)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def dump_toml(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """A minimal TOML writer: scalars, lists of scalars, tables and arrays of tables."""
    lines, tables, arrays = [], [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + "\n"
    for key, table in tables:
        header = ".".join(_toml_key(k) for k in (*prefix, key))
        text += f"\n[{header}]\n" + dump_toml(table, (*prefix, key))
    for key, items in arrays:
        header = ".".join(_toml_key(k) for k in (*prefix, key))
        for item in items:
            text += f"\n[[{header}]]\n" + dump_toml(item, (*prefix, key))
    return text


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_sandbox_environment(folder: Path, *, startup_timeout_s: float = 20.0) -> Path:
    """A sandbox environment file in `folder`: free ports, state dir `folder/.sandbox`."""
    data = tomllib.loads(SANDBOX_TOML.read_text(encoding="utf-8"))
    roles = ("backend", "auth", "frontend", "api", "monitoring")
    ports = dict(zip(roles, free_ports(len(roles)), strict=True))
    state_dir = folder / ".sandbox"  # as the default layout (secret hints look for it)
    host = data["sandbox"].get("host", "127.0.0.1")
    data["sandbox"].update(ports=ports, state_dir=str(state_dir),
                           startup_timeout_s=startup_timeout_s)
    data["credentials"]["password"] = f"file:{state_dir}/secrets/test-user-password"
    data["expected_env"]["AUTH_SERVICE_URL"] = f"http://{host}:{ports['auth']}"
    data["expected_env"]["FRONTEND_URL"] = f"http://{host}:{ports['frontend']}"
    path = folder / "sandbox.toml"
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def recorded_processes(env: Environment) -> list[tuple[int, float | None]]:
    """(pid, create_time) of every process the sandbox's state files name."""
    assert env.sandbox is not None
    state = env.sandbox.state_dir
    found = []
    for name, key in (("sandbox.json", "processes"), ("revisions.json", "revisions")):
        path = state / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        items = data[key].values() if isinstance(data[key], dict) else data[key]
        found += [(int(i["pid"]), i.get("create_time")) for i in items if i.get("pid")]
    return found


def is_alive(pid: int, create_time: float | None = None) -> bool:
    """True while that process runs (a zombie or a reused pid counts as gone)."""
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - create_time) > 0.05:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture(scope="session")
def process_alive() -> Callable[[int, float | None], bool]:
    """`process_alive(pid, create_time=None)`: a zombie or a reused pid counts as gone."""
    return is_alive


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def make_sandbox_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[], Environment]]:
    """A factory of fresh sandbox environments (new ports, new state dir; not started)."""
    from netra_ops.sandbox import down

    made: list[Environment] = []

    def make() -> Environment:
        env = load_environment(write_sandbox_environment(tmp_path_factory.mktemp("sandbox")))
        made.append(env)
        return env

    yield make
    for env in made:
        down(env)


@pytest.fixture(scope="session")
def sandbox_env(make_sandbox_env: Callable[[], Environment]) -> Iterator[Environment]:
    """One running sandbox for the session; stopped at the end, leaving no process."""
    from netra_ops.sandbox import down, up

    env = make_sandbox_env()
    up(env)
    yield env
    processes = recorded_processes(env)
    down(env)
    survivors = [pid for pid, create_time in processes if is_alive(pid, create_time)]
    assert survivors == [], f"sandbox processes survived down(): {survivors}"
