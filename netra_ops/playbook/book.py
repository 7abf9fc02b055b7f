"""A playbook file: the runbooks in order, their parameters, the branches, the final runbook
and the sandbox scenarios (`playbooks/*.toml`), found by name or path and validated.

How a playbook runs, and what its steps decide, is `netra_ops.playbook.run`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from netra_ops.errors import RunError
from netra_ops.record.runner import find_runbook

__all__ = ["Playbook", "Scenario", "Step", "find_playbook", "is_playbook", "load_playbook"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Step(_Model):
    """One runbook of a playbook, its parameters, the branch its rollback decision takes,
    what a failed verdict means when it records no decision, and whether it is optional
    (runs only when asked for: `--with NAME`)."""

    runbook: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    execute: bool = False
    optional: bool = False
    on_rollback: str | None = None
    when_failed: Literal["fail", "escalate"] = "fail"

    @property
    def name(self) -> str:
        """The runbook's name (a path's stem): how phases are named and resumed."""
        return Path(self.runbook).stem


class Scenario(_Model):
    """A sandbox story: the image (and fault env vars) serving before the playbook, how the
    Monitoring and Logging emulation behave (`observability`, e.g. `{"monitoring": {"fault":
    "unavailable"}}`), and parameters for its runbooks as `"runbook.parameter" = value`.

    A scenario stages only what it names: the service's other settings and the APIs it does
    not name stay as they are, so a story told after `netra-ops sandbox scenario realistic`
    is told on staging's terms (start-up, digests, agent timing, late data). `expect` is the
    outcome the story ends in (`netra-ops rehearse` checks it)."""

    description: str = ""
    expect: Literal["remediated", "rolled_back", "held"] | None = None
    serving_image_tag: str | None = None
    serving_env: dict[str, str] = Field(default_factory=dict)
    observability: dict[str, dict[str, Any]] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)


class Playbook(_Model):
    """The runbooks in order, the branches, the final runbook and the scenarios."""

    name: str
    description: str = ""
    steps: list[Step] = Field(min_length=1)
    branches: dict[str, list[Step]] = Field(default_factory=dict)
    final: Step | None = Field(default=None, alias="finally")
    scenarios: dict[str, Scenario] = Field(default_factory=dict)
    source: Path | None = None

    @model_validator(mode="after")
    def _branches_exist(self) -> Playbook:
        for step in self.steps:
            if step.on_rollback and step.on_rollback not in self.branches:
                known = ", ".join(self.branches) or "none"
                raise ValueError(f"step {step.runbook} branches to unknown "
                                 f"{step.on_rollback!r} (branches: {known})")
        return self

    def all_steps(self) -> list[Step]:
        """Every step: main, branches, final."""
        branch_steps = [s for steps in self.branches.values() for s in steps]
        return [*self.steps, *branch_steps, *([self.final] if self.final else [])]


def find_playbook(name_or_path: str | Path) -> Path:
    """A playbook by path, or by name in ./playbooks or the playbooks/ beside the package."""
    text = str(name_or_path)
    if text.endswith(".toml") and Path(text).is_file():
        return Path(text).resolve()
    stem = Path(text).stem
    folders = [Path.cwd() / "playbooks", Path(__file__).resolve().parents[2] / "playbooks"]
    for folder in folders:
        if (folder / f"{stem}.toml").is_file():
            return (folder / f"{stem}.toml").resolve()
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
    raise RunError(f"no playbook {text!r} (playbooks: {', '.join(known) or 'none'})")


def is_playbook(name_or_path: str | Path) -> bool:
    """True when the name or path refers to a playbook rather than a runbook."""
    try:
        find_playbook(name_or_path)
    except RunError:
        return False
    return True


def load_playbook(name_or_path: str | Path) -> Playbook:
    """Read and validate a playbook; every runbook it names must exist."""
    path = find_playbook(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        playbook = Playbook.model_validate({**data, "source": path})
    except tomllib.TOMLDecodeError as exc:
        raise RunError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise RunError(f"{path}: key '{key}': {first['msg']}") from None
    for step in playbook.all_steps():
        find_runbook(step.runbook)
    return playbook
