"""The sandbox's sub-packages import one way only, and never the layers they stand beside.

Order (docs/sandbox-internals.md, "Modules by role"): services <- runtime <- google <- control;
a module may import its own sub-package and those before it. No sandbox module imports
`deploy`, `probe`, `metrics` or `record` (an emulator sharing the client's code would mirror
the client's bugs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import netra_ops.sandbox

ORDER = ("services", "runtime", "google", "control")
FORBIDDEN = ("netra_ops.deploy", "netra_ops.probe", "netra_ops.metrics", "netra_ops.record")
ROOT = Path(netra_ops.sandbox.__file__).parent


def _imports(path: Path) -> list[str]:
    """Every module an `import` or `from ... import` in `path` names (relative ones too)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names += [f"{module}.{alias.name}".lstrip(".") for alias in node.names]
            names += ["." * node.level + module] if node.level else []
    return names


def _role(path: Path) -> str | None:
    parts = path.relative_to(ROOT).parts
    return parts[0] if len(parts) > 1 else None


def _upward(path: Path, name: str) -> bool:
    role = _role(path)
    parts = name.split(".")
    if role is None or parts[:2] != ["netra_ops", "sandbox"] or len(parts) < 3:
        return False
    target = parts[2]
    return target in ORDER and ORDER.index(target) > ORDER.index(role)


def test_every_module_sits_in_a_role_sub_package() -> None:
    top = sorted(p.name for p in ROOT.glob("*.py"))
    shims = ["ephemeral.py", "pause.py", "scenarios.py"]  # re-exports at the first paths
    assert top == ["__init__.py", "__main__.py", *shims]
    assert sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()) == sorted(ORDER)


def test_sub_packages_import_only_those_before_them() -> None:
    offenders = [f"{p.relative_to(ROOT)}: {n}" for p in ROOT.rglob("*.py")
                 for n in _imports(p) if _upward(p, n) or n.startswith(".")]
    assert offenders == []


def test_the_sandbox_never_imports_the_layers_beside_it() -> None:
    offenders = [f"{p.relative_to(ROOT)}: {n}" for p in ROOT.rglob("*.py")
                 for n in _imports(p) if n.startswith(FORBIDDEN)]
    assert offenders == []
