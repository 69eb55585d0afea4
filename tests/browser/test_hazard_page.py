"""The public hazard map in Debian's Chromium at phone size: offline, a tap answers, two languages, no sideways scroll."""

from __future__ import annotations

import geopandas as gpd
import httpx
import numpy as np
import pytest
import shapely
from shapely.ops import polylabel

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
#: MLIT standard inundation-depth colours (水害ハザードマップ作成の手引き, 2016) as the browser reports them.
MLIT_RGB = ["rgb(247, 245, 169)", "rgb(255, 216, 192)", "rgb(255, 183, 183)",
            "rgb(255, 145, 145)", "rgb(242, 133, 201)", "rgb(220, 122, 220)"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    with running_server(home) as base:
        yield base


@pytest.fixture(scope="module")
def phone(server):
    """A 360 × 740 phone in Japanese, the page loaded (buildings' first view and hazard areas)."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP")
        page = context.new_page()
        page.errors, page.external = [], []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else page.external.append(r.url))
        page.goto(server + "/hazard")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=120_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "hazard-phone.png"))
        yield page
        context.close()
        browser.close()


def test_loads_offline_in_japanese_with_mlit_legend_and_attribution(phone, server):
    assert phone.errors == []
    assert phone.external == []  # no tiles, fonts, analytics or anything else from outside
    assert phone.evaluate("document.cookie") == ""
    assert "set-cookie" not in httpx.get(server + "/hazard").headers
    assert phone.evaluate("document.documentElement.lang") == "ja"
    assert phone.inner_text("h1 [data-i18n=title]") == "洪水ハザードマップ"
    assert "出典：国土交通省 Project PLATEAU" in phone.inner_text("#attribution")
    swatches = phone.eval_on_selector_all("#legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert swatches == MLIT_RGB
    assert phone.evaluate("document.body.dataset.layer") == "fld:L2"  # the maximum assumed scale first


def test_a_tap_shows_the_depth_class_and_the_nearest_shelter(phone, server):
    areas = gpd.read_parquet(converted_sample_city() / "hazards.parquet")
    target = areas[(areas["layer"] == "fld") & (areas["scale"] == "L2")].sort_values("rank").iloc[-1]
    point = polylabel(max(getattr(target.geometry, "geoms", [target.geometry]), key=lambda g: g.area), 1e-6)
    phone.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 300)", [point.x, point.y])
    phone.wait_for_timeout(1500)  # the view's tiles and the classified areas draw
    spot = phone.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [point.x, point.y])
    assert phone.evaluate("([x, y]) => document.elementFromPoint(x, y).tagName", [spot["x"], spot["y"]]) == "CANVAS"
    phone.mouse.click(spot["x"], spot["y"])
    answer = phone.locator("#answer[data-lon]")
    answer.wait_for(timeout=30_000)
    lon, lat = float(answer.get_attribute("data-lon")), float(answer.get_attribute("data-lat"))
    assert abs(lon - point.x) < 2e-4 and abs(lat - point.y) < 2e-4  # the tap lands within about 20 m
    expected = httpx.get(f"{server}/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat}).json()
    assert target.gml_id in {a["gml_id"] for a in expected["official"]}
    text = answer.inner_text()
    deepest = expected["deepest_by_layer"]["fld"]
    assert deepest["class_label_ja"] in text and deepest["depth_class"] == int(target["rank"]) - 1
    assert expected["shelter"]["name"] in text
    assert f"{round(expected['shelter']['distance_m'])} m" in text
    assert f"{max(1, round(expected['shelter']['walk_time_s'] / 60))} 分" in text
    phone.screenshot(path=str(ARTIFACTS / "hazard-phone-answer.png"))
    assert phone.errors == []


def test_the_language_switch_changes_labels_and_is_remembered(phone):
    assert phone.inner_text("#legend-title") == "浸水深（国土交通省の標準色）"
    phone.click("#lang")
    assert phone.evaluate("document.documentElement.lang") == "en"
    assert phone.inner_text("h1 [data-i18n=title]") == "Flood hazard map"
    assert phone.inner_text("#legend-title") == "Flood depth (MLIT standard colours)"
    assert phone.eval_on_selector_all("#legend li", "els => els.map(e => e.textContent)")[0] == "< 0.5 m"
    assert "Maximum assumed" in phone.inner_text("#layer")
    assert phone.evaluate("localStorage.getItem('machi-twin.lang')") == "en"
    # the next visit starts in the remembered language, whatever the browser prefers
    assert phone.evaluate("import('/src/i18n.js').then((m) => m.initialLanguage())") == "en"
    phone.click("#lang")
    assert phone.evaluate("localStorage.getItem('machi-twin.lang')") == "ja"
    assert phone.inner_text("h1 [data-i18n=title]") == "洪水ハザードマップ"


def test_keyboard_reaches_every_control_with_a_visible_focus(phone, server):
    phone.focus("#lang")  # the first control; then by keyboard only
    phone.keyboard.press("Tab")
    phone.keyboard.press("Shift+Tab")
    reached = []
    for _ in range(12):  # through every focusable control once, until focus leaves the page
        active, outline = phone.evaluate("[document.activeElement.id || document.activeElement.tagName,"
                                         " getComputedStyle(document.activeElement).outlineStyle]")
        if active == "BODY":
            break
        reached.append(active)
        assert outline != "none", f"{active} has no visible focus"
        phone.keyboard.press("Tab")
    for control in ("lang", "layer", "coords", "centre", "locate"):
        assert control in reached
    areas = gpd.read_parquet(converted_sample_city() / "hazards.parquet")
    point = areas.iloc[0].geometry.representative_point()
    lon, lat = round(point.x, 6), round(point.y, 6)
    phone.fill("#coords", "")
    phone.focus("#coords")
    phone.keyboard.type(f"{lat}, {lon}")  # as maps print it: latitude first
    phone.keyboard.press("Enter")
    phone.wait_for_function("lat => Math.abs(Number(document.querySelector('#answer').dataset.lat) - lat) < 1e-9",
                            arg=lat, timeout=30_000)
    expected = httpx.get(f"{server}/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat}).json()
    assert expected["official"], "the representative point of an area lies in it"
    text = phone.inner_text("#answer")
    assert all(a["class_label_ja"] in text for a in expected["official"])
    assert phone.evaluate("document.activeElement.id") == "answer"  # the answer is read out next


def test_a_phone_screen_never_scrolls_sideways(phone):
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert phone.evaluate("document.body.scrollWidth") <= 360
    boxes = phone.eval_on_selector_all("#controls, #legend, #answer, header, footer, #legend li, #answer li",
                                       "els => els.map(e => e.getBoundingClientRect().right)")
    assert max(boxes) <= 360  # nothing is cut off at the right edge either


def test_buildings_are_drawn_where_their_footprints_are_and_the_zoom_buttons_zoom(phone, server):
    buildings = httpx.get(f"{server}/api/cities/{CITY_ID}/buildings", params={"limit": 1000}).json()["features"]
    tallest = max(buildings, key=lambda b: b["properties"]["height"] or 0)["properties"]
    lon, lat, height = tallest["centroid_lon"], tallest["centroid_lat"], tallest["height"]
    phone.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 200)", [lon, lat])
    phone.wait_for_timeout(300)
    pixel = """([x, y]) => { const c = document.getElementById('map'); const box = c.getBoundingClientRect();
        const r = c.width / box.width; return [...c.getContext('2d').getImageData(Math.round((x - box.left) * r),
        Math.round((y - box.top) * r), 1, 1).data].slice(0, 3); }"""
    roof = phone.evaluate("([lon, lat, h]) => window.hazardMap.pagePosition(lon, lat, h)", [lon, lat, height])
    assert phone.evaluate(pixel, [roof["x"], roof["y"]]) == [244, 245, 246]  # the roof colour, over its centroid
    ground = phone.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [lon, lat])
    assert ground["y"] - roof["y"] > 10  # extruded: the roof is drawn above the footprint
    span = "([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0).y - window.hazardMap.pagePosition(lon, lat + 0.001, 0).y"
    before = phone.evaluate(span, [lon, lat])
    phone.click("#zoom-in")
    phone.wait_for_timeout(300)
    assert phone.evaluate(span, [lon, lat]) == pytest.approx(before * 1.6)  # 111 m of street, 1.6× longer on screen
    assert phone.errors == []


#: The canvas pixel (RGB) under a page position.
PIXEL = """([x, y]) => { const c = document.getElementById('map'); const box = c.getBoundingClientRect();
    const r = c.width / box.width; return [...c.getContext('2d').getImageData(Math.round((x - box.left) * r),
    Math.round((y - box.top) * r), 1, 1).data].slice(0, 3); }"""


def _share_drawn(phone, points, rgb: tuple[int, int, int], tolerance: int = 6) -> float:
    """The share of ``points`` (lon, lat) whose pixel has colour ``rgb`` (each channel within ``tolerance``)."""
    hits = 0
    for x, y in points:
        spot = phone.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [x, y])
        hits += all(abs(a - b) <= tolerance for a, b in zip(phone.evaluate(PIXEL, [spot["x"], spot["y"]]), rgb))
    return hits / len(points)


def test_rivers_and_roads_are_drawn_where_the_city_has_them_and_the_rivers_are_named(phone, server):
    city = converted_sample_city()
    water = gpd.read_parquet(city / "water.parquet").geometry.iloc[0]
    roads = gpd.read_parquet(city / "roads.parquet").union_all()
    hazards = gpd.read_parquet(city / "hazards.parquet")
    shown_areas = hazards[(hazards["layer"] == "fld") & (hazards["scale"] == "L2")].union_all()
    footprints = gpd.read_parquet(city / "buildings.parquet").union_all().buffer(4e-4)  # ~40 m: extruded walls
    assert phone.evaluate("document.body.dataset.ground") == "road water bridge"
    assert "荒川水系荒川" in phone.inner_text("#rivers") and "荒川水系新河岸川" in phone.inner_text("#rivers")

    def inside(shape, centre, n=7, half=8e-4):
        grid = [shapely.Point(centre.x + dx, centre.y + dy) for dx in np.linspace(-half, half, n)
                for dy in np.linspace(-half, half, n)]
        return [(p.x, p.y) for p in grid if shape.contains(p) and not shown_areas.contains(p)
                and not footprints.contains(p) and not bridges.contains(p)]

    bridges = gpd.read_parquet(city / "bridges.parquet").union_all().buffer(2e-5)
    centre = polylabel(max(getattr(water, "geoms", [water]), key=lambda g: g.area), 1e-6)
    phone.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 250)", [centre.x, centre.y])
    phone.wait_for_timeout(300)
    river_points = [p for p in inside(water, centre) if shapely.Point(p).distance(water.boundary) > 2e-5]
    assert len(river_points) >= 5
    # the water fill #9cc3e4; the river's name (a few letters) may cover a point or two
    assert _share_drawn(phone, river_points, (0x9C, 0xC3, 0xE4)) >= 0.8
    # roads: points inside them anywhere in the city, away from buildings, bridges and the shown areas
    west, south, east, north = roads.bounds
    grid = [shapely.Point(x, y) for x in np.linspace(west, east, 60) for y in np.linspace(south, north, 60)]
    candidates = [p for p in grid if roads.contains(p) and p.distance(roads.boundary) > 1.5e-5
                  and not shown_areas.contains(p) and not footprints.contains(p) and not bridges.contains(p)]
    assert len(candidates) >= 3, "the sample city has open roads away from its buildings"
    xy = shapely.get_coordinates(candidates)
    near = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) < 8e-4
    first = candidates[int(near.sum(axis=1).argmax())]  # where most of them fit in one view
    road_points = [(p.x, p.y) for p in candidates if p.distance(first) < 8e-4]
    assert len(road_points) >= 3
    phone.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 250)", [first.x, first.y])
    phone.wait_for_timeout(300)
    assert _share_drawn(phone, road_points, (0xFB, 0xFB, 0xF8)) >= 0.8
    assert phone.errors == []
