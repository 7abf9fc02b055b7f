"""Fixtures of the browser test: JupyterLab on loopback, Debian's Chromium driven by Playwright.

See lab_browser.py for what they start and how they make sure it stops.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from browser_pages import require_chromium
from lab_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NOTEBOOK_SETTINGS,
    PAGE_CONFIG,
    ROOT,
    SCREENSHOTS,
    LabServer,
    gone_within,
    lab_command,
    lab_environment,
    stop_processes,
    wait_answering,
)

from netra_ops.config import Environment
from netra_ops.sandbox.ephemeral import free_ports


@pytest.fixture(scope="module")
def lab(module_sandbox_env: Environment,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab on loopback over a copy of notebooks/, against the private sandbox."""
    folder = tmp_path_factory.mktemp("lab")
    root, outputs = folder / "notebooks", folder / "outputs"
    shutil.copytree(ROOT / "notebooks", root)
    (folder / "config" / "labconfig").mkdir(parents=True)
    (folder / "config" / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    tracker = folder / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps(NOTEBOOK_SETTINGS))
    port, token = free_ports(1)[0], secrets.token_hex(16)
    log = folder / "lab.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            lab_command(port, token, root, folder),
            env=lab_environment(module_sandbox_env, folder, outputs), cwd=root,
            stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, outputs, process, log)
    try:
        wait_answering(server)
        server.processes()
        yield server
    finally:
        if process.poll() is None:
            server.processes()
            process.terminate()
        survivors = gone_within(server.seen, 20.0)
        stop_processes(set(survivors))
        process.wait(timeout=10)
    assert survivors == [], f"JupyterLab or kernel processes survived: {survivors}"


def _driver_processes() -> list[psutil.Process]:
    """Playwright's driver (a child of this process) and the Chromium it launched."""
    found = []
    for child in psutil.Process().children():
        try:
            if "run-driver" in " ".join(child.cmdline()):
                found += [child, *child.children(recursive=True)]
        except psutil.Error:
            pass
    return found


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    """A headless Debian Chromium page (1400 x 2400: the whole panel fits), driven by
    Playwright."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: set[int] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        seen.update(p.pid for p in _driver_processes())
        assert any("chromium" in p.name() for p in _driver_processes()), "no chromium runs"
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.set_default_timeout(30_000)
            yield page
        finally:
            seen.update(p.pid for p in _driver_processes())
            browser.close()
    survivors = gone_within(seen, 10.0)
    stop_processes(set(survivors))
    assert survivors == [], f"Chromium or Playwright's driver survived: {survivors}"
