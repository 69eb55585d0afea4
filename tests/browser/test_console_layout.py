"""The console's layout in Debian's Chromium at 1366×768, 1920×1080, a 1024 px tablet and a 360 px phone:
no panel hides another or Cesium's credits, the header keeps to a row or two, nothing scrolls sideways, and
the globe shows the city between (or above) the panels."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
SIZES = [(1366, 768), (1920, 1080), (1024, 768), (360, 740)]
PANELS = ["#alert-banner", "#evacuation", "#legend", "#panel", "#dock", "#flood"]
#: Page rectangles (document coordinates) of the visible ones of ``selectors``.
RECTS = """selectors => selectors.flatMap(s => { const e = document.querySelector(s);
  if (!e || e.hidden || !e.getClientRects().length) return [];
  const r = e.getBoundingClientRect();
  return [{s, left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY}]; })"""
#: Whether the element at the middle of ``selector``'s box is that element or inside it (scrolled into view).
ON_TOP = """s => { const e = document.querySelector(s); e.scrollIntoView({block: 'center'});
  const r = e.getBoundingClientRect(); const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  window.scrollTo(0, 0); return !!hit && (hit === e || e.contains(hit)); }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("layout") / "data", converted_sample_city())
    with running_server(home) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server):  # closed before the server stops: its open event streams would hold the server up
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open_every_panel(page, server) -> None:
    """The attribute panel of a building (clicked on its roof), the live alert banner and the evacuation
    panel (shown as a job with an evacuation and a gauge at 避難判断水位 would show them)."""
    buildings = httpx.get(f"{server}/api/cities/{CITY_ID}/buildings", params={"limit": 1000}).json()["features"]
    for props in sorted((b["properties"] for b in buildings), key=lambda p: -(p["height"] or 0))[:30]:
        roof = page.evaluate("([lon, lat, h]) => window.twinViewer.pagePosition(lon, lat, h)",
                             [props["centroid_lon"], props["centroid_lat"], props["ground_height"] + props["height"] - 0.5])
        if roof and page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.tagName === 'CANVAS' "
                                  "&& window.twinViewer.pickAt(x, y)", [roof["x"], roof["y"]]) == props["gml_id"]:
            page.mouse.click(roof["x"], roof["y"])
            # polled: Playwright's own waits run on animation frames, which SwiftShader hands out slowly
            page.wait_for_function(f"!!document.querySelector(\"#panel[data-gml-id='{props['gml_id']}']\")",
                                   polling=250, timeout=90_000)
            break
    else:
        raise AssertionError("no building's roof could be clicked")
    page.evaluate("""() => {
      const banner = document.querySelector('#alert-banner');
      banner.textContent = '避難判断水位 Evacuation decision level: 水位 level 3.2 m'; banner.hidden = false;
      const evacuation = document.querySelector('#evacuation');
      evacuation.replaceChildren(Object.assign(document.createElement('h2'), {textContent: '避難 Evacuation'}),
        Object.assign(document.createElement('p'), {textContent: '到着 arrived 812 / 943'}));
      evacuation.hidden = false; }""")


def _overlap(a: dict, b: dict) -> float:
    width = min(a["right"], b["right"]) - max(a["left"], b["left"])
    height = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(width, 0) * max(height, 0)


@pytest.fixture(scope="module")
def page(browser, server):
    """One console, loaded once with every panel open; each size is the same page resized (loading the
    tileset in software WebGL is what takes the time, and a resize lays the page out as a load would)."""
    width, height = SIZES[0]
    page = browser.new_page(viewport={"width": width, "height": height}, locale="ja-JP")
    try:  # closed even when a check fails: a page left drawing in software WebGL starves the next one
        page.goto(f"{server}/?city={CITY_ID}")
        page.wait_for_function("document.body.dataset.tilesetLoaded === 'true'", polling=250, timeout=150_000)
        page.wait_for_function("window.twinViewer && window.twinViewer.compare", polling=250, timeout=60_000)
        # the City's roads, river and bridges are drawn; the hazard layers it lacks are switched off with a note
        page.wait_for_function("(l => l.dataset.ground !== undefined && l.dataset.missing !== undefined)"
                               "(document.querySelector('#layers'))", polling=250, timeout=60_000)
        _open_every_panel(page, server)
        yield page
    finally:
        page.close()


def test_missing_layers_are_switched_off_with_a_note(page):
    assert page.evaluate("document.querySelector('#layers').dataset.ground") == "road water bridge"
    assert page.evaluate("document.querySelector('#layers').dataset.missing") == "tnm htd ifld rfld"  # the sample has fld
    assert page.evaluate("[...document.querySelectorAll('#layers input:disabled')].map(b => b.dataset.layer)") \
        == ["tnm", "htd", "ifld", "rfld"]
    assert page.inner_text("#layer-tnm-note") == "この都市のデータにありません · not in this city's data"


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_no_panel_hides_another_or_the_credits_and_nothing_scrolls_sideways(page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_function(f"innerWidth === {width} && innerHeight === {height}", polling=250, timeout=30_000)
    page.wait_for_timeout(1000)  # the globe's canvas follows the window on its next frames
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"console-layout-{width}x{height}.png"
    page.screenshot(path=str(shot), timeout=120_000)  # software WebGL on a loaded machine is slow to hand a frame

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate("document.body.scrollWidth") <= width
    boxes = page.evaluate(RECTS, [*PANELS, "header", "#credits"])
    assert {b["s"] for b in boxes} == {*PANELS, "header", "#credits"}  # all shown
    for k, a in enumerate(boxes):
        assert a["right"] <= width + 0.5 and a["left"] >= -0.5, a  # nothing cut off at the sides
        for b in boxes[k + 1:]:
            assert _overlap(a, b) < 1, (a, b)
    for selector in [*PANELS, "#credits"]:
        assert page.evaluate(ON_TOP, selector), f"{selector} is covered"
    credits = next(b for b in boxes if b["s"] == "#credits")
    assert credits["right"] - credits["left"] > 20 and credits["bottom"] - credits["top"] > 8  # Cesium's logo is there

    # the header keeps to one or two rows (three on a phone: the sign-in and the status get rows of their own),
    # never a column: the title and the colour choice share the first row
    header = next(b for b in boxes if b["s"] == "header")
    rows = page.evaluate("""() => new Set([...document.querySelectorAll('header > *')].filter(e => e.getClientRects().length)
      .map(e => Math.round(e.getBoundingClientRect().top / 8))).size""")
    assert rows <= (3 if width < 700 else 2), rows
    assert header["bottom"] - header["top"] < 0.15 * height
    same_row = page.evaluate("""() => { const a = document.querySelector('header h1').getBoundingClientRect();
      const b = document.querySelector('#colour-by').getBoundingClientRect(); return b.top < a.bottom && a.top < b.bottom; }""")
    assert same_row

    # pixels: the city is drawn where the globe shows between (on a phone: above) the panels
    globe = page.evaluate(RECTS, ["#globe"])[0]
    columns = [b for b in boxes if b["s"] in PANELS]
    left = max([b["right"] for b in columns if b["right"] < width / 2] + [globe["left"]])
    right = min([b["left"] for b in columns if b["left"] > width / 2] + [globe["right"]])
    top, bottom = max(globe["top"], header["bottom"]), min(globe["bottom"], height)
    assert right - left > 0.2 * width and bottom - top > 0.3 * height
    pixels = np.asarray(Image.open(shot).convert("L"), float)[int(top):int(bottom), int(left):int(right)]
    assert pixels.std() > 12 and len(np.unique(pixels.astype(int))) > 50
