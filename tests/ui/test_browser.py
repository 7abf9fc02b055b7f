"""The control panel in a real browser: JupyterLab on loopback, headless Debian Chromium.

The tests run in order on one JupyterLab, one browser page and the module's private
sandbox: open runbook 08 and run its cells; click the golden-path button and see the result
(the time from the click to the result on screen goes to test-artifacts/timings.json);
deploy and roll back through the two-step confirmation and see traffic move; start and stop
a watch; then open an incident's index.html and a runbook's HTML export from outputs/ and
see their charts. Screenshots: test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lab_browser import ARTIFACTS, SCREENSHOTS, LabServer

from netra_ops.config import Environment
from netra_ops.deploy import read_service
from netra_ops.record import run_notebook, verify_incident
from netra_ops.sandbox.scenarios import image_with_tag
from netra_ops.ui import journal_entries

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

RUNBOOK = "08_control_panel"
INCIDENT = "local"  # the runbook's default incident_id
CLICKS = 5
# The time of the click on the golden-path button, in the page's clock.
WATCH_CLICK = """(before) => {
  window.__netraClick = {before};
  document.addEventListener('click', event => {
    if (event.target.closest('.netra-ops-golden-path')) {
      window.__netraClick.click = performance.now();
    }
  }, {capture: true, once: true});
}"""
# True, and the time noted, once the result line shows something new after the click
# (polled at every animation frame: the time it is on screen, within a frame).
RESULT_SHOWN = """() => {
  const watch = window.__netraClick;
  const line = document.querySelector('.netra-ops-result');
  if (watch.click === undefined || !line || line.textContent === watch.before) return false;
  if (watch.shown === undefined) watch.shown = performance.now();
  return true;
}"""
CHART_IMAGES = """(selector) => Array.from(document.querySelectorAll(selector)).map(
  img => ({src: img.src.slice(0, 22), width: img.naturalWidth, complete: img.complete}))"""


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def shoot_panel(page: Any, name: str) -> None:
    """The panel alone (JupyterLab scrolls inside its own panes)."""
    page.locator(".netra-ops-panel").screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def serving(env: Environment) -> dict[str, int]:
    return read_service(env).serving


@pytest.fixture(scope="module")
def panel_page(lab: LabServer, browser_page: Any) -> Any:
    """Runbook 08 opened in JupyterLab with all its cells run."""
    page = browser_page
    page.goto(lab.notebook_url(f"{RUNBOOK}.ipynb"))
    try:
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               timeout=60_000)
        lab.wait_kernel_connected()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        accept_kernel = page.locator(".jp-Dialog:has-text('Select Kernel') .jp-mod-accept")
        panel = page.locator(".netra-ops-panel .netra-ops-tiles")
        panel.or_(accept_kernel).first.wait_for(timeout=60_000)
        if accept_kernel.is_visible():  # JupyterLab asks when its kernel list came late
            accept_kernel.click()
        panel.wait_for(timeout=60_000)
        page.wait_for_selector(".jp-OutputArea-output:has-text('Control panel: services at "
                               "a glance: PASS')", timeout=60_000)
    except Exception:
        shoot(page, "00-failed-to-open-the-panel")
        raise
    return page


def test_the_panel_runs_in_jupyterlab_on_the_projects_kernel(
        panel_page: Any, lab: LabServer) -> None:
    tiles = panel_page.locator(".netra-ops-tile")
    assert tiles.count() == 3
    assert [t.get_attribute("data-role") for t in tiles.all()] == ["backend", "auth",
                                                                   "frontend"]
    for tile in tiles.all():
        assert tile.locator(".state").inner_text() == "✔ healthy"
    assert "▶ serving" in panel_page.locator(".netra-ops-revisions").inner_text()
    panel_page.wait_for_function(
        f"() => ({CHART_IMAGES})('.netra-ops-chart img, img.netra-ops-chart')"
        ".filter(i => i.width > 0).length === 2")
    kernels = lab.kernels()
    assert len(kernels) == 1 and kernels[0].cmdline()[0] == sys.executable
    shoot(panel_page, "01-runbook-in-jupyterlab")
    shoot_panel(panel_page, "02-panel")


def test_golden_path_click_shows_the_result(panel_page: Any, lab: LabServer) -> None:
    button, result = ".netra-ops-golden-path", ".netra-ops-result"
    in_page, wall = [], []
    for click in range(CLICKS):
        panel_page.wait_for_selector(f"{button}:not([disabled])")
        panel_page.evaluate(WATCH_CLICK, panel_page.locator(result).text_content())
        started = time.perf_counter()
        panel_page.click(button)
        panel_page.wait_for_function(RESULT_SHOWN, polling="raf")
        wall.append((time.perf_counter() - started) * 1000)
        in_page.append(panel_page.evaluate("window.__netraClick.shown - window.__netraClick.click"))
        text = panel_page.locator(result).inner_text()
        assert re.match(rf"#{click + 1} ✔ golden path passed in \d+ ms", text), text
        if click == 0:
            shoot_panel(panel_page, "03-golden-path-result")
    timings = {"golden_path_click_to_result_ms": {
        "in_page": [round(v, 1) for v in in_page], "wall": [round(v, 1) for v in wall],
        "median_in_page": round(statistics.median(in_page), 1),
        "median_wall": round(statistics.median(wall), 1)}}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    print(f"golden path, click to result on screen: {timings}")
    # the panel shows a result, then journals it: the last entry may land just after
    deadline = time.monotonic() + 30
    while True:
        recorded = [e for e in journal_entries(INCIDENT, lab.outputs) if e["name"] ==
                    "ui.golden_path"]
        if len(recorded) >= CLICKS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(recorded) == CLICKS and all(e["value"]["outcome"] == "passed" for e in recorded)


def confirm_box(page: Any) -> Any:
    page.wait_for_selector(".netra-ops-confirm-message:has-text('Confirm?')")
    return page.locator(".netra-ops-confirm-message").inner_text()


def test_deploy_and_rollback_need_a_second_explicit_confirmation(
        panel_page: Any, module_sandbox_env: Environment, lab: LabServer) -> None:
    env, page = module_sandbox_env, panel_page
    first = read_service(env).serving_revision
    assert env.release.image and first
    stale = image_with_tag(env.release.image, "main-stale")

    page.fill(".netra-ops-image input", stale)
    page.click(".netra-ops-deploy")
    question = confirm_box(page)
    assert question.startswith(f"⚠ Deploy {stale}") and "100% to it once Ready" in question
    shoot_panel(page, "04-deploy-confirmation")
    assert serving(env) == {first: 100}, "planning a deploy must change nothing"
    page.click(".netra-ops-confirm-yes")
    page.wait_for_selector(".netra-ops-result:has-text('deploy done')")
    second = read_service(env).serving_revision
    assert second != first and serving(env) == {second: 100}

    page.click(".netra-ops-rollback")
    question = confirm_box(page)
    assert f"traffic: {second} 100% -> {first} 100%" in question
    page.click(".netra-ops-confirm-no")
    page.wait_for_selector(".netra-ops-result:has-text('rollback cancelled')")
    assert serving(env) == {second: 100}, "a cancelled rollback must change nothing"

    page.click(".netra-ops-rollback")
    confirm_box(page)
    shoot_panel(page, "05-rollback-confirmation")
    page.click(".netra-ops-confirm-yes")
    page.wait_for_selector(".netra-ops-result:has-text('rollback done')")
    assert serving(env) == {first: 100}
    row = page.locator(".netra-ops-revisions tr", has_text=first)
    row.filter(has_text="▶ serving").wait_for()
    assert "100%" in row.inner_text()
    shoot_panel(page, "06-rollback-done")
    outcomes = [(e["name"], e["value"]["outcome"]) for e in journal_entries(INCIDENT,
                                                                            lab.outputs)]
    assert outcomes[-3:] == [("ui.deploy", "done"), ("ui.rollback", "cancelled"),
                             ("ui.rollback", "done")]


def test_a_watch_of_the_rollback_rules_starts_and_stops(panel_page: Any,
                                                        lab: LabServer) -> None:
    page = panel_page
    page.click(".netra-ops-watch")
    page.wait_for_selector(".netra-ops-watch-status:has-text('tick 1')")
    page.wait_for_selector(".netra-ops-rules-table")
    assert page.locator(".netra-ops-watch").inner_text().strip() == "Stop watch"
    shoot_panel(page, "07-watch")
    page.click(".netra-ops-watch")
    page.wait_for_selector(".netra-ops-watch-status:has-text('watch stopped')",
                           timeout=20_000)
    names = [(e["name"], e["value"]["outcome"]) for e in journal_entries(INCIDENT,
                                                                         lab.outputs)]
    assert names[-2:] == [("ui.watch", "started"), ("ui.watch", "stopped")]
    assert "ui.watch = " in page.locator(".netra-ops-log").inner_text()


def test_incident_records_open_in_the_browser_with_their_charts(
        browser_page: Any, module_sandbox_env: Environment, lab: LabServer) -> None:
    result = run_notebook(RUNBOOK, environment=str(module_sandbox_env.source),
                          incident=INCIDENT, outputs_dir=lab.outputs)
    assert result.exit_code == 0, result.summary["failing_cell"]
    incident = lab.outputs / INCIDENT
    assert verify_incident(incident).ok, "the journal and the runs must match the manifest"
    page = browser_page
    page.goto((incident / "index.html").as_uri())
    link = page.locator("a", has_text="HTML")
    assert link.count() == 1 and RUNBOOK in page.locator("table").inner_text()
    shoot(page, "08-incident-index")
    link.click()
    page.wait_for_selector("text=(snapshot)")
    page.wait_for_function(f"() => ({CHART_IMAGES})('img').filter(i => i.complete).length "
                           ">= 2")
    images = page.evaluate(f"({CHART_IMAGES})('img')")
    charts = [i for i in images if i["src"].startswith("data:image/png")]
    assert len(charts) >= 2 and all(i["width"] > 0 for i in charts), images
    assert page.locator("text=✔ healthy").count() >= 3
    assert Path(page.url.removeprefix("file://")).name == f"{RUNBOOK}.html"
    shoot(page, "09-runbook-html")
