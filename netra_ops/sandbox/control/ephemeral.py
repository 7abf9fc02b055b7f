"""Throwaway sandbox environments: a copy of sandbox.toml on free ports in a folder of its own.

`write_sandbox_environment(folder)` lets a second sandbox run beside the default one, for a
rehearsal that must not disturb it, for tests and for benchmarks.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from netra_ops.config import find_environment_file
from netra_ops.ports import free_ports

__all__ = ["dump_toml", "free_ports", "write_sandbox_environment"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


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


def write_sandbox_environment(folder: Path, *, startup_timeout_s: float = 20.0,
                              template: Path | None = None) -> Path:
    """A sandbox environment file in `folder`: free ports, state dir `folder/.sandbox`.

    A second, throwaway sandbox beside the default one: for rehearsals, tests and benchmarks.
    `template` is the file copied (default: the shipped environments/sandbox.toml).
    """
    template = template or find_environment_file("sandbox")
    data = tomllib.loads(template.read_text(encoding="utf-8"))
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
