"""The package graph of `netra_ops`, read with `ast` from every import form, and the layer
rules of DESIGN.md ("Layers") it must keep.

Every form counts, wherever it stands (module level, inside a function, under
`if TYPE_CHECKING:`, in a `try`): `import netra_ops.x`, `import netra_ops.x as y`,
`from netra_ops import x`, `from netra_ops.x import y`, relative `from . import x` and
`from ..x import y`, and `importlib.import_module("netra_ops.x")` with a literal (or an
f-string's literal head). `from P import name` names the module `P.name` when there is one.

A module belongs to its package: `netra_ops.deploy.change` to `deploy`; a top-level module
to itself (`netra_ops.kernel` to `kernel`), except the modules that are part of a package
in all but folder (`PART_OF`); the root `netra_ops/__init__.py` is `netra_ops`.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BESIDE",
    "ENTRY_POINTS",
    "LAYERS",
    "PART_OF",
    "TOP",
    "Edge",
    "ModuleSource",
    "cycles",
    "describe",
    "layer_violations",
    "package_edges",
    "package_graph",
    "package_of",
    "read_tree",
    "unplaced",
]

TOP = "netra_ops"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "ui"),
    ("watch",),
    ("playbook", "schedule", "doctor"),
    ("notify",),
    ("record",),
    ("deploy", "load"),
    ("metrics",),
    ("probe",),
    ("cloud",),
    ("netra_ops",),
    ("config",),
    ("secrets",),
    ("checks", "display", "errors", "kernel", "logs_setup", "ports", "processes"),
)
"""Top first. A package imports only packages of the layers below its own: never one above,
never a peer. The root package (the public face: version, `load_environment`) sits on the
environment layer; config reads secrets' references; errors, the one check row (checks)
and the small helpers (kernel, logs_setup, ports, processes) import nothing of netra_ops."""

ENTRY_POINTS = LAYERS[0]
"""The entry points: nothing else imports them."""

BESIDE = "sandbox"
"""Beside the stack, never under it: it imports only the layers from the root package down,
and only the entry points import it (the library reaches it over the network)."""

PART_OF = {"__main__": "cli", "cli_build": "cli", "cli_doctor": "cli", "cli_options": "cli",
           "cli_scenarios": "cli", "cli_schedule": "cli", "cli_watch": "cli"}
"""Top-level modules that belong to a package: the command line's parts."""


@dataclass(frozen=True)
class ModuleSource:
    """One module's text, where it was read from and whether it is a package's __init__."""

    path: str
    text: str
    is_package: bool = False


@dataclass(frozen=True)
class Edge:
    """One import that crosses packages: who imports what, where."""

    source: str
    target: str
    module: str
    imported: str
    path: str
    line: int

    def where(self) -> str:
        """`path:line: module imports name`, for messages."""
        return f"{self.path}:{self.line}: {self.module} imports {self.imported}"


def read_tree(root: Path) -> dict[str, ModuleSource]:
    """Every module under `root/netra_ops`, by dotted name."""
    modules = {}
    for path in sorted((root / TOP).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = ModuleSource(str(path.relative_to(root)), path.read_text(), is_package)
    return modules


def package_of(module: str) -> str:
    """`netra_ops.deploy.change` -> `deploy`; `netra_ops.cli_doctor` -> `cli`."""
    parts = module.split(".")
    return PART_OF.get(parts[1], parts[1]) if len(parts) > 1 else TOP


def package_edges(modules: Mapping[str, ModuleSource]) -> list[Edge]:
    """Every import of one netra_ops package by another, in module and line order."""
    edges = []
    for name, source in sorted(modules.items()):
        for line, imported in _imports(name, source, modules):
            if imported != TOP and not imported.startswith(TOP + "."):
                continue
            edge = Edge(package_of(name), package_of(imported), name, imported, source.path,
                        line)
            if edge.source != edge.target and edge not in edges:
                edges.append(edge)
    return edges


def package_graph(edges: list[Edge]) -> dict[str, set[str]]:
    """Package -> the packages it imports."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    return graph


def cycles(edges: list[Edge]) -> list[str]:
    """One message per group of packages that import each other (a strongly connected
    component of more than one package), naming an import of each step around it."""
    graph = package_graph(edges)
    messages = []
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        loop = _loop_through(graph, group)
        steps = [next(e for e in edges if (e.source, e.target) == pair).where()
                 for pair in itertools.pairwise(loop)]
        messages.append(f"import cycle among {', '.join(group)}, e.g. {' -> '.join(loop)}: "
                        + "; ".join(steps))
    return messages


def layer_violations(edges: list[Edge]) -> list[str]:
    """One message per import that breaks a rule: names the file, the line and the rule."""
    rank = {package: depth for depth, layer in enumerate(LAYERS) for package in layer}
    lowest_for_sandbox = rank[TOP]
    messages = [f"package {p} has no layer: place it in LAYERS (tests/import_graph.py)"
                for p in unplaced({p for e in edges for p in (e.source, e.target)})]
    for edge in edges:
        source, target = rank.get(edge.source), rank.get(edge.target)
        if edge.target in ENTRY_POINTS:
            messages.append(f"{edge.where()}: rule 'nothing imports an entry point' "
                            f"({edge.target})")
        elif edge.source == BESIDE and (target is None or target < lowest_for_sandbox):
            messages.append(f"{edge.where()}: rule 'sandbox imports only the root package "
                            f"and below' ({edge.target} is not)")
        elif edge.target == BESIDE and edge.source not in ENTRY_POINTS:
            messages.append(f"{edge.where()}: rule 'only the entry points import the "
                            f"sandbox; the library reaches it over the network'")
        elif source is not None and target is not None and target <= source:
            where = "a peer" if target == source else "a layer above"
            messages.append(f"{edge.where()}: rule 'a layer imports only the layers below "
                            f"it' ({edge.source} -> {edge.target}, {where})")
    return messages


def unplaced(packages: set[str]) -> list[str]:
    """The packages neither in a layer nor beside the stack."""
    placed = {package for layer in LAYERS for package in layer} | {BESIDE}
    return sorted(packages - placed)


def describe(edges: list[Edge]) -> str:
    """The package graph, one line per package, top layer first."""
    graph = package_graph(edges)
    order = [p for layer in LAYERS for p in layer] + [BESIDE] + unplaced(set(graph))
    return "\n".join(f"{p:<10} -> {', '.join(sorted(graph[p])) or '-'}"
                     for p in order if p in graph)


def _imports(name: str, source: ModuleSource,
             modules: Mapping[str, ModuleSource]) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(source.text, filename=source.path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(name, source.is_package, node)
            for alias in node.names:
                member = f"{base}.{alias.name}"
                yield node.lineno, member if member in modules else base
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            literal = _literal_head(node.args[0]) if node.args else None
            if literal:
                yield node.lineno, literal.rstrip(".")


def _from_base(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = name.split(".") if is_package else name.split(".")[:-1]
    anchor = package[:len(package) - (node.level - 1)]
    return ".".join([*anchor, *([node.module] if node.module else [])])


def _is_dynamic_import(func: ast.expr) -> bool:
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return called in ("import_module", "__import__")


def _literal_head(arg: ast.expr) -> str | None:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values:
        first = arg.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, over sorted nodes so the order is stable."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _loop_through(graph: Mapping[str, set[str]], group: list[str]) -> list[str]:
    """A closed walk from the group's first package back to it, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                frontier.append(nxt)
    return [start, start]


if __name__ == "__main__":
    import sys

    found = package_edges(read_tree(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
    print(describe(found))
    print("\n".join(cycles(found) + layer_violations(found)) or "no cycle, no rule broken")
