"""The container image of netra-ops: the Dockerfile and its build context, checked without
docker (the Dockerfile parsed, `.dockerignore` applied as docker applies it), and a real
build where a docker daemon answers.

`.dockerignore` follows docker's rules: patterns relative to the context root, `*` within
one path segment, `**` across any, a directory left out leaves out what is in it, `!`
lets a path back in, the last matching line decides.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from docker_daemon import daemon_answers

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "netra-ops-test/netra-ops:local"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments out."""
    found: list[tuple[str, str]] = []
    pending = ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
            pending = ""
    return found


def ignore_rules(root: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(lets back in, regex) per line of root/.dockerignore."""
    rules = []
    for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = ""
        for part in re.split(r"(\*\*/?|\*|\?)", pattern):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
                part, re.escape(part))
        rules.append((negated, re.compile(regex + "$")))
    return rules


def excluded(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether docker leaves `relative` (a/b/c) out of the context: the last rule matching
    it or one of its parent folders decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = False
    for negated, regex in rules:
        if any(regex.match(p) for p in prefixes):
            verdict = not negated
    return verdict


def context_files(root: Path) -> set[str]:
    """The files of the build context: every file under `root` that .dockerignore keeps
    (folders no rule lets anything back into are not walked: .venv, .git, ...)."""
    rules = ignore_rules(root)
    reentries = [regex.pattern for negated, regex in rules if negated]
    kept: set[str] = set()
    for folder, dirs, files in os.walk(root):
        base = Path(folder).relative_to(root).as_posix()
        base = "" if base == "." else base + "/"
        dirs[:] = [d for d in dirs if not excluded(base + d, rules)
                   or any(p.startswith(re.escape(base + d)) for p in reentries)]
        kept |= {base + f for f in files if not excluded(base + f, rules)}
    return kept


def copied_sources(steps: list[tuple[str, str]]) -> list[str]:
    """The sources of every COPY (no --from): what must be in the context."""
    sources = []
    for word, arguments in steps:
        if word == "COPY":
            args = [a for a in shlex.split(arguments) if not a.startswith("--")]
            assert not any(a.startswith("--from") for a in shlex.split(arguments))
            sources += args[:-1]
    return sources


STEPS = instructions(ROOT / "Dockerfile")


def _index(word: str, text: str) -> int:
    return next(i for i, (w, a) in enumerate(STEPS) if w == word and text in a)


def test_a_slim_python_base_installs_the_lock_with_hashes_then_netra_ops_without_deps() -> None:
    [base] = [a for w, a in STEPS if w == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", base), base
    lock = _index("RUN", "--require-hashes -r requirements.lock")
    assert _index("COPY", "requirements.lock") < lock
    package = _index("RUN", "pip install --no-deps .")
    assert lock < package and _index("COPY", "netra_ops") < package
    installs = [a for w, a in STEPS if w == "RUN" and "pip install" in a]
    assert len(installs) == 2  # nothing else is installed beside the lock's pins


def test_the_lock_it_installs_pins_every_dependency_with_hashes() -> None:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {m.group(1).lower().replace("_", "-")
              for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower().replace("_", "-")
              for d in project["dependencies"]}
    assert wanted <= pinned, wanted - pinned
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 1)[1])
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)


def test_the_runbooks_a_non_root_user_and_the_cli_as_entrypoint() -> None:
    sources = copied_sources(STEPS)
    assert {"notebooks", "playbooks", "environments"} <= set(sources)
    [user] = [a for w, a in STEPS if w == "USER"]
    assert user not in ("root", "0") and not user.startswith("0:")
    assert _index("USER", user) > max(i for i, (w, _) in enumerate(STEPS) if w == "RUN")
    [entrypoint] = [a for w, a in STEPS if w == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["netra-ops"]  # exec form: signals reach the CLI
    env = " ".join(a for w, a in STEPS if w == "ENV")
    spec = (ROOT / "netra_ops" / "schedule" / "job_spec.py").read_text(encoding="utf-8")
    assert 'IMAGE_OUTPUTS = "/app/outputs"' in spec and "NETRA_OPS_OUTPUTS=/app/outputs" in env


def test_the_context_holds_what_the_dockerfile_copies_and_the_cli_needs() -> None:
    files = context_files(ROOT)
    for source in copied_sources(STEPS):
        assert source in files or any(f.startswith(source + "/") for f in files), source
    tracked = subprocess.run(["git", "ls-files", "netra_ops", "notebooks", "playbooks",
                              "environments"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked and set(tracked) <= files, sorted(set(tracked) - files)[:5]
    assert {"netra_ops/cli.py", "netra_ops/py.typed", "requirements.lock",
            "pyproject.toml", "README.md"} <= files
    assert any(f.startswith("netra_ops/sandbox/services/static/") for f in files)


def test_the_context_leaves_out_secrets_records_venvs_and_git(tmp_path: Path) -> None:
    """On a copy of the ignore file, with the files a working copy accumulates planted."""
    shutil.copy(ROOT / ".dockerignore", tmp_path / ".dockerignore")
    planted = [".git/config", ".venv/bin/python", ".venv-latest/x", ".sandbox/secrets/jwt-secret",
               "outputs/INC-1/manifest.json", "outputs/README.md", ".env",
               "credentials.json", "netra_ops/__pycache__/cli.cpython-311.pyc",
               "notebooks/.ipynb_checkpoints/01-checkpoint.ipynb", "netra_ops.egg-info/PKG-INFO",
               "tests/test_x.py", ".mypy_cache/x", "bench/x.py", "docs/x.md"]
    kept = ["netra_ops/cli.py", "notebooks/01_preflight.ipynb", "playbooks/p.toml",
            "environments/staging.toml", "requirements.lock", "pyproject.toml", "README.md"]
    for name in planted + kept:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert context_files(tmp_path) == set(kept)


def test_the_ignore_matcher_follows_dockers_rules() -> None:
    rules = [(False, re.compile(r"[^/]*$")), (True, re.compile(r"keep$")),
             (False, re.compile(r"(?:.*/)?__pycache__$"))]
    assert excluded("other", rules) and not excluded("keep/a.py", rules)
    assert excluded("keep/x/__pycache__/a.pyc", rules)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not daemon_answers(), reason="no docker daemon answers here")
def test_the_image_builds_and_runs_the_cli_as_a_user() -> None:
    subprocess.run(["docker", "build", "-t", IMAGE, "."], cwd=ROOT, check=True,
                   capture_output=True, timeout=1700)
    try:
        helped = subprocess.run(["docker", "run", "--rm", IMAGE, "schedule", "--help"],
                                capture_output=True, text=True, timeout=120, check=False)
        assert helped.returncode == 0 and "--deploy-jobs" in helped.stdout, helped.stderr
        who = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", IMAGE, "-u"],
                             capture_output=True, text=True, timeout=120, check=True)
        assert who.stdout.strip() not in ("", "0")
        books = subprocess.run(["docker", "run", "--rm", IMAGE, "run", "99_none", "-i", "x"],
                               capture_output=True, text=True, timeout=120, check=False)
        assert "04_golden_path_validation" in books.stdout + books.stderr
    finally:
        subprocess.run(["docker", "image", "rm", IMAGE], capture_output=True, check=False)
