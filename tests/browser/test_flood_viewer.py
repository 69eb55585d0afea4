"""The console's scenario panel in Debian's Chromium: a finished flood job animates over the city, its water
drawn at its depth (on the ground and up the walls, never over a roof)."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely
from PIL import Image

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, TWIN, converted_sample_city, data_dir_linking
from twin.city.layout import CityFolder

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
        deadline = time.monotonic() + 600  # a loaded 2-core machine (see test_console)
        while (state := httpx.get(f"{base}/api/scenarios/{job['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "the scenario job did not finish"
            time.sleep(0.5)
        assert state["status"] == "done", state
        yield base, key, job["id"]


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), float)


def surface_blocks(surface: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lon, lat (the blocks' centres, bilinearly between the grid's corners) and water surface (m) of
    the wet blocks of a frame's surface."""
    nw, ne, sw, se = (np.array(c) for c in surface["corners"])
    rows, cols = surface["rows"], surface["cols"]
    heights = np.array([np.nan if h is None else h for h in surface["wse_m"]]).reshape(rows, cols)
    r, c = np.nonzero(np.isfinite(heights))
    u, v = (c + 0.5) / cols, (r + 0.5) / rows
    lonlat = ((1 - v) * (1 - u))[:, None] * nw + ((1 - v) * u)[:, None] * ne + (v * (1 - u))[:, None] * sw \
        + (v * u)[:, None] * se
    return lonlat[:, 0], lonlat[:, 1], heights[r, c]


def water_at_its_depth(page, base: str, job_id: str, k: int) -> tuple[int, int]:
    """Look straight down at a building whose roof centre lies in a wet block of frame ``k`` (so the frame's
    picture is coloured there) and whose roof is metres above that water; the largest change of the roof
    centre's pixel and of a wet ground pixel beside the building when the water is hidden."""
    surface = httpx.get(f"{base}/api/scenarios/{job_id}/frames/{k}/surface", timeout=30).json()
    lon, lat, wse = surface_blocks(surface)
    city = CityFolder.open(converted_sample_city())
    buildings = city.buildings("EPSG:6668")
    block_deg = surface["block"] * surface["cell_size_m"] / 111_000  # a block's side in degrees of latitude
    open_ground = ~shapely.contains_xy(buildings.union_all().buffer(block_deg / 2), lon, lat)
    chosen = None
    for row in buildings[np.isfinite(buildings["height"])].itertuples():
        centre = row.geometry.representative_point()
        near = np.hypot(lon - centre.x, lat - centre.y) < block_deg / 2  # the block holding the roof centre
        beside = np.flatnonzero(open_ground & (np.hypot(lon - centre.x, lat - centre.y) < 4 * block_deg))
        roof = row.ground_height + row.height
        if near.any() and len(beside) and roof > wse[near].max() + 3:
            chosen = (row, centre, roof, beside[0])
            break
    assert chosen is not None, "no building stands in the water of this frame"
    row, centre, roof, wet = chosen
    page.evaluate("""async ([lon, lat, h]) => {
        const Cesium = await import('/cesium/index.js');
        const { viewer } = window.twinViewer;
        viewer.camera.lookAt(Cesium.Cartesian3.fromDegrees(lon, lat, h),
            new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-89), 160));
        viewer.camera.lookAtTransform(Cesium.Matrix4.IDENTITY);
    }""", [centre.x, centre.y, row.ground_height])
    page.wait_for_function("window.twinViewer.tileset.tilesLoaded", polling=250, timeout=120_000)
    page.wait_for_timeout(1500)
    at_roof = page.evaluate("([lon, lat, h]) => window.twinViewer.pagePosition(lon, lat, h)", [centre.x, centre.y, roof])
    at_water = page.evaluate("([lon, lat, h]) => window.twinViewer.pagePosition(lon, lat, h)",
                             [float(lon[wet]), float(lat[wet]), float(wse[wet])])
    assert page.evaluate("([x, y]) => window.twinViewer.pickAt(x, y)", [at_roof["x"], at_roof["y"]]) == row.gml_id
    assert page.evaluate("([x, y]) => window.twinViewer.pickAt(x, y)", [at_water["x"], at_water["y"]]) is None

    def pixels() -> tuple[np.ndarray, np.ndarray]:
        page.evaluate("""() => new Promise((resolve) => {  // a frame drawn after the change
            const { scene } = window.twinViewer.viewer;
            const off = scene.postRender.addEventListener(() => { off(); resolve(); });
            scene.requestRender(); })""")
        image = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"), int)
        return tuple(image[round(p["y"]), round(p["x"])] for p in (at_roof, at_water))

    shown = pixels()
    page.evaluate("window.twinViewer.flood.overlay.setVisible(false)")
    hidden = pixels()
    page.evaluate("window.twinViewer.flood.overlay.setVisible(true)")
    return int(np.abs(shown[0] - hidden[0]).max()), int(np.abs(shown[1] - hidden[1]).max())


