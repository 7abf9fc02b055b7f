"""The project's packaging: one lock pins what every install path installs.

- requirements.lock names every dependency of pyproject.toml (runtime and dev) at a version
  that pyproject's lower bound admits, with hashes;
- environment.yml installs that lock and nothing of its own;
- the venv the suite runs in was installed from the lock (skipped by `make test-latest`,
  which tries the newest allowed versions on purpose).
"""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.split("[")[0]).lower()


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return [Requirement(r) for r in requirements]


def _lock_pins() -> dict[str, str]:
    """Package -> version of the lock lines whose environment marker holds on this machine."""
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        match = _PIN.match(line)
        if match is None:
            continue
        name, version, marker = match.groups()
        if marker is None or Marker(marker).evaluate():
            pins[_name(name)] = version
    return pins


def test_the_lock_pins_every_dependency_within_its_bounds() -> None:
    pins = _lock_pins()
    missing = [r.name for r in _pyproject_requirements() if _name(r.name) not in pins]
    assert missing == [], "pyproject.toml dependencies not in requirements.lock: run make lock"
    outside = {r.name: pins[_name(r.name)] for r in _pyproject_requirements()
               if not r.specifier.contains(pins[_name(r.name)], prereleases=True)}
    assert outside == {}, "locked versions outside pyproject.toml's bounds: run make lock"


def test_every_pin_carries_a_hash() -> None:
    lines = LOCK.read_text().splitlines()
    for index, line in enumerate(lines):
        if _PIN.match(line):
            assert "--hash=sha256:" in lines[index + 1], f"no hash for {line.strip()}"


def test_environment_yml_installs_the_lock_and_nothing_else() -> None:
    text = (ROOT / "environment.yml").read_text()
    items = [line.strip()[2:] for line in text.splitlines()
             if line.strip().startswith("- ") and not line.strip().endswith(":")]
    assert items == ["conda-forge", "python>=3.11", "pip", "--require-hashes",
                     "-r requirements.lock"]


def test_environment_yml_names_the_python_the_project_requires() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"python{requires}" in (ROOT / "environment.yml").read_text()


@pytest.mark.skipif(os.environ.get("NETRA_OPS_LATEST") == "1",
                    reason="make test-latest installs the newest allowed versions on purpose")
def test_the_venv_was_installed_from_the_lock() -> None:
    differing = {}
    for name, version in _lock_pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            differing[name] = (version, None)
            continue
        if installed != version:
            differing[name] = (version, installed)
    assert differing == {}, "installed versions differ from requirements.lock (locked, installed)"
