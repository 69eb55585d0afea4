"""The operations console in Debian's Chromium: loads offline under the CSP, colours and picks buildings."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``twin serve`` (default host) on a free port over the sample city; its base URL."""
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    with running_server(home) as base:
        yield base


@pytest.fixture(scope="module")
def page(server):
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 880, "height": 560})
        page.errors = []
        page.external_requests = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"{e.name}: {e.message}"))
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:"))
                else page.external_requests.append(r.url))
        page.goto(server + "/")
        page.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=150_000)
        yield page
        browser.close()


def test_viewer_loads_offline_without_console_or_csp_errors(page, server):
    assert page.errors == []
    assert page.external_requests == []  # no ion, no imagery, no terrain from the internet
    assert page.evaluate("window.CESIUM_BASE_URL") == "/cesium/"
    assert page.evaluate("window.twinViewer.tileset.tilesLoaded") is True
    assert "出典：国土交通省 Project PLATEAU" in page.inner_text("#attribution")
    csp = httpx.get(server + "/").headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval'" in csp  # what Cesium needs, no more


def test_an_idle_console_draws_nothing_and_a_change_draws_at_once(page):
    """Frames are drawn on change only (viewer/src/scene.js): an idle page draws none, which keeps a
    phone's battery and a software renderer's cores free; a style set through the API still shows."""
    page.evaluate("""() => { window.framesDrawn = 0;
        window.twinViewer.viewer.scene.postRender.addEventListener(() => { window.framesDrawn += 1; }); }""")
    quiet = False
    for _ in range(30):  # the globe's and the terrain's tiles go on loading a while after the buildings
        page.evaluate("window.framesDrawn = 0")
        page.wait_for_timeout(3000)
        if page.evaluate("window.framesDrawn") == 0:
            quiet = True
            break
    assert quiet, "the page drew frames in every 3 s for 90 s with nothing changing"
    page.evaluate("window.twinViewer.colourBy('height')")
    page.wait_for_function("window.framesDrawn > 0", polling=100, timeout=10_000)
    page.evaluate("window.twinViewer.colourBy('usage')")


def test_clicking_a_building_shows_its_attributes(page, server):
    buildings = httpx.get(f"{server}/api/cities/{CITY_ID}/buildings", params={"limit": 1000}).json()["features"]
    tallest_first = sorted((b["properties"] for b in buildings), key=lambda p: -(p["height"] or 0))
    target = None
    for props in tallest_first[:20]:
        roof = page.evaluate("([lon, lat, h]) => window.twinViewer.pagePosition(lon, lat, h)",
                             [props["centroid_lon"], props["centroid_lat"], props["ground_height"] + props["height"] - 0.5])
        if roof and page.evaluate(  # on the globe (not under legend or panel) and that building's roof
                "([x, y]) => document.elementFromPoint(x, y)?.tagName === 'CANVAS' && window.twinViewer.pickAt(x, y)",
                [roof["x"], roof["y"]]) == props["gml_id"]:
            target = props, roof
            break
    assert target is not None, "no building's roof centre picks back to that building"
    props, roof = target
    detail = httpx.get(f"{server}/api/cities/{CITY_ID}/buildings/{props['gml_id']}").json()
    usage = detail["value_names"]["usage"][props["usage_code"]]
    for lang, field in (("ja", "用途"), ("en", "Usage")):  # the user's language (remembered, else the browser's)
        page.evaluate("lang => localStorage.setItem('machi-twin.lang', lang)", lang)
        page.mouse.click(roof["x"], roof["y"])
        panel = page.locator(f"#panel[data-gml-id='{props['gml_id']}'][lang={lang}]")
        panel.wait_for(timeout=15_000)
        text = panel.inner_text()
        assert props["gml_id"] in text
        assert field in text and f"{usage[lang]} ({props['usage_code']})" in text  # the code decoded, in that language
        page.eval_on_selector("#panel button", "b => b.click()")
    page.evaluate("localStorage.removeItem('machi-twin.lang')")


