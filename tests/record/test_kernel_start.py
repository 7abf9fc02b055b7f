"""A kernel that dies before it is ready is replaced; one that dies while a cell runs is not.

The failure staged is the one seen on busy CI hosts: jupyter_client picks the kernel's ports
free, and another process binds one of them before the kernel can. Here a listening socket
of this test holds the port jupyter_client hands out first (the shell port), so the kernel
dies with "Address already in use", as it would on a host where the race was lost.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.provisioning import local_provisioner

from netra_ops.record import RunResult, run_notebook
from netra_ops.record.execution import KERNEL_START_ATTEMPTS

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SANDBOX_TOML = Path(__file__).resolve().parents[2] / "environments" / "sandbox.toml"
PORTS_PER_KERNEL = 5  # shell, iopub, stdin, heartbeat, control, in that order


@pytest.fixture()
def taken_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def lose_the_port_race(monkeypatch: pytest.MonkeyPatch, port: int, kernels: int) -> None:
    """The first `kernels` kernels started get `port`, already taken, as their shell port."""
    original = local_provisioner.LocalPortCache.find_available_port
    handed_out: list[int] = []

    def find_available_port(self: object, ip: str) -> int:
        handed_out.append(1)
        starting = (len(handed_out) - 1) // PORTS_PER_KERNEL
        first_of_kernel = (len(handed_out) - 1) % PORTS_PER_KERNEL == 0
        if first_of_kernel and starting < kernels:
            return port
        return int(original(self, ip))  # type: ignore[arg-type]

    monkeypatch.setattr(local_provisioner.LocalPortCache, "find_available_port",
                        find_available_port)


def run(name: str, tmp_path: Path, **kw: object) -> RunResult:
    env = tmp_path / "sandbox.toml"
    env.write_text(SANDBOX_TOML.read_text(encoding="utf-8"), encoding="utf-8")
    return run_notebook(NOTEBOOKS / f"{name}.ipynb", environment=str(env), incident="INC-k",
                        outputs_dir=tmp_path / "out", **kw)  # type: ignore[arg-type]


def test_a_kernel_that_dies_before_it_is_ready_is_replaced_and_the_log_says_why(
        tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lose_the_port_race(monkeypatch, taken_port, kernels=1)
    result = run("ok", tmp_path, parameters={"runs": 2})
    assert (result.status, result.exit_code) == ("passed", 0)
    assert result.summary["records"]["probe.count"] == 2
    log = (result.record_dir / "run.log").read_text(encoding="utf-8")
    assert "Address already in use" in log
    assert ("kernel 1 died before it was ready (RuntimeError: Kernel died before replying to "
            "kernel_info); no cell had run, so a new kernel was started") in log
    assert "kernel 2 died" not in log


def test_a_kernel_that_never_gets_ready_fails_the_run_after_the_last_attempt(
        tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    lose_the_port_race(monkeypatch, taken_port, kernels=KERNEL_START_ATTEMPTS)
    result = run("ok", tmp_path)
    assert (result.status, result.exit_code) == ("error", 3)
    assert result.summary["failing_cell"] is None  # no cell ran: the banner says why
    assert ("Execution stopped before any cell ran: RuntimeError: Kernel died before "
            "replying to kernel_info") in result.html_path.read_text(encoding="utf-8")
    log = (result.record_dir / "run.log").read_text(encoding="utf-8")
    assert log.count("Address already in use") == KERNEL_START_ATTEMPTS
    assert f"kernel {KERNEL_START_ATTEMPTS - 1} died before it was ready" in log
    assert f"kernel {KERNEL_START_ATTEMPTS} died" not in log


def test_a_kernel_that_dies_while_a_cell_runs_is_not_replaced(tmp_path: Path) -> None:
    result = run("kernel_dying", tmp_path)
    assert (result.status, result.exit_code) == ("kernel_died", 5)
    log = (result.record_dir / "run.log").read_text(encoding="utf-8")
    assert "died before it was ready" not in log
    assert result.summary["records"] == {"before_exit": True}
