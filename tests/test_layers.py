"""DESIGN.md "Layers": no cycle between packages, every import keeps the layer rules.

The graph comes from every import form in every module (`import_graph.py`); print it with
`python tests/import_graph.py`. The synthetic module sets below show the checks can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from import_graph import (
    LAYERS,
    Edge,
    ModuleSource,
    cycles,
    layer_violations,
    package_edges,
    package_of,
    read_tree,
    unplaced,
)

import netra_ops

ROOT = Path(netra_ops.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return package_edges(read_tree(ROOT))


def test_no_cycle_between_packages(edges: list[Edge]) -> None:
    assert cycles(edges) == []


def test_every_import_keeps_the_layer_rules(edges: list[Edge]) -> None:
    assert layer_violations(edges) == []


def test_every_package_has_a_place() -> None:
    packages = {package_of(name) for name in read_tree(ROOT)}
    assert unplaced(packages) == []
    assert {"cloud", "doctor", "load", "playbook", "sandbox", "schedule", "ui"} <= packages


def test_the_checks_see_the_stack(edges: list[Edge]) -> None:
    """Not vacuous: the graph holds the edges the picture is made of."""
    pairs = {(e.source, e.target) for e in edges}
    assert {("cli", "sandbox"), ("deploy", "cloud"), ("probe", "cloud"), ("metrics", "probe"),
            ("playbook", "record"), ("sandbox", "config")} <= pairs
    assert len(LAYERS) > 5


EMPTY = dict.fromkeys(["cli", "ui__init", "playbook__init", "record__init", "deploy__init",
                       "load__init", "metrics__init", "probe__init", "probe__health",
                       "cloud__init", "cloud__service", "config", "secrets", "errors", "kernel",
                       "ports", "sandbox__init", "sandbox__state"], "")
"""A package tree whose modules import nothing, for the synthetic ones to import."""


def _tree(**modules: str) -> dict[str, ModuleSource]:
    """Synthetic modules over `EMPTY`: `deploy__change="..."` is netra_ops/deploy/change.py,
    a name ending in `__init` is a package."""
    tree = {}
    for key, text in (EMPTY | modules).items():
        parts = ["netra_ops", *key.split("__")]
        is_package = parts[-1] == "init"
        name = ".".join(parts[:-1] if is_package else parts)
        path = "/".join([*parts[:-1], "__init__"] if is_package else parts) + ".py"
        tree[name] = ModuleSource(path, text, is_package)
    return tree


def _pairs(tree: dict[str, ModuleSource]) -> set[tuple[str, str, int]]:
    return {(e.module, e.imported, e.line) for e in package_edges(tree)}


def test_every_import_form_is_read() -> None:
    tree = _tree(
        probe__init="",
        probe__drift="\n".join([
            "import netra_ops.cloud.service",
            "import netra_ops.config as config",
            "from netra_ops import errors",
            "from netra_ops.secrets import resolve_secret",
            "from . import health",
            "from ..kernel import start",
            "from typing import TYPE_CHECKING",
            "if TYPE_CHECKING:",
            "    from netra_ops.deploy import ServiceState",
            "def later():",
            "    from netra_ops import sandbox",
            "    return importlib.import_module(f'netra_ops.metrics.{later}')",
            "try:",
            "    import netra_ops.ports",
            "except ImportError:",
            "    pass",
            "from netra_ops import Environment",
        ]),
        metrics__init="from .. import probe\nfrom . import watching\n",
        metrics__watching="from ..probe.health import check",
    )
    assert _pairs(tree) == {
        ("netra_ops.probe.drift", "netra_ops.cloud.service", 1),
        ("netra_ops.probe.drift", "netra_ops.config", 2),
        ("netra_ops.probe.drift", "netra_ops.errors", 3),
        ("netra_ops.probe.drift", "netra_ops.secrets", 4),
        ("netra_ops.probe.drift", "netra_ops.kernel", 6),
        ("netra_ops.probe.drift", "netra_ops.deploy", 9),
        ("netra_ops.probe.drift", "netra_ops.sandbox", 11),
        ("netra_ops.probe.drift", "netra_ops.metrics", 12),
        ("netra_ops.probe.drift", "netra_ops.ports", 14),
        ("netra_ops.probe.drift", "netra_ops", 17),
        ("netra_ops.metrics", "netra_ops.probe", 1),
        ("netra_ops.metrics.watching", "netra_ops.probe.health", 1),
    }


def test_a_cycle_between_packages_is_reported() -> None:
    tree = _tree(probe__init="from netra_ops.cloud import read_service",
                 cloud__service="def f():\n    from netra_ops.probe import x\n")
    (message,) = cycles(package_edges(tree))
    assert message.startswith("import cycle among cloud, probe, e.g. cloud -> probe -> cloud")
    assert "netra_ops/cloud/service.py:2: netra_ops.cloud.service imports netra_ops.probe" \
        in message
    assert "netra_ops/probe/__init__.py:1:" in message


@pytest.mark.parametrize(("module", "text", "rule"), [
    ("probe__drift", "from netra_ops.deploy import x", "a layer imports only the layers below"),
    ("deploy__verify", "import netra_ops.load", "a layer imports only the layers below"),
    ("record__runner", "from netra_ops import cli", "nothing imports an entry point"),
    ("ui__panel", "from netra_ops.cli import app", "nothing imports an entry point"),
    ("metrics__sources", "from netra_ops import sandbox", "only the entry points import the"),
    ("cloud__service", "import netra_ops.sandbox.state", "only the entry points import the"),
    ("playbook__run", "from netra_ops.sandbox import up", "only the entry points import the"),
    ("sandbox__state", "from netra_ops.cloud import x", "sandbox imports only the root package"),
    ("sandbox__state", "from ..probe import health", "sandbox imports only the root package"),
])
def test_a_forbidden_import_is_reported(module: str, text: str, rule: str) -> None:
    tree = _tree(**{module: "import json\n" + text})
    (message,) = layer_violations(package_edges(tree))
    path = module.replace("__", "/")
    assert message.startswith(f"netra_ops/{path}.py:2: netra_ops.{module.replace('__', '.')} ")
    assert f"rule '{rule}" in message


def test_an_unplaced_package_is_reported() -> None:
    tree = _tree(gadgets__init="from netra_ops import config")
    assert layer_violations(package_edges(tree)) == [
        "package gadgets has no layer: place it in LAYERS (tests/import_graph.py)"]


def test_allowed_imports_are_not_reported() -> None:
    tree = _tree(cli="from netra_ops import sandbox, deploy",
                 sandbox__state="from netra_ops import __version__\nfrom netra_ops import ports",
                 deploy__change="from netra_ops.cloud import read_service",
                 cli_doctor="from netra_ops.cli import app")
    edges = package_edges(tree)
    assert len(edges) == 5
    assert layer_violations(edges) == [] and cycles(edges) == []