def test_flood_colouring_uses_the_mlit_colours_and_the_page_is_not_blank(page):
    page.select_option("#colour-by", "flood")
    page.wait_for_selector("#legend[data-mode=flood]")
    swatches = page.eval_on_selector_all("#legend .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert swatches[:6] == ["rgb(247, 245, 169)", "rgb(255, 216, 192)", "rgb(255, 183, 183)",
                            "rgb(255, 145, 145)", "rgb(242, 133, 201)", "rgb(220, 122, 220)"]
    page.wait_for_timeout(1500)  # let the restyled frame render
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))
    pixels = np.asarray(Image.open(ARTIFACTS / "viewer.png").convert("L"), float)
    height, width = pixels.shape
    globe = pixels[height // 8:-height // 8, width // 3:-width // 3]  # the scene, away from bars, legend, panel
    assert globe.std() > 12, f"the scene looks blank (grey std {globe.std():.1f})"
    assert len(np.unique(globe.astype(int))) > 50
    assert page.errors == []


#: The scene's BRDF table against the one Cesium renders itself (256², 1,024 GGX samples a texel): each
#: channel's difference, in 8-bit steps. Measured: 0.7 on average, 5.3 at most beyond cos θ = 1/16 and 17 at
#: grazing angles (cos θ → 0), where the integrand turns sharply and the 32² table, sampled linearly, bends
#: less than Cesium's 256 nearest texels. Bounds: a mean under one step, and 3 % of full scale (8 steps)
#: beyond grazing — the table scales the light a surface reflects, so 3 % is below what the eye tells apart.
_LUT_DIFFERENCE = """async () => {
  const Cesium = await import("/cesium/index.js");
  const { brdfLutBytes } = await import("/src/brdf-lut.js");
  const scene = window.twinViewer.viewer.scene;
  const context = scene.context;
  const generator = new Cesium.BrdfLutGenerator();
  generator.update({ context });
  const framebuffer = new Cesium.Framebuffer({ context, colorTextures: [generator.colorTexture],
                                               destroyAttachments: false });
  const theirs = context.readPixels({ x: 0, y: 0, width: 256, height: 256, framebuffer });
  framebuffer.destroy();
  generator.destroy();
  const n = 32, ours = brdfLutBytes();
  const at = (i, j, c) => ours[4 * (Math.min(Math.max(j, 0), n - 1) * n + Math.min(Math.max(i, 0), n - 1)) + c];
  const diffs = [];
  for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) for (const c of [0, 1]) {
    const u = ((x + 0.5) / 256) * n - 0.5, v = ((y + 0.5) / 256) * n - 0.5;
    const i = Math.floor(u), j = Math.floor(v), fu = u - i, fv = v - j;
    const value = (1 - fv) * ((1 - fu) * at(i, j, c) + fu * at(i + 1, j, c))
      + fv * ((1 - fu) * at(i, j + 1, c) + fu * at(i + 1, j + 1, c));
    diffs.push([Math.abs(value - theirs[4 * (y * 256 + x) + c]), x]);
  }
  const largest = (values) => values.reduce((a, b) => Math.max(a, b), 0);
  const all = diffs.map((d) => d[0]);
  return { installed: scene._brdfLutGenerator.colorTexture.width,
           mean: all.reduce((a, b) => a + b, 0) / all.length,
           max: largest(diffs.filter((d) => d[1] >= 16).map((d) => d[0])), maxGrazing: largest(all) };
}"""


def test_the_brdf_table_made_on_the_cpu_matches_the_one_cesium_renders(page):
    result = page.evaluate(_LUT_DIFFERENCE)
    assert result["installed"] == 32  # the scene uses ours: Cesium did not render its own
    assert result["mean"] < 1.0, result  # under one 8-bit step on average
    assert result["max"] < 8.0, result  # beyond cos θ = 1/16
    assert result["maxGrazing"] < 40, result
