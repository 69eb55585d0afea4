"""The operations console in Debian's Chromium: layer switches, the live panel, scenario templates
and the comparison of two scenarios, on the sample city."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, NEEDS_CHROMIUM, create_key, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.city.layout import CityFolder
from twin.flood.breach_site import place_breach

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
STA = "/sta/v1.1"
#: 氾濫注意水位, 避難判断水位, 氾濫危険水位 of the test gauge (m).
THRESHOLDS = {"caution": 2.0, "evacuation": 3.0, "danger": 4.0}


def _job(base: str, key: str, rain_mm_per_h: float) -> str:
    response = httpx.post(f"{base}/api/scenarios", headers={"Authorization": f"Bearer {key}"}, timeout=60, json={
        "city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 8,
        "overrides": {"duration_s": 1200, "output_interval_s": 400,
                      "rain": {"series": [[0, rain_mm_per_h], [900, 0]]}}})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _ensemble(base: str, key: str) -> str:
    """Four members of a 400 mm/h cloudburst, its rain scaled 0.5-1.5:
    strong enough that the lowland ponds past 0.5 m in some members."""
    response = httpx.post(f"{base}/api/ensembles", headers={"Authorization": f"Bearer {key}"}, timeout=60, json={
        "city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 8,
        "overrides": {"duration_s": 1200, "output_interval_s": 1200, "rain": {"series": [[0, 400], [900, 0]]}},
        "vary": {"rain": [0.5, 1.5]}, "members": 4})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _wait(base: str, job_id: str, timeout: float = 600, kind: str = "scenarios") -> None:
    deadline = time.monotonic() + timeout
    while (state := httpx.get(f"{base}/api/{kind}/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the scenario job did not finish"
        time.sleep(0.5)
    assert state["status"] == "done", f"{state['status']}: {state.get('reason')}"


def _gauge(base: str, sensor_key: str, lon: float, lat: float) -> int:
    """A river gauge (with the three thresholds) and a rain gauge on one Thing; the level stream's id."""
    def stream(name: str, symbol: str, properties: dict) -> dict:
        return {"name": name, "description": name, "observationType":
                "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": symbol, "symbol": symbol, "definition": symbol},
                "properties": properties,
                "Sensor": {"name": f"{name} sensor", "encodingType": "text/plain", "metadata": "-"},
                "ObservedProperty": {"name": name, "definition": f"urn:{symbol}"}}

    thing = {"name": "新河岸川 gauge", "description": "river and rain gauge",
             "Locations": [{"name": "gauge", "encodingType": "application/geo+json",
                            "location": {"type": "Point", "coordinates": [lon, lat]}}],
             "Datastreams": [stream("水位 level", "m", {"thresholds": THRESHOLDS}), stream("雨量 rain", "mm/h", {})]}
    headers = {"Authorization": f"Bearer {sensor_key}"}
    assert httpx.post(f"{base}{STA}/Things", json=thing, headers=headers).status_code == 201
    streams = httpx.get(f"{base}{STA}/Datastreams", headers=headers).json()["value"]
    ids = {s["name"]: s["@iot.id"] for s in streams}
    now = datetime.now(UTC).replace(microsecond=0)
    for k, (level, rain) in enumerate([(1.2, 5.0), (1.6, 20.0), (2.1, 35.0), (2.6, 30.0)]):
        moment = (now - timedelta(minutes=40 - 10 * k)).isoformat().replace("+00:00", "Z")
        for name, value in (("水位 level", level), ("雨量 rain", rain)):
            response = httpx.post(f"{base}{STA}/Observations", headers=headers, json={
                "phenomenonTime": moment, "result": value, "Datastream": {"@iot.id": ids[name]}})
            assert response.status_code == 201, response.text
    return ids["水位 level"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The sample city served with staff and sensor keys, a gauge, and two finished cloudbursts."""
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    staff, sensor = create_key(home, "staff", "desk"), create_key(home, "sensor", "gauge")
    # The ensemble's members run in the server's own thread (no worker processes): the local cluster is
    # tested in tests/twin/ensembles. The jobs run one after another: run at once, their numba kernels and
    # the other test worker's shared the 2 cores with spinning OpenMP threads, and a fresh-clone run saw
    # the light flood at 97 % after 300 s with no ensemble member done.
    with running_server(home, settings={"TWIN_ENSEMBLE_WORKERS": "0"}) as base:
        city = httpx.get(f"{base}/api/cities/{CITY_ID}").json()
        west, south, east, north = city["bbox"]
        level = _gauge(base, sensor, (west + east) / 2, (south + north) / 2)
        light = _job(base, staff, 30)
        _wait(base, light)
        heavy = _job(base, staff, 100)
        _wait(base, heavy)
        ensemble = _ensemble(base, staff)
        _wait(base, ensemble, kind="ensembles")
        yield {"base": base, "staff": staff, "sensor": sensor, "jobs": (light, heavy), "level": level,
               "ensemble": ensemble}


@pytest.fixture
def page(server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
        page.missing = []  # URLs answered 404
        page.on("response", lambda r: page.missing.append(r.url) if r.status == 404 else None)
        page.add_init_script(f"sessionStorage.setItem('twin.staffKey', '{server['staff']}')")
        page.goto(server["base"] + "/")
        until(page, "body[data-tileset-loaded=true]", 150_000)
        page.wait_for_function("window.twinViewer && window.twinViewer.compare", polling=250, timeout=60_000)
        yield page
        browser.close()


# Waits poll on a timer and controls are driven through the DOM: Playwright's own waits and
# actionability checks run on animation frames, which a busy SwiftShader renderer hands out slowly.
def no_errors(page) -> bool:
    """No console or page errors and no request answered 404."""
    return page.missing == [] and page.errors == []


def until(page, selector: str, timeout: float = 60_000) -> None:
    """Wait until ``selector`` matches an element."""
    page.wait_for_function(f"!!document.querySelector({selector!r})", polling=250, timeout=timeout)


def press(page, selector: str) -> None:
    page.eval_on_selector(selector, "e => e.click()")


def choose(page, selector: str, value: str) -> None:
    """Set a select's or an input's value as a user would (with its input and change events)."""
    page.eval_on_selector(selector, """(e, v) => { e.value = v; e.dispatchEvent(new Event('input'));
                                                   e.dispatchEvent(new Event('change')); }""", value)


def shot(page, name: str) -> np.ndarray:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let Cesium finish the frame
    path = ARTIFACTS / f"console-{name}.png"
    page.screenshot(path=str(path), timeout=120_000)
    return np.asarray(Image.open(path).convert("RGB"), float)


def changed(before: np.ndarray, after: np.ndarray) -> float:
    """Share of the globe's pixels (left of the dock, under the header) that changed visibly."""
    height, width, _ = before.shape
    scene = (slice(height // 10, height - height // 6), slice(width // 5, width - width // 3))
    return float((np.abs(before[scene] - after[scene]).max(axis=2) > 12).mean())


def toggle(page, layer: str) -> None:
    was = page.eval_on_selector(f"#layer-{layer}", "b => b.checked")
    # A DOM click: Playwright's actionability checks wait on animation frames, slow under SwiftShader.
    page.eval_on_selector(f"#layer-{layer}", "b => b.click()")
    want = "" if was else "~"
    selector = f"#layers[data-on{want}='{layer}']" if not was else f"#layers:not([data-on~='{layer}'])"
    until(page, selector)
    # The switch stays disabled while its layer builds: ground primitives are triangulated in Cesium's web
    # workers, behind the roads-and-rivers layer the console draws at start (14 s for the first
    # hazard layer, 1-2 s to switch it again, on the quiet machine; 15-30 s each while the page drew 4
    # frames a second).
    page.wait_for_function(f"!document.querySelector('#layer-{layer}').disabled", polling=250, timeout=240_000)


def on_the_globe(page) -> tuple[float, float]:
    """A point of the viewport near its middle where the globe, not a panel, takes the click."""
    point = page.evaluate("""() => [[0.5, 0.55], [0.4, 0.5], [0.3, 0.6], [0.45, 0.7]]
        .map(([fx, fy]) => [innerWidth * fx, innerHeight * fy])
        .find(([x, y]) => document.elementFromPoint(x, y)?.tagName === 'CANVAS') ?? null""")
    assert point, "no panel-free point of the globe near the middle of the viewport"
    return tuple(point)


def look_down_on(page, west: float, south: float, east: float, north: float) -> None:
    """Point the camera straight down over a lon/lat rectangle."""
    page.evaluate("""([w, s, e, n]) => { const widget = window.twinViewer.viewer;
        const Rectangle = widget.camera.computeViewRectangle().constructor;  // Cesium is not a page global
        widget.camera.setView({ destination: Rectangle.fromDegrees(w, s, e, n) });
        widget.scene.requestRender(); }""", [west, south, east, north])


def extent(features: list[dict]) -> tuple[float, float, float, float]:
    """[west, south, east, north] of GeoJSON (Multi)Polygons."""
    points = [p for f in features for polygon in (f["geometry"]["coordinates"] if f["geometry"]["type"] == "MultiPolygon"
                                                  else [f["geometry"]["coordinates"]]) for ring in polygon for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def test_layer_switches_change_what_is_drawn(page, server):
    areas = httpx.get(f"{server['base']}/api/cities/{CITY_ID}/hazards", params={"layer": "fld"}).json()["features"]
    assert areas, "the sample city has official river-flood areas"
    until(page, "#layers[data-ground-ready]", timeout=240_000)  # roads and rivers drawn: pictures compare like with like
    look_down_on(page, *extent(areas))
    base = shot(page, "base")
    toggle(page, "fld")  # the official river-flood areas, MLIT colours
    fld = shot(page, "layer-fld")
    assert changed(base, fld) > 0.02, "the official flood layer changes the picture"
    assert "fld" in page.get_attribute("#layers", "data-on")
    toggle(page, "fld")
    assert changed(base, shot(page, "layer-fld-off")) < 0.01, "switched off, the flood layer is gone"
    west, south, east, north = httpx.get(f"{server['base']}/api/cities/{CITY_ID}").json()["bbox"]
    dx, dy = (east - west) / 2, (north - south) / 2
    look_down_on(page, west - dx, south - dy, east + dx, north + dy)
    base = shot(page, "city")
    toggle(page, "buildings")
    assert changed(base, shot(page, "layer-no-buildings")) > 0.01
    toggle(page, "buildings")
    toggle(page, "shelters")
    toggle(page, "sensors")
    assert "センサー sensors: 1" in page.inner_text("#layers .flood-message")
    assert changed(base, shot(page, "layer-points")) > 0.001, "shelter and sensor labels are drawn"
    # Colour the buildings by the simulated depth of an opened scenario.
    _, heavy = server["jobs"]
    until(page, f"#flood-jobs option[value='{heavy}']")
    choose(page, "#flood-jobs", heavy)
    press(page, "#flood-open")
    until(page, f"#flood[data-job='{heavy}'][data-frame='0']")
    toggle(page, "simulated")  # hide the water so that the buildings' colours show
    official = shot(page, "colour-official")
    choose(page, "#colour-by", "simulated")
    until(page, "#legend[data-mode='simulated']")
    simulated = shot(page, "colour-simulated")
    assert changed(official, simulated) > 0.001, "simulated depths colour the buildings differently"
    assert no_errors(page), (page.errors, page.missing)


def test_live_panel_charts_levels_and_raises_the_banner(page, server):
    press(page, "#dock details:nth-of-type(2) summary")
    until(page, ".live-chart[data-kind='level'] svg")
    assert page.locator(".live-chart[data-kind='level'] .chart-threshold").count() == 3
    assert page.locator(".live-chart[data-kind='rain'] svg").count() == 1
    assert page.get_attribute(".live-chart[data-kind='level']", "data-points") == "4"
    assert page.is_hidden("#alert-banner")
    until(page, "#live[data-live='true']")
    moment = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    response = httpx.post(f"{server['base']}{STA}/Observations", headers={"Authorization": f"Bearer {server['sensor']}"},
                          json={"phenomenonTime": moment, "result": 3.4, "Datastream": {"@iot.id": server["level"]}})
    assert response.status_code == 201, response.text
    until(page, "#alert-banner:not([hidden])")
    assert "避難判断水位" in page.inner_text("#alert-banner") and "水位 level" in page.inner_text("#alert-banner")
    until(page, ".live-chart[data-kind='level'][data-points='5']")
    assert "避難判断水位" in page.inner_text("#live-alerts")
    press(page, "#dock details:nth-of-type(1) summary")  # fold the layers away: the charts show
    shot(page, "live")
    assert no_errors(page), (page.errors, page.missing)


def test_compare_panel_shows_the_api_figures_and_the_difference_map(page, server):
    light, heavy = server["jobs"]
    press(page, "#dock details:nth-of-type(3) summary")
    until(page, f"#compare-a option[value='{light}']")
    choose(page, "#compare-a", light)
    choose(page, "#compare-b", heavy)
    before = shot(page, "compare-before")
    press(page, "#compare-run")
    until(page, f"#compare[data-compared='{light},{heavy}']")
    after = shot(page, "compare")
    assert changed(before, after) > 0.02, "the difference map is drawn over the city"
    body = httpx.get(f"{server['base']}/api/scenarios/compare", params={"a": light, "b": heavy}).json()["headline"]
    row = page.eval_on_selector("tr[data-key='buildings_flooded']", "r => [...r.cells].map(c => c.textContent)")
    flooded = [body["a"]["buildings_flooded"], body["b"]["buildings_flooded"], body["b_minus_a"]["buildings_flooded"]]
    assert row[1:] == [str(flooded[0]), str(flooded[1]), f"+{flooded[2]}" if flooded[2] >= 0 else str(flooded[2])]
    area = page.eval_on_selector("tr[data-key='flooded_area_m2'] td", "c => c.textContent")
    assert area == f"{body['a']['flooded_area_m2'] / 1e4:.2f}"
    assert page.get_attribute("#compare .compare-reports a >> nth=0", "href") == f"/api/scenarios/{light}/report"
    assert no_errors(page), (page.errors, page.missing)


def test_ensemble_panel_loads_the_odds_and_colours_buildings_by_them(page, server):
    ensemble = server["ensemble"]
    press(page, "#dock details:nth-of-type(3) summary")
    until(page, f"#ensemble[data-ensemble='{ensemble}']")
    summary = httpx.get(f"{server['base']}/api/ensembles/{ensemble}/summary.json").json()
    assert summary["cells"]["p_exceed_0.5m_any"] > 0, "some cell reaches 0.5 m in some member: a layer to drape"
    # the layer's picture was fetched and decoded (its deep cells lie in the lowland, out of the first view)
    fetched = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith(f"/api/ensembles/{ensemble}/probability.png") for url in fetched)
    before = shot(page, "ensemble-before")
    press(page, "#ensemble-colour")  # buildings by P(wetted)
    until(page, f"#ensemble[data-coloured='{ensemble}']")
    after = shot(page, "ensemble-coloured")
    assert changed(before, after) > 0.02, "the buildings take the probability colours"
    buildings = httpx.get(f"{server['base']}/api/ensembles/{ensemble}/buildings").json()["buildings"]
    wetted = max(buildings, key=lambda b: b["p_wetted"])
    assert wetted["p_wetted"] > 0
    # the colour the console gives that probability is the server picture's bin (PuBu, upper bounds 0.2 … 1.0)
    bins = [(0.2, "#f1eef6"), (0.4, "#bdc9e1"), (0.6, "#74a9cf"), (0.8, "#2b8cbe"), (1.0, "#045a8d")]
    expected = next(hex for upper, hex in bins if wetted["p_wetted"] <= upper)
    colour = page.evaluate("p => import('/src/ensemble.js').then(m => m.probabilityColour(p).toCssHexString())",
                           wetted["p_wetted"])
    assert colour == expected
    assert no_errors(page), (page.errors, page.missing)


def test_cloudburst_template_runs_and_opens_in_the_flood_panel(page, server):
    press(page, "#dock details:nth-of-type(3) summary")
    choose(page, "#template-kind", "cloudburst")
    choose(page, "#cloudburst-mm", "60")
    choose(page, "#cloudburst-min", "10")
    choose(page, "#template-duration-h", "0.25")
    choose(page, "#template-cell", "8")
    press(page, "#template-run")
    until(page, "#templates[data-job]", 300_000)  # the job runs meanwhile
    job_id = page.get_attribute("#templates", "data-job")
    until(page, f"#flood[data-job='{job_id}']")
    job = httpx.get(f"{server['base']}/api/scenarios/{job_id}").json()
    assert job["scenario"]["rain_mm_per_h"] == [[0.0, 60.0], [600.0, 0.0]] and job["scenario"]["duration_s"] == 900
    # The breach template takes its point from a click on the map.
    choose(page, "#template-kind", "breach")
    press(page, "#breach-pick")
    page.mouse.click(*on_the_globe(page))
    until(page, "#templates[data-breach]")
    lon, lat = map(float, page.get_attribute("#templates", "data-breach").split(","))
    city = httpx.get(f"{server['base']}/api/cities/{CITY_ID}").json()
    west, south, east, north = city["bbox"]
    margin = 0.02  # the view shows a little around the city's buildings
    assert west - margin < lon < east + margin and south - margin < lat < north + margin
    # ... its river from the city's rivers and its bank: the server puts the breach on that bank of that
    # river (the left one, looking downstream: 新河岸川 flows east, so the north bank) nearest the point,
    # where place_breach says
    page.eval_on_selector("#breach-river", "e => e.dispatchEvent(new Event('focus'))")
    until(page, "#templates[data-rivers='1']")
    choose(page, "#breach-river", "新河岸川")
    choose(page, "#breach-bank", "left")
    press(page, "#template-run")
    until(page, f"#templates[data-job]:not([data-job='{job_id}'])", 300_000)
    breach = httpx.get(f"{server['base']}/api/scenarios/{page.get_attribute('#templates', 'data-job')}").json()
    site = place_breach(CityFolder.open(converted_sample_city()), "新河岸川", near=(lon, lat), bank="left")
    assert breach["scenario"]["inflows"][0]["positions"] == site.inflow_lonlat()
    assert no_errors(page), (page.errors, page.missing)
