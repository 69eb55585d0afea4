"""The public hazard map on a City converted from a real PLATEAU sample (Koshigaya: five buildings with
PLATEAU's own river-flood depths, no area maps) with a shelter list attached in the GSI 指定緊急避難場所
CSV layout: a tapped building shows its official depth and where that comes from, and the nearest flood
shelter of the list is offered with its walk drawn on the map; axe-core finds no serious or critical
violation with that answer open."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer

from tests.browser.a11y import audit
from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.conftest import plateau_sample
from tests.twin.fixtures_city import converted_real_city
from tests.twin.hazardmap.test_hazard_sources import plateau_depths
from twin.city.layout import CityFolder
from twin.convert.additions import add_to_city

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
HEADER = ("NO,共通ID,施設・場所名,住所,洪水,崖崩れ、土石流及び地滑り,高潮,地震,津波,大規模な火事,内水氾濫,火山現象,"
          "指定避難所との住所同一,緯度,経度,備考")
#: Three sites around the buildings (east, north of their centre in metres; takes floods): the nearest one
#: takes no flood evacuees, so the answer must be the flood shelter to the east, not the one further west.
#: Made-up sites (named as such): the sample comes without the city's list, and the real lists in
#: ../shared/data/shelters are of other towns.
SITES = [("E1122200001", "東の避難場所（試験用）", 120, 0, True), ("E1122200002", "西の避難場所（試験用）", -190, 0, True),
         ("E1122200003", "北の広場（地震のみ・試験用）", 0, 45, False)]
ROUTE_RGB = [26, 156, 60]  # #1a9c3c, flatmap.js


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """Koshigaya converted, copied (the list is attached to the copy), with the CSV attached."""
    home = tmp_path_factory.mktemp("real") / "data"
    target = home / "koshigaya"
    shutil.copytree(converted_real_city("11222_koshigaya"), target)
    folder = CityFolder.open(target)
    buildings = folder.buildings(folder.local_crs)
    cx, cy = buildings.union_all().centroid.coords[0]
    to_lonlat = Transformer.from_crs(folder.local_crs, "EPSG:6668", always_xy=True)
    rows = [HEADER]
    for k, (sid, name, east, north, flood) in enumerate(SITES, 1):
        lon, lat = to_lonlat.transform(cx + east, cy + north)
        rows.append(f"{k},{sid},{name},埼玉県越谷市,{'1' if flood else ''},,,1,,,,,,{lat:.6f},{lon:.6f},")
    csv = home.parent / "shelters.csv"
    csv.write_text("\r\n".join(rows) + "\r\n", encoding="shift_jis")
    report = add_to_city(target, [csv])["shelters"]
    assert (report["layout"], report["kept"], report["flood_shelters"]) == ("gsi-csv", 3, 2), report
    return target


@pytest.fixture(scope="module")
def phone(city):
    playwright = pytest.importorskip("playwright.sync_api")
    with running_server(city.parent) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 360, "height": 740}, locale="ja-JP")
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
        page.goto(f"{base}/hazard?city=koshigaya")
        page.wait_for_function("document.body.dataset.tilesetLoaded === 'true'", polling=250, timeout=150_000)
        yield page
        browser.close()


def test_a_tapped_building_shows_its_official_depth_and_source_and_the_nearest_flood_shelter(phone, city):
    assert phone.evaluate("document.querySelector('#layer').disabled")  # no area map in this City
    assert "建物ごとの公式の浸水深" in phone.inner_text("#layer")
    expected = plateau_depths(plateau_sample("11222_koshigaya"))  # gml:id → {(river, scale): m}, read with lxml
    buildings = gpd.read_parquet(city / "buildings.parquet")
    row = max(buildings.itertuples(), key=lambda r: max(expected[r.gml_id].values(), default=0))
    deepest = max(expected[row.gml_id].values())
    river, scale = next(k for k, v in expected[row.gml_id].items() if v == deepest)
    inside = row.geometry.representative_point()
    phone.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 420)", [inside.x, inside.y])
    phone.wait_for_timeout(500)
    spot = phone.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [inside.x, inside.y])
    phone.mouse.click(spot["x"], spot["y"])
    phone.wait_for_selector("#answer[data-verdict]", timeout=60_000)
    assert phone.get_attribute("#answer", "data-verdict") == "building-attributes"
    text = phone.inner_text("#answer")
    assert "この建物のPLATEAU属性（公式の浸水深）" in text  # the source, named
    assert f"{deepest:.2f} m" in text and river in text  # the deepest depth of the file, with its river
    assert ("想定最大規模" if scale == "L2" else "計画規模") in text
    assert "浸水想定区域の外" not in text  # never "outside the flood zone" where the building says otherwise
    # the nearest flood shelter of the attached list, walked, with its route drawn on the map
    assert "東の避難場所（試験用）" in text and "北の広場" not in text
    phone.wait_for_timeout(1000)  # the frame with the marks is drawn
    route = phone.evaluate("window.hazardMap.map.marks.route")
    assert route and len(route) >= 2
    halfway = shapely.LineString(route).interpolate(0.5, normalized=True)  # far from both markers
    lon, lat = halfway.x, halfway.y
    middle = phone.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [lon, lat])
    pixel = phone.evaluate("""([x, y]) => { const c = document.getElementById('map'); const box = c.getBoundingClientRect();
        const r = c.width / box.width; return [...c.getContext('2d').getImageData(Math.round((x - box.left) * r),
        Math.round((y - box.top) * r), 1, 1).data].slice(0, 3); }""", [middle["x"], middle["y"]])
    assert all(abs(a - b) <= 4 for a, b in zip(pixel, ROUTE_RGB)), pixel
    # the picture in the docs: the buildings, the tapped place and the walk in the map left open above the answer
    frame_above_the_answer(phone, [[inside.x, inside.y], *route,
                                   *([g.x, g.y] for g in buildings.geometry.representative_point())])
    phone.wait_for_timeout(1000)
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "hazard-real-city.png"))
    assert phone.errors == []


def frame_above_the_answer(page, points: list, margin: float = 20) -> None:
    """Zoom and move the map so that ``points`` ([lon, lat]) lie in the strip of map that a phone shows
    between the controls and the answer panel (a screenshot of the map behind the answer shows nothing)."""
    top, bottom, width = page.evaluate("""() => [document.getElementById('controls').getBoundingClientRect().bottom,
        document.getElementById('answer').getBoundingClientRect().top, document.getElementById('map').clientWidth]""")
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    lon, lat = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2

    def look(lat_centre: float, range_m: float) -> list[dict]:
        page.evaluate("([lon, lat, r]) => window.hazardMap.lookDown(lon, lat, r)", [lon, lat_centre, range_m])
        return [page.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", list(p))
                for p in [*points, [lon, lat], [lon, lat + 1e-3]]]

    first = look(lat, 600)
    xs, ys = [p["x"] for p in first[:-2]], [p["y"] for p in first[:-2]]
    zoom = min((width - 2 * margin) / max(max(xs) - min(xs), 1), (bottom - top - 2 * margin) / max(max(ys) - min(ys), 1))
    range_m = 600 / zoom
    placed = look(lat, range_m)
    centre, north = placed[-2], placed[-1]
    per_degree = (north["y"] - centre["y"]) / 1e-3  # screen y per degree of latitude (negative: north is up)
    look(lat - ((top + bottom) / 2 - centre["y"]) / per_degree, range_m)


def test_a_building_answer_passes_the_accessibility_audit(phone, city):
    """axe-core on the page with a building's answer and its route open, under the page's own CSP."""
    inside = gpd.read_parquet(city / "buildings.parquet").geometry.iloc[0].representative_point()
    verdict = phone.evaluate("async ([lon, lat]) => (await window.hazardMap.checkAt(lon, lat)).verdict",
                             [inside.x, inside.y])
    assert verdict == "building-attributes"
    phone.wait_for_timeout(500)  # the frame with the marks is drawn
    violations = audit(phone)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    assert phone.errors == []