def test_a_finished_scenario_animates_over_the_city(server):
    base, key, job_id = server
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors, external = [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:")) else external.append(r.url))
        page.goto(base + "/")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=150_000)
        page.wait_for_selector(f"#flood-jobs option[value='{job_id}']", state="attached", timeout=90_000)  # slow when loaded
        assert page.eval_on_selector_all("#flood-scenario option", "os => os.map(o => o.value)") == [
            "cloudburst-100mm", "river-breach"]
        note = """name => { const s = document.querySelector('#flood-scenario'); s.value = name;
                              s.dispatchEvent(new Event('change'));
                              const n = document.querySelector('#flood-scenario-note');
                              return n.hidden ? null : n.textContent; }"""
        assert "サンプル都市" in page.evaluate(note, "river-breach") and "sample city" in page.evaluate(note, "river-breach")
        assert page.evaluate(note, "cloudburst-100mm") is None  # fits any city: no note
        page.fill("#flood-key", key)
        page.dispatch_event("#flood-key", "change")
        assert page.evaluate("sessionStorage.getItem('twin.staffKey')") == key
        page.select_option("#flood-jobs", job_id)
        page.click("#flood-open")
        page.wait_for_selector(f"#flood[data-job='{job_id}'][data-frame='0']", timeout=120_000)
        page.evaluate("document.querySelectorAll('#dock details').forEach(d => { d.open = false; })")  # uncover the city
        page.wait_for_timeout(2000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "flood-0.png"))

        last = page.evaluate("Number(document.querySelector('#flood-time').max)")
        assert last == 3
        page.evaluate("""k => { const s = document.querySelector('#flood-time'); s.value = String(k);
                                s.dispatchEvent(new Event('input')); }""", last)
        page.wait_for_selector(f"#flood[data-frame='{last}']", timeout=120_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "flood-last.png"))
        assert page.inner_text("#flood-time-label") == "0:20"  # 1,200 s
        roof, ground = water_at_its_depth(page, base, job_id, last)
        assert "wetted buildings" in page.inner_text("#flood-message")
        page.click("#flood-play")  # plays on from the last frame: wraps to the first
        assert page.inner_text("#flood-play") == "❚❚"
        page.wait_for_function(f"document.querySelector('#flood').dataset.frame !== '{last}'", timeout=120_000)
        page.click("#flood-play")
        assert page.inner_text("#flood-play") == "▶"
        browser.close()

    # the water is drawn at its depth: a roof above it keeps its colour where the frame's picture is wet,
    # the ground beside the building takes the water's (a change of 12 of 255 is well above the frames'
    # noise: the same view drawn twice differs by 0-2)
    assert roof <= 12, f"the roof changed by {roof} with the water shown: water painted over it"
    assert ground > 12, f"the wet ground beside it changed by only {ground}"
    before, after = rgb(ARTIFACTS / "flood-0.png"), rgb(ARTIFACTS / "flood-last.png")
    height, width, _ = before.shape
    scene = (slice(height // 8, height // 2), slice(width // 3, -width // 8))  # above the panel, right of the legend
    changed = np.abs(before[scene] - after[scene]).max(axis=2) > 12
    assert changed.mean() > 0.02, f"only {changed.mean():.1%} of the scene changed between the first and last frame"
    wet = after[scene]
    yellow = (np.abs(wet[..., 0] - 0xF7) < 40) & (np.abs(wet[..., 1] - 0xF5) < 40) & (wet[..., 2] < 0xD0)
    assert yellow.mean() > 0.01, "the shallow MLIT colour shows where it rained"
    assert errors == [] and external == []
