"""Helpers of the browser test: JupyterLab on loopback, Chromium, process bookkeeping.

The fixtures in conftest.py use them. `lab` starts `jupyter lab` from this venv on a free
loopback port with a random token, its root a temporary copy of notebooks/, its
configuration, runtime, settings and workspaces in temporary folders, and
`NETRA_OPS_ENVIRONMENTS` pointing at the module's private sandbox (so the runbook's
`environment = ""`, the default `sandbox`, is that sandbox). `browser_page` launches
/usr/bin/chromium headless (never a browser Playwright downloads). Both stop what they
started, by pid, and fail the test if a JupyterLab, kernel or Chromium process survives.
Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from browser_pages import ARTIFACTS as ARTIFACTS  # re-exported: conftest, test_browser
from browser_pages import CHROMIUM as CHROMIUM
from browser_pages import CHROMIUM_ARGS as CHROMIUM_ARGS
from browser_pages import ROOT as ROOT
from browser_pages import SCREENSHOTS as SCREENSHOTS

from netra_ops.config import Environment

# Jupyter's "get notified about news?" toast would cover the bottom of the page.
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
# Start the notebook's own kernel (python3, this venv's) without asking.
NOTEBOOK_SETTINGS = {"autoStartDefaultKernel": True}


@dataclass
class LabServer:
    """A running JupyterLab: where it answers, its token, its folders, its processes."""

    url: str
    token: str
    root: Path
    outputs: Path
    process: subprocess.Popen[bytes]
    log: Path
    seen: set[int] = field(default_factory=set)

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def processes(self) -> list[psutil.Process]:
        """The server and everything it started (kernels), remembered for the teardown."""
        server = psutil.Process(self.process.pid)
        found = [server, *server.children(recursive=True)]
        self.seen.update(p.pid for p in found)
        return found

    def wait_kernel_connected(self, within_s: float = 60.0) -> None:
        """Until the server has one kernel, idle, with the page connected to it.

        An answer that is not the list of kernels is polled past: jupyter_server lists a
        kernel the instant it is added, before it sets the kernel's `last_activity`, and a
        request in that instant gets HTTP 500 (seen in CI on a busy machine); a request
        can also time out. If no kernel settles, the last answer and the end of the
        server's log say why.
        """
        deadline = time.monotonic() + within_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            kernels, last = self._kernel_list()
            if any(k.get("execution_state") == "idle" and k.get("connections", 0) > 0
                   for k in kernels):
                return
            time.sleep(0.2)
        raise AssertionError(f"no kernel connected and idle within {within_s} s; the last "
                             f"answer of /api/kernels: {last}\n{self.log_tail()}")

    def _kernel_list(self) -> tuple[list[dict[str, Any]], str]:
        """The server's kernels (empty when it did not answer with them) and what it said."""
        try:
            response = httpx.get(f"{self.url}/api/kernels", timeout=5,
                                 headers={"Authorization": f"token {self.token}"})
        except httpx.HTTPError as error:
            return [], f"{type(error).__name__}: {error}"
        said = f"HTTP {response.status_code} {response.text[:300]}"
        try:
            answer = response.json()
        except ValueError:
            return [], said
        if response.status_code != 200 or not isinstance(answer, list):
            return [], said
        return [k for k in answer if isinstance(k, dict)], said

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (JupyterLab writes its errors there)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError as error:
            return f"(no log at {self.log}: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def kernels(self) -> list[psutil.Process]:
        return [p for p in self.processes() if "ipykernel_launcher" in " ".join(p.cmdline())]


def alive(pids: set[int]) -> list[int]:
    """Which of `pids` still run (zombies count as gone)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.Error:
            pass
    return running


def gone_within(pids: set[int], timeout_s: float) -> list[int]:
    """Wait up to `timeout_s` for `pids` to end; those still running."""
    deadline = time.monotonic() + timeout_s
    while (running := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running


def stop_processes(pids: set[int], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout_s`, each process by pid."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(pid))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, left = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=5)


def lab_command(port: int, token: str, root: Path, folder: Path) -> list[str]:
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly",
               f"--LabApp.user_settings_dir={folder / 'settings'}",
               f"--LabApp.workspaces_dir={folder / 'workspaces'}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    return command


def lab_environment(env: Environment, folder: Path, outputs: Path) -> dict[str, str]:
    assert env.source is not None
    variables = {k: v for k, v in os.environ.items() if k != "NETRA_OPS_HEADLESS"}
    variables.update(NETRA_OPS_ENVIRONMENTS=str(env.source.parent),
                     NETRA_OPS_OUTPUTS=str(outputs), JUPYTER_PREFER_ENV_PATH="1",
                     JUPYTER_CONFIG_DIR=str(folder / "config"),
                     JUPYTER_RUNTIME_DIR=str(folder / "runtime"))
    return variables


def wait_answering(server: LabServer, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"jupyter lab exited: {server.log.read_text()[-2000:]}")
        try:
            answer = httpx.get(f"{server.url}/api/status", timeout=2,
                               headers={"Authorization": f"token {server.token}"})
            if answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"jupyter lab did not answer within {within_s} s")


