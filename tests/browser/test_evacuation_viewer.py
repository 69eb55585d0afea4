"""The console's evacuation panel in Debian's Chromium: agents of a finished flood + evacuation job
are drawn over the city and move when the flood time slider moves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser.serving import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    NEEDS_CHROMIUM,
    running_server,
)
from tests.twin.fixtures_city import (
    CITY_ID,
    TWIN,
    converted_sample_city,
    data_dir_linking,
)

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``twin serve`` over the sample city with one finished flood + evacuation job made by
    ``twin scenario run``; yields (base URL, job id)."""
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    done = subprocess.run([TWIN, "scenario", "run", "--data-dir", str(home), "--city", CITY_ID,
                           "--scenario", "cloudburst-100mm", "--cell-size", "8", "--duration", "1200",
                           "--evacuation", "--people-per-agent", "2", "--evacuation-cell-size", "4",
                           "--evacuation-duration", "1200"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    job_id = next((home / "scenarios").iterdir()).name
    with running_server(home) as base:
        yield base, job_id


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), float)


def test_agents_move_with_the_flood_slider(server):
    base, job_id = server
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
        page.goto(base + "/")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=150_000)
        page.wait_for_selector(f"#flood-jobs option[value='{job_id}']", state="attached", timeout=90_000)  # slow when loaded
        page.select_option("#flood-jobs", job_id)
        page.evaluate("document.querySelector('#flood-open').click()")
        page.wait_for_selector(f"#evacuation[data-job='{job_id}'][data-time='0']", timeout=90_000)
        assert page.is_visible("#evacuation")
        assert page.locator("#evac-clearance svg").count() == 1
        assert page.locator("#evac-loads svg").count() == 1
        count = page.evaluate("window.twinViewer.evacuation.agents.length")
        assert count > 50
        start = page.evaluate("JSON.parse(document.querySelector('#evacuation').dataset.counts)")
        assert start["waiting"] > 0  # nobody leaves before the warning delay
        page.wait_for_timeout(1500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "evacuation-0.png"))

        last = page.evaluate("Number(document.querySelector('#flood-time').max)")
        page.evaluate("""k => { const s = document.querySelector('#flood-time'); s.value = String(k);
                                s.dispatchEvent(new Event('input')); }""", last)
        page.wait_for_function("document.querySelector('#evacuation').dataset.time !== '0'", timeout=60_000)
        later = page.evaluate("JSON.parse(document.querySelector('#evacuation').dataset.counts)")
        assert later["arrived"] > 0 and sum(later.values()) == sum(start.values()) == count
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "evacuation-last.png"))

        page.uncheck("#evac-show-agents")
        assert page.evaluate("window.twinViewer.evacuation.agents.show") is False
        page.uncheck("#evac-show-shelters")
        assert page.evaluate("window.twinViewer.evacuation.shelters.show") is False
        browser.close()

    before, after = rgb(ARTIFACTS / "evacuation-0.png"), rgb(ARTIFACTS / "evacuation-last.png")
    changed = np.abs(before - after).max(axis=2) > 30
    assert changed.sum() > 200, f"only {changed.sum()} pixels changed when the agents moved"
    assert errors == []
