"""Headless Debian Chromium for tests that look at pages: where it is, how it is launched,
where screenshots are kept (test-artifacts/screenshots/, kept after the run; CI uploads
test-artifacts/), and a page to open records with (`headless_page`).

The control panel's browser test (tests/ui/) and the rehearsals' index pages use it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def require_chromium() -> None:
    """Skip the test when Debian's chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: run `make browser` (as root) or "
                    "`sudo apt-get install -y chromium`")


@contextmanager
def headless_page(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A headless Chromium page (never a browser Playwright downloads), closed after."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot, kept as test-artifacts/screenshots/<name>.png."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
