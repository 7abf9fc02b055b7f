"""Shared fixtures: sandbox environments on free loopback ports, in temporary folders.

- `make_sandbox_env()` writes a copy of environments/sandbox.toml with free ports and a
  temporary state dir, and returns the loaded Environment (nothing started). Every sandbox
  started from one is stopped at the end of the session, as a safety net.
- `sandbox_env` is one running sandbox shared by the whole session (`up()` once, `down()` at
  the end, asserting no recorded process survives). Do not break it: tests that deploy
  scenarios or kill processes start their own with `make_sandbox_env`.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from runbook_records import run_command

from netra_ops.config import Environment, load_environment
from netra_ops.processes import same_start
from netra_ops.sandbox.ephemeral import write_sandbox_environment

# Each worker reads records with nbformat, whose jsonschema would compile rfc3987-syntax's
# grammar (1.3 s of CPU here) for a format no notebook schema uses: as netra_ops.cli does.
# Nothing imported above may import nbformat (runbook_records imports it when called).
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

ROOT = Path(__file__).resolve().parent.parent


def recorded_processes(env: Environment) -> list[tuple[int, float | None]]:
    """(pid, create_time) of every process the sandbox's state files name."""
    assert env.sandbox is not None
    state = env.sandbox.state_dir
    found = []
    files = [("sandbox.json", "processes"), ("revisions.json", "revisions")]
    files += [(p.name, "revisions") for p in sorted(state.glob("revisions-*.json"))]
    for name, key in files:
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
        if create_time is not None and not same_start(process, create_time):
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# The longest modules, longest first (`--durations`, 2026-12-07, 2-core machine: 100-170 s
# each): they start first, see pytest_collection_modifyitems. The playbook rehearsals are
# split across modules so that the workers run them side by side.
LONGEST_MODULES = ("tests/test_playbook_realistic_leak.py", "tests/test_playbook_realistic.py",
                   "tests/test_playbook_scenarios.py", "tests/docs/test_guides.py",
                   "tests/docs/test_guides_records.py", "tests/test_playbook_realistic_held.py",
                   "tests/test_cli.py", "tests/test_playbook_memory_leak.py",
                   "tests/record/test_playbook_engine.py",
                   "tests/deploy/test_rollout_realistic.py", "tests/watch/test_watch_rehearsal.py",
                   "tests/watch/test_watch_memory_leak.py", "tests/test_playbook_url_mismatch.py",
                   "tests/test_runbook_performance_realistic.py", "tests/test_runbooks_deploy.py",
                   "tests/test_playbook_failures.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules run first, each module's own order kept: LONGEST_MODULES, then modules
    whose every test is slow, then those with some slow or sandbox tests, then the rest.

    Under `--dist loadfile` a worker takes one module at a time, in collection order
    (`--no-loadscope-reorder`; xdist's default takes the modules with the most tests first,
    which started the playbook and the guides, long modules of a few tests, last, and left
    one worker running them alone). Long modules first, the many short ones then even out
    the two workers' ends.
    """
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    def slow(item: pytest.Item) -> bool:
        return item.get_closest_marker("slow") is not None

    fast = {module(i) for i in items if not slow(i)}
    all_slow = {module(i) for i in items} - fast
    some_long = {module(i) for i in items if slow(i) or i.get_closest_marker("sandbox")}

    def tier(item: pytest.Item) -> tuple[int, int]:
        name = module(item)
        if name in LONGEST_MODULES:
            return 0, LONGEST_MODULES.index(name)
        return (1 if name in all_slow else 2 if name in some_long else 3), 0

    items.sort(key=tier)


@pytest.fixture(autouse=True, scope="module")
def long_lived_objects_frozen() -> None:
    """Before each test module, move what is alive (imported modules, collected tests,
    session fixtures) out of the cyclic garbage collector's reach (`gc.freeze()`).

    A worker holds a great many such objects, and every full collection walked them all:
    Python's own, as a test allocates, and the explicit ones of the leak checks
    (tests/probe/hostile_http.py's `no_leaks`), about 0.25 s each. What a test makes is
    still collected. The collection first lets the previous module's garbage go (its module
    fixtures are torn down by now); what is frozen lives on in the worker, and one of them
    dropped later is freed by its reference count, or, if in a cycle, when the worker ends.
    """
    gc.collect()
    gc.freeze()


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


@pytest.fixture()
def restored_sandbox_env(sandbox_env: Environment) -> Iterator[Environment]:
    """The session's sandbox, for a test that changes what it serves: put back afterwards to
    the fixed build by tag with the environment's expected env (`apply_scenario(env,
    "fixed")`), so that no later test on the worker sees a digest or a changed env."""
    from netra_ops import sandbox

    yield sandbox_env
    sandbox.apply_scenario(sandbox_env, "fixed")


@pytest.fixture(scope="module")
def module_sandbox_env(make_sandbox_env: Callable[[], Environment]) -> Iterator[Environment]:
    """A running sandbox of the test module's own, for tests that deploy and roll back."""
    from netra_ops import sandbox

    environment = make_sandbox_env()
    sandbox.up(environment)
    yield environment
    sandbox.down(environment)


RunbookCli = Callable[..., tuple[subprocess.CompletedProcess[str], Path]]


@pytest.fixture(scope="session")
def run_runbook_cli() -> RunbookCli:
    """`run(runbook, env, outputs, incident, *params)`: `netra-ops run` in a subprocess, as a
    user runs it; returns the process and the one record folder it wrote."""

    def run(runbook: str, env: Environment, outputs: Path, incident: str,
            *params: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        result = subprocess.run(run_command(runbook, env, outputs, incident, *params),
                                cwd=ROOT, capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        runs = sorted(p for p in (outputs / incident).iterdir() if p.is_dir())
        assert len(runs) == 1, runs
        return result, runs[0]

    return run
