"""The console (CesiumJS) on a City converted from a real PLATEAU sample with terrain: Yokosuka's 13 buildings
(LOD1/2, on a hill by the sea) with the dataset's DEM beside them, its terrain estimated from their ground
heights. The buildings stand on the drawn terrain: under each footprint's base corners the terrain tileset
lies at the building's base height from the CityGML itself (read here with lxml, not by the converter), and
the pixels just under a footprint on screen are that ground, not the blank globe or background. axe-core
finds no serious or critical violation on the console showing this City."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import rasterio
from lxml import etree
from PIL import Image
from pyproj import Transformer

from tests.browser.a11y import audit
from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.conftest import plateau_sample
from tests.twin.fixtures_city import converted_real_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
NS = {"bldg": "http://www.opengis.net/citygml/building/2.0", "gml": "http://www.opengis.net/gml"}
BACKGROUND = (0x10, 0x17, 0x1B)  # scene.js: the space behind the globe
GLOBE = (0x30, 0x40, 0x4A)  # scene.js: the bare globe where no terrain is drawn
#: Float32 tile positions, the glb's rounding and Cesium's depth-buffer picking: a few centimetres.
RENDERING_M = 0.1


def base_rings(dataset: Path) -> dict[str, np.ndarray]:
    """gml:id → the lod1Solid's base corners (lon, lat, h): its points at the solid's lowest height (±1 cm),
    read from the CityGML posLists (lat lon h) independently of the converter."""
    points: dict[str, list[np.ndarray]] = defaultdict(list)
    for path in sorted((dataset / "udx" / "bldg").glob("*.gml")):
        for building in etree.parse(str(path)).iterfind(".//bldg:Building", NS):
            for pos in building.iterfind(".//bldg:lod1Solid//gml:posList", NS):
                points[building.get("{http://www.opengis.net/gml}id")].append(
                    np.array(pos.text.split(), float).reshape(-1, 3))
    rings = {}
    for gml_id, parts in points.items():
        xyz = np.concatenate(parts)[:, [1, 0, 2]]
        base = xyz[xyz[:, 2] <= xyz[:, 2].min() + 0.01]
        rings[gml_id] = np.unique(base.round(9), axis=0)
    return rings


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return converted_real_city("14201_yokosuka")


@pytest.fixture(scope="module")
def page(city, tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", city)
    with running_server(home) as base, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 640})
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
        page.goto(f"{base}/?city={city.name}")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=150_000)
        page.wait_for_function("window.twinViewer.terrain() !== null", polling=250, timeout=120_000)
        yield page
        browser.close()


def terrain_under(page, lonlat: np.ndarray) -> np.ndarray:
    """The drawn ground's height at each lon/lat: Cesium's most detailed sample of the scene there without
    the buildings (the terrain tileset, or the bare globe at 0 m where it has none)."""
    heights = page.evaluate("""async (points) => {
        const Cesium = await import('/cesium/index.js');
        const { viewer, tileset } = window.twinViewer;
        const found = await viewer.scene.sampleHeightMostDetailed(
            points.map(([lon, lat]) => Cesium.Cartographic.fromDegrees(lon, lat)), [tileset]);
        return found.map((c) => (c && Number.isFinite(c.height) ? c.height : null));
    }""", lonlat[:, :2].tolist())
    return np.array([np.nan if h is None else h for h in heights], float)


def relief_within(city: Path, lonlat: np.ndarray, reach_m: float) -> np.ndarray:
    """The range of the City's terrain grid within ``reach_m`` of each point (m)."""
    with rasterio.open(city / "terrain.tif") as src:
        grid, transform, crs = src.read(1), src.transform, src.crs
    x, y = Transformer.from_crs("EPSG:6668", crs, always_xy=True).transform(lonlat[:, 0], lonlat[:, 1])
    cols, rows = ~transform @ (np.asarray(x), np.asarray(y))
    reach = int(np.ceil(reach_m / transform.a))
    out = []
    for r, c in zip(np.floor(rows).astype(int), np.floor(cols).astype(int)):
        window = grid[max(r - reach, 0):r + reach + 1, max(c - reach, 0):c + reach + 1]
        out.append(float(window.max() - window.min()))
    return np.array(out)


