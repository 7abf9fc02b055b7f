"""The project's packaging: pyproject.toml and environment.yml name the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _normalise(requirement: str) -> tuple[str, str]:
    match = _REQUIREMENT.match(requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    name, spec = match.groups()
    return re.sub(r"[-_.]+", "-", name).lower(), spec.replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_normalise(r) for r in requirements)


def _conda_requirements() -> dict[str, str]:
    """Package lines of environment.yml (a tiny reader: no YAML dependency needed)."""
    found = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = line.strip()
        if not item.startswith("- ") or item.endswith(":") or item.startswith("- -e"):
            continue
        name, spec = _normalise(item[2:])
        if name not in {"python", "pip", "conda-forge"}:
            found[name] = spec
    return found


def test_environment_yml_and_pyproject_name_the_same_packages() -> None:
    pyproject, conda = _pyproject_requirements(), _conda_requirements()
    assert sorted(set(pyproject) - set(conda)) == [], "in pyproject.toml only"
    assert sorted(set(conda) - set(pyproject)) == [], "in environment.yml only"
    differing = {n: (pyproject[n], conda[n]) for n in pyproject if pyproject[n] != conda[n]}
    assert differing == {}, "version bounds differ (pyproject, environment.yml)"


def test_environment_yml_names_the_python_the_project_requires() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires}" in (ROOT / "environment.yml").read_text()
