"""The public map's optional background map: with ``TWIN_IMAGERY_URL`` set (here a local XYZ tile server
standing in for GSI 地理院タイル) the page fetches the tiles of the view at a sensible zoom, draws them
under everything and credits them; unset, it asks nothing from outside (test_hazard_page.py)."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image

from tests.browser.serving import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, free_port, running_server
from tests.twin.fixtures_city import converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
TILE_RGB = (40, 170, 120)
CREDIT = "試験タイル (test tiles)"


def _tile_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), TILE_RGB).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tiles():
    """A tile server answering every /{z}/{x}/{y}.png with one colour (CORS allowed); yields (url, asked)."""
    body, asked = _tile_png(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png", asked
    server.shutdown()


@pytest.fixture(scope="module")
def page(tmp_path_factory, tiles):
    playwright = pytest.importorskip("playwright.sync_api")
    url, _ = tiles
    home = data_dir_linking(tmp_path_factory.mktemp("bg") / "data", converted_sample_city())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TWIN_IMAGERY_URL", url)
        env.setenv("TWIN_IMAGERY_CREDIT", CREDIT)
        with running_server(home) as base, playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 360, "height": 740}, locale="ja-JP")
            page.errors = []
            page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
            page.goto(f"{base}/hazard")
            page.wait_for_function("document.body.dataset.tilesetLoaded === 'true'", polling=250, timeout=150_000)
            yield page
            browser.close()


def test_the_operators_background_is_fetched_drawn_under_everything_and_credited(page, tiles):
    _, asked = tiles
    city = converted_sample_city()
    buildings = gpd.read_parquet(city / "buildings.parquet")
    open_ground = shapely.union_all([gpd.read_parquet(city / f"{name}.parquet").union_all()
                                     for name in ("roads", "water", "bridges", "hazards")]
                                    + [buildings.union_all().buffer(4e-4)])
    centre = buildings.union_all().centroid
    page.evaluate("([lon, lat]) => window.hazardMap.lookDown(lon, lat, 400)", [centre.x, centre.y])
    page.wait_for_function("window.hazardMap.map.background.tiles.size > 0 && [...window.hazardMap.map.background"
                           ".tiles.values()].every(t => t.complete)", polling=250, timeout=60_000)
    page.wait_for_timeout(500)
    zooms = {int(path.split("/")[1]) for path in asked}
    # 400 m across 360 px is about 1.1 m a pixel: zoom 17 at 36° N (156 km / 2^z · cos 36° per pixel)
    assert zooms and max(zooms) in (16, 17, 18), zooms
    assert CREDIT in page.inner_text("#attribution")
    # the tile colour shows on open ground (no building, road, water, bridge or hazard area there)
    west, south, east, north = buildings.total_bounds
    grid = [shapely.Point(x, y) for x in np.linspace(west, east, 25) for y in np.linspace(south, north, 25)]
    bare = [p for p in grid if not open_ground.contains(p)]
    box = page.evaluate("(() => { const r = document.getElementById('map').getBoundingClientRect(); "
                        "return [r.left, r.top, r.right, r.bottom]; })()")
    spots = [page.evaluate("([lon, lat]) => window.hazardMap.pagePosition(lon, lat, 0)", [p.x, p.y]) for p in bare]
    spots = [s for s in spots if box[0] + 2 < s["x"] < box[2] - 2 and box[1] + 2 < s["y"] < box[3] - 2][:12]
    assert len(spots) >= 3
    pixel = """([x, y]) => { const c = document.getElementById('map'); const box = c.getBoundingClientRect();
        const r = c.width / box.width; return [...c.getContext('2d').getImageData(Math.round((x - box.left) * r),
        Math.round((y - box.top) * r), 1, 1).data].slice(0, 3); }"""
    hits = sum(all(abs(a - b) <= 3 for a, b in zip(page.evaluate(pixel, [s["x"], s["y"]]), TILE_RGB)) for s in spots)
    assert hits >= 0.8 * len(spots), (hits, len(spots))
    assert page.errors == []