def test_every_building_stands_on_the_drawn_terrain(page, city):
    """At every base corner of every building, the drawn ground lies at the building's base height.

    The terrain tileset meshes the City's 2 m terrain grid with vertices ``spacing_m`` (10 m) apart, and the
    grid itself is interpolated between the buildings' ground heights; so at a corner the drawn ground may
    differ from the base by the grid's relief within one mesh spacing of it (measured here from terrain.tif:
    up to about 1 m between neighbours on the hill), plus ``RENDERING_M``. A building hung in the air by a
    datum error (the 36-40 m geoid), over a hole in the terrain (the globe at 0 m) or on a flat plate fails.
    """
    rings = base_rings(plateau_sample("14201_yokosuka"))
    assert len(rings) == 13
    corners = np.concatenate(list(rings.values()))
    base = corners[:, 2]
    drawn = terrain_under(page, corners)
    assert np.isfinite(drawn).all()
    spacing = float(json.loads((city / "city.json").read_text())["terrain_tiles"]["spacing_m"])
    tolerance = relief_within(city, corners, spacing) + RENDERING_M
    gap = base - drawn  # > 0: the corner hangs above the ground
    worst = int(np.argmax(np.abs(gap) - tolerance))
    assert (np.abs(gap) <= tolerance).all(), (
        f"a base corner at {corners[worst, :2]} is {gap[worst]:+.2f} m off the drawn ground "
        f"(tolerance {tolerance[worst]:.2f} m)")
    # and the buildings are not on a plate: their bases span the hill (2.2-10.5 m) and the ground follows
    assert np.ptp(base) > 8 and np.corrcoef(base, drawn)[0, 1] > 0.99


def test_the_console_on_the_real_city_passes_the_accessibility_audit(page):
    """axe-core on the console as it opens on this City (panels as loaded), under the page's own CSP."""
    violations = audit(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_the_pixels_under_a_footprint_are_its_ground(page, city):
    """Looking obliquely at the building on the hilltop (the highest base), the pixels just below the
    lowest corner of its footprint on screen are ground right in front of that corner: drawn terrain
    (neither the background nor the bare globe), and a point of the scene within a few metres of it."""
    rings = base_rings(plateau_sample("14201_yokosuka"))
    gml_id, ring = max(rings.items(), key=lambda item: item[1][0, 2])
    centre = ring.mean(axis=0)
    page.evaluate("""async ([lon, lat, h]) => {
        const Cesium = await import('/cesium/index.js');
        const { viewer } = window.twinViewer;
        document.querySelectorAll('#dock details').forEach((d) => { d.open = false; });
        viewer.camera.lookAt(Cesium.Cartesian3.fromDegrees(lon, lat, h),
            new Cesium.HeadingPitchRange(Cesium.Math.toRadians(20), Cesium.Math.toRadians(-35), 140));
        viewer.camera.lookAtTransform(Cesium.Matrix4.IDENTITY);
        viewer.scene.requestRender();
    }""", centre.tolist())
    page.wait_for_function("window.twinViewer.tileset.tilesLoaded && window.twinViewer.terrain().tilesLoaded",
                           polling=250, timeout=60_000)
    page.wait_for_timeout(1500)  # the frames after the last tile
    screen = page.evaluate("""async (ring) => {
        const Cesium = await import('/cesium/index.js');
        const { viewer } = window.twinViewer;
        const box = viewer.canvas.getBoundingClientRect();
        return ring.map(([lon, lat, h]) => {
            const p = Cesium.SceneTransforms.worldToWindowCoordinates(viewer.scene, Cesium.Cartesian3.fromDegrees(lon, lat, h));
            return p ? [p.x + box.left, p.y + box.top] : null; });
    }""", ring.tolist())
    assert all(s is not None for s in screen)
    screen = np.array(screen)
    k = int(np.argmax(screen[:, 1]))  # the corner lowest on screen: nearest the camera
    x, y = screen[k]
    below = [(x + dx, y + 4) for dx in (-2, 0, 2)]  # 4 px under the silhouette's lowest point
    picked = page.evaluate("""async (points) => {
        const Cesium = await import('/cesium/index.js');
        const { viewer } = window.twinViewer;
        const box = viewer.canvas.getBoundingClientRect();
        viewer.scene.render();
        return points.map(([x, y]) => {
            const p = viewer.scene.pickPosition(new Cesium.Cartesian2(x - box.left, y - box.top));
            if (!p) return null;
            const c = Cesium.Cartographic.fromCartesian(p);
            return [Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude), c.height]; });
    }""", below)
    assert all(p is not None for p in picked), "nothing drawn under the footprint"
    to_map = Transformer.from_crs("EPSG:6668", "EPSG:6677", always_xy=True)  # JGD2011 zone IX, metres
    cx, cy = to_map.transform(ring[k, 0], ring[k, 1])
    for lon, lat, h in picked:
        px, py = to_map.transform(lon, lat)
        # 4 px at 140 m with a 60° field of view on 640 px is about 1 m: the ground just in front of the
        # corner, at the corner's base height (the relief allowance of the first test, 1 m here)
        assert np.hypot(px - cx, py - cy) < 5 and abs(h - ring[k, 2]) < 1.1, (lon, lat, h)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "console-real-city.png"
    page.screenshot(path=str(path))
    pixels = np.asarray(Image.open(path).convert("RGB"), int)
    for px, py in below:
        colour = pixels[int(round(py)), int(round(px))]
        assert all(np.abs(colour - np.array(c)).max() > 12 for c in (BACKGROUND, GLOBE)), (gml_id, colour)
    assert page.errors == []
