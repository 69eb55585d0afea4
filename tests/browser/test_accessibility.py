"""An accessibility audit of the three pages on the sample city with axe-core (``tests.browser.a11y``) in
Debian's Chromium: no serious or critical violation on /hazard (with an answer open), / and /footfall.
The real-city pages are audited in test_hazard_page_real_city.py and test_console_real_city.py.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest

from tests.browser.a11y import audit, needs_axe
from tests.browser.serving import CHROMIUM, CHROMIUM_ARGS, NEEDS_CHROMIUM, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("a11y") / "data", converted_sample_city())
    with running_server(home) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server):  # closed before the server stops: its open event streams would hold the server up
    playwright = pytest.importorskip("playwright.sync_api")
    needs_axe()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url: str, ready: str, viewport=(1280, 800), locale: str = "ja-JP"):
    context = browser.new_context(viewport=dict(zip(("width", "height"), viewport)), locale=locale)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(f"!!document.querySelector({ready!r})", polling=250, timeout=150_000)
    return context, page


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_hazard_map_with_an_answer_open(browser, server, lang):
    context, page = open_page(browser, f"{server}/hazard", "body[data-tileset-loaded=true]", (360, 740),
                              "ja-JP" if lang == "ja" else "en-GB")
    areas = gpd.read_parquet(converted_sample_city() / "hazards.parquet")
    point = areas.iloc[0].geometry.representative_point()
    page.evaluate("([lon, lat]) => window.hazardMap.checkAt(lon, lat)", [point.x, point.y])
    page.wait_for_selector("#answer[data-lon]", timeout=30_000)
    assert page.evaluate("document.documentElement.lang") == lang
    violations = audit(page)
    context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_the_operations_console(browser, server):
    context, page = open_page(browser, f"{server}/?city={CITY_ID}", "body[data-tileset-loaded=true]")
    page.wait_for_function("window.twinViewer && window.twinViewer.compare", polling=250, timeout=60_000)
    violations = audit(page)
    context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_the_footfall_dashboard(browser, server):
    context, page = open_page(browser, f"{server}/footfall?city={CITY_ID}", "body[data-footfall-ready=true]")
    violations = audit(page)
    context.close()
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
