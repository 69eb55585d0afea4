"""The console's scenario panel in Debian's Chromium: a finished flood job animates over the city."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, TWIN, converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``twin serve`` over the sample city with a staff key; (base URL, key, finished job id)."""
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    key = subprocess.run([TWIN, "keys", "create", "--role", "staff", "--name", "browser", "--data-dir", str(home)],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    with running_server(home) as base:
        job = httpx.post(f"{base}/api/scenarios", headers={"Authorization": f"Bearer {key}"}, timeout=60, json={
            # 300 mm in 20 minutes, so that it is drawn among the buildings: the sample city's ground slopes
            # to its river, and 150 mm left half of its cells under the 10 cm wet depth at the end
            "city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 8,
            "overrides": {"duration_s": 1200, "output_interval_s": 400, "rain": {"series": [[0, 900]]}}})
        assert job.status_code == 202, job.text
        job = job.json()
        deadline = time.monotonic() + 300
        while (state := httpx.get(f"{base}/api/scenarios/{job['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the scenario job did not finish"
            time.sleep(0.5)
        assert state["status"] == "done", state
        yield base, key, job["id"]


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), float)


def test_a_finished_scenario_animates_over_the_city(server):
    base, key, job_id = server
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        errors, external = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else external.append(r.url))
        page.goto(base + "/")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=150_000)
        page.wait_for_selector(f"#flood-jobs option[value='{job_id}']", state="attached", timeout=90_000)  # slow when loaded
        assert page.eval_on_selector_all("#flood-scenario option", "os => os.map(o => o.value)") == [
            "cloudburst-100mm", "river-breach"]
        page.fill("#flood-key", key)
        page.dispatch_event("#flood-key", "change")
        assert page.evaluate("sessionStorage.getItem('twin.staffKey')") == key
        page.select_option("#flood-jobs", job_id)
        page.click("#flood-open")
        page.wait_for_selector(f"#flood[data-job='{job_id}'][data-frame='0']", timeout=30_000)
        page.evaluate("document.querySelectorAll('#dock details').forEach(d => { d.open = false; })")  # uncover the city
        page.wait_for_timeout(2000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "flood-0.png"))

        last = page.evaluate("Number(document.querySelector('#flood-time').max)")
        assert last == 3
        page.evaluate("""k => { const s = document.querySelector('#flood-time'); s.value = String(k);
                                s.dispatchEvent(new Event('input')); }""", last)
        page.wait_for_selector(f"#flood[data-frame='{last}']", timeout=15_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "flood-last.png"))
        assert page.inner_text("#flood-time-label") == "0:20"  # 1,200 s
        assert "wetted buildings" in page.inner_text("#flood-message")
        page.click("#flood-play")  # plays on from the last frame: wraps to the first
        assert page.inner_text("#flood-play") == "❚❚"
        page.wait_for_function(f"document.querySelector('#flood').dataset.frame !== '{last}'", timeout=15_000)
        page.click("#flood-play")
        assert page.inner_text("#flood-play") == "▶"
        browser.close()

    before, after = rgb(ARTIFACTS / "flood-0.png"), rgb(ARTIFACTS / "flood-last.png")
    height, width, _ = before.shape
    scene = (slice(height // 8, height // 2), slice(width // 3, -width // 8))  # above the panel, right of the legend
    changed = np.abs(before[scene] - after[scene]).max(axis=2) > 12
    assert changed.mean() > 0.02, f"only {changed.mean():.1%} of the scene changed between the first and last frame"
    wet = after[scene]
    yellow = (np.abs(wet[..., 0] - 0xF7) < 40) & (np.abs(wet[..., 1] - 0xF5) < 40) & (wet[..., 2] < 0xD0)
    assert yellow.mean() > 0.01, "the shallow MLIT colour shows where it rained"
    assert errors == [] and external == []
