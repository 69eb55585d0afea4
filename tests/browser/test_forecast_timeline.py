"""The console's forecast timeline in Debian's Chromium, on one page load: a staff page before any
forecast shows the note; then a real nowcast cycle runs in the server (a rain gauge and a posted
cloudburst forecast on the converted sample city, 16 m cells, a 1-hour horizon) and the panel shows
that forecast: its issue time, its rain labelled as a posted forecast, and per output time the
buildings under water and roads cut of the forecast's JSON; clicking a time colours the loaded
buildings by their predicted depth then, in the MLIT classes. Below the timeline, the time left to
leave per area is the API's table, then the roads cut, soonest first; staff publish the forecast
from the panel, and the public hazard map then offers it labelled 予測 with its issue time;
withdrawn, the public map no longer has it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from tests.browser.serving import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, NEEDS_CHROMIUM, create_key, running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.depth_classes import CLASSES, rank_of_depth

pytestmark = [pytest.mark.browser, NEEDS_CHROMIUM]
#: The README's picture (docs/img/forecast-timeline.png) is a copy of this one; the test writes only here.
PICTURE = ARTIFACTS / "forecast-timeline.png"
NOWCAST = f"/api/nowcast/{CITY_ID}"
#: colouring.js's colour of a dry or unknown building (its NO_DATA grey).
DRY = "#d9d9d4"
#: The loaded buildings' colours, read from the features Cesium drew (each tile's content).
FEATURE_COLOURS = """() => { const out = {};
  const visit = (tile) => { const c = tile.content;
    for (let i = 0; i < (c?.featuresLength ?? 0); i += 1) {
      const f = c.getFeature(i); out[f.getProperty('gml_id')] = f.color.toCssHexString(); }
    for (const child of tile.children) visit(child); };
  visit(window.twinViewer.tileset.root); return out; }"""


def _gauge(base: str, sensor: str, name: str, unit: str, values: list[float], properties: dict | None = None) -> int:
    """A gauge ``name`` with ``values`` read 40, 30, 20 and 10 minutes ago; its datastream id."""
    stream = {"name": name, "description": name, "observationType":
              "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
              "unitOfMeasurement": {"name": unit, "symbol": unit, "definition": unit},
              "Sensor": {"name": f"{name} sensor", "encodingType": "text/plain", "metadata": "-"},
              "ObservedProperty": {"name": name, "definition": f"urn:{unit}"}, "properties": properties or {}}
    headers = {"Authorization": f"Bearer {sensor}"}
    thing = {"name": f"{name} gauge", "description": f"{name} gauge", "Datastreams": [stream]}
    assert httpx.post(f"{base}/sta/v1.1/Things", json=thing, headers=headers).status_code == 201
    ident = next(d["@iot.id"] for d in httpx.get(f"{base}/sta/v1.1/Datastreams", headers=headers).json()["value"]
                 if d["name"] == name)
    now = datetime.now(UTC).replace(microsecond=0)
    _readings(base, sensor, ident, [(now - timedelta(minutes=40 - 10 * k), v) for k, v in enumerate(values)])
    return ident


def _readings(base: str, sensor: str, ident: int, readings: list[tuple[datetime, float]]) -> None:
    for moment, value in readings:
        answer = httpx.post(f"{base}/sta/v1.1/Observations", headers={"Authorization": f"Bearer {sensor}"},
                            json={"phenomenonTime": moment.isoformat().replace("+00:00", "Z"), "result": value,
                                  "Datastream": {"@iot.id": ident}})
        assert answer.status_code == 201, answer.text


def _forecast(base: str, admin: str, staff: str, rain: int, river: int) -> dict:
    """Configure the nowcast, post a 300 mm/h cloudburst for the next 40 minutes, and wait for a
    forecast that used it (the thread's first cycle may run before the post: then the requested one).
    The river gauge drives a breach at the City's centre whose crest no stage reaches: its predicted
    stage is kept (and verified), but it sends no water."""
    def headers(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    lon, lat = httpx.get(f"{base}/api/cities/{CITY_ID}").json()["center"][:2]
    breach = {"datastream": river, "breach": [[lon - 0.0003, lat], [lon + 0.0003, lat]], "width_m": 50.0,
              "crest_m": 1000.0, "datum_m": 0.0}
    settings = {"rain_gauges": [rain], "river_gauges": [breach], "horizon_s": 3600, "output_interval_s": 600,
                "cell_size_m": 16.0, "scheme": "inertial"}
    assert (answer := httpx.put(f"{base}{NOWCAST}", json=settings, headers=headers(admin))).status_code == 200, \
        answer.text
    now = datetime.now(UTC)
    valid = [(now + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (2, 25, 40)]
    posted = {"rain": {"valid": valid, "mm_per_h": [300, 300, 0]}}
    assert (answer := httpx.post(f"{base}{NOWCAST}/inputs", json=posted, headers=headers(staff))).status_code == 200, \
        answer.text
    assert httpx.post(f"{base}{NOWCAST}/cycles", headers=headers(staff)).status_code == 202
    deadline = time.monotonic() + 240
    while True:
        answer = httpx.get(f"{base}{NOWCAST}/forecasts/latest", headers=headers(staff), timeout=30)
        if answer.status_code == 200 and "forecast posted" in answer.json()["forcing"]["rain"]:
            return answer.json()
        assert time.monotonic() < deadline, "no forecast from the posted rain"
        time.sleep(1)


def _expected_colours(depths: dict, k: int) -> dict[str, str]:
    """Each building's MLIT class colour at output time ``k`` (twin.depth_classes: the server's classes)."""
    ranks = rank_of_depth([b["depth_m"][k] for b in depths["buildings"]])
    return {b["gml_id"]: CLASSES[r - 1].colour.lower() if r else DRY for b, r in zip(depths["buildings"], ranks)}


def _pick(page, k: int, lead_s: float) -> None:
    page.eval_on_selector(f"#forecast .forecast-tick[data-index='{k}']", "e => e.dispatchEvent(new MouseEvent('click'))")
    page.wait_for_function(f"document.querySelector('#forecast').dataset.lead === '{lead_s:g}'", polling=250,
                           timeout=30_000)


def _press(page, selector: str) -> None:
    """Click like ``_pick`` does: a dispatched click (``page.click`` waits on Cesium's busy page)."""
    page.eval_on_selector(selector, "e => e.dispatchEvent(new MouseEvent('click'))")


def _published_becomes(page, state: str) -> None:
    """Wait for the panel's publish state; on a timeout, say what the panel shows instead."""
    try:
        page.wait_for_function(f"document.querySelector('#forecast').dataset.published === '{state}'", polling=250,
                               timeout=90_000)
    except Exception as exc:
        shown = page.evaluate("[document.querySelector('#forecast').dataset.published, "
                              "document.querySelector('#forecast .forecast-publish')?.textContent]")
        raise AssertionError(f"the panel's publish state is not {state!r}: {shown}") from exc


def _colours_become(page, expected: dict[str, str]) -> dict[str, str]:
    """Wait until every loaded building has its expected colour (the style applies on the next frames)."""
    shown: dict[str, str] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        page.evaluate("window.twinViewer.viewer.scene.requestRender()")
        page.wait_for_timeout(500)
        shown = page.evaluate(FEATURE_COLOURS)
        if shown and all(expected.get(gml_id) == colour for gml_id, colour in shown.items()):
            return shown
    wrong = {g: (c, expected.get(g)) for g, c in shown.items() if expected.get(g) != c}
    raise AssertionError(f"{len(wrong)} of {len(shown)} buildings keep another colour, e.g. {list(wrong.items())[:3]}")


def _verification_shown(page, base: str, staff: str, sensor: str, river: int, read_from: datetime) -> None:
    """The river's readings over the forecasts' hours arrive (posted ahead of their times: the test
    cannot wait an hour), rising past 氾濫注意水位 (2.0 m) 47 minutes after the first readings, which no
    forecast's trend predicted; the panel then shows the verification's numbers."""
    _readings(base, sensor, river, [(read_from + timedelta(minutes=5 * k), round(1.3 + 0.075 * k, 3))
                                    for k in range(25)])
    scores = httpx.get(f"{base}{NOWCAST}/verification", headers={"Authorization": f"Bearer {staff}"}).json()
    scored = [(f, g) for f in reversed(scores["forecasts"]) for g in [f["gauges"][str(river)]]]
    assert scored and all(len(g["errors"]) == 6 for _, g in scored), scores
    assert all(g["thresholds"]["standby"]["outcome"] == "hit" and g["thresholds"]["caution"]["outcome"] == "miss"
               for _, g in scored), scores
    page.evaluate("window.twinViewer.forecast.refresh()")
    page.wait_for_function(f"document.querySelector('#forecast').dataset.scored === '{len(scored)}'", polling=250,
                           timeout=30_000)

    def rows(selector: str) -> list[list[str]]:
        return page.eval_on_selector_all(f"{selector} tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))")

    def near(text: str, value: float) -> bool:  # metres are written to the mm
        return abs(float(text) - value) <= 0.0005 + 1e-9

    summary = scores["gauges"][str(river)]
    shown = rows(f"#forecast .forecast-verification-leads[data-gauge='{river}']")
    assert [r[0] for r in shown] == [f"+{b['lead_s'] // 60}" for b in summary["by_lead"]]
    assert all(near(r[1], b["mean_abs_error_m"]) and r[2] == str(b["forecasts"]) for r, b in zip(shown, summary["by_lead"]))
    outcomes = page.inner_text("#forecast .forecast-verification-outcomes")
    assert f"水防団待機水位 standby: 的中 hit {len(scored)}" in outcomes
    assert f"氾濫注意水位 caution: 見逃し miss {len(scored)}" in outcomes
    items = page.eval_on_selector_all("#forecast .forecast-verification-item", "es => es.map(e => e.dataset.issued)")
    assert items == [f["issued"] for f, _ in scored]
    for k, (_, g) in enumerate(scored):
        item = f"#forecast .forecast-verification-item:nth-of-type({k + 1})"
        errors = rows(f"{item} .forecast-verification-errors")
        assert [r[0] for r in errors] == [f"+{round(e['lead_s'] / 60)}" for e in g["errors"]]
        for r, e in zip(errors, g["errors"]):
            assert near(r[1], e["predicted_m"]) and near(r[2], e["observed_m"]) and near(r[3], e["error_m"]), (r, e)
        caption = page.text_content(f"{item} .forecast-verification-errors caption") or ""  # folded: no innerText
        assert near(caption.split("mean abs error ")[1].removesuffix(" m"), g["mean_abs_error_m"]), caption
        crossings = rows(f"{item} .forecast-verification-thresholds")
        assert [r[-1] for r in crossings] == ["的中 hit", "見逃し miss"]
        assert [r[1] for r in crossings] == ["はい yes", "いいえ no"] and [r[2] for r in crossings] == ["はい yes"] * 2
    page.eval_on_selector("#forecast .forecast-verification", "e => { e.querySelector('details').open = true; "
                          "e.scrollIntoView(); }")
    page.screenshot(path=str(ARTIFACTS / "forecast-verification.png"), timeout=120_000)


def test_forecast_timeline_shows_the_forecast_and_colours_buildings_by_depth(tmp_path_factory):
    playwright = pytest.importorskip("playwright.sync_api")
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    admin, staff, sensor = (create_key(home, role, role) for role in ("admin", "staff", "sensor"))
    with running_server(home) as base, playwright.sync_playwright() as p:
        read_from = datetime.now(UTC).replace(microsecond=0)
        rain = _gauge(base, sensor, "雨量 rain", "mm/h", [10.0, 30.0, 50.0, 60.0])
        # rising 0.6 m/h: the trend predicts 1.9 m at most within the hour, past 水防団待機水位 but not 氾濫注意水位
        river = _gauge(base, sensor, "水位 river stage", "m", [1.0, 1.1, 1.2, 1.3],
                       {"thresholds": {"standby": 1.0, "caution": 2.0}})
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
        page.on("response", lambda r: errors.append(f"404 {r.url}") if r.status == 404 else None)
        page.add_init_script(f"sessionStorage.setItem('twin.staffKey', '{staff}')")
        page.goto(base + "/")
        page.wait_for_function("window.twinViewer && window.twinViewer.forecast && document.body.dataset.tilesetLoaded"
                               " === 'true'", polling=250, timeout=150_000)
        page.evaluate("window.twinViewer.forecast.ready")
        assert page.inner_text("#forecast .forecast-issued") == "予報はまだありません · no forecast yet"

        forecast = _forecast(base, admin, staff, rain, river)
        timeline = forecast["timeline"]
        depths = httpx.get(f"{base}{NOWCAST}/forecasts/latest/depths",
                           headers={"Authorization": f"Bearer {staff}"}).json()
        assert depths["lead_s"] == [t["lead_s"] for t in timeline]
        # the depths per time agree with the forecast's own counts (wet: twin.depth_classes' threshold)
        for k, t in enumerate(timeline):
            assert sum(rank_of_depth(b["depth_m"][k]) > 0 for b in depths["buildings"]) == t["buildings_wet"]
        wet = [t["buildings_wet"] for t in timeline]
        assert max(wet) > 0 and len(set(wet)) > 1, f"the cloudburst must wet buildings, more as it goes on: {wet}"

        page.evaluate("window.twinViewer.forecast.refresh()")
        page.wait_for_function(f"document.querySelector('#forecast').dataset.issued === {forecast['issued']!r}",
                               polling=250, timeout=30_000)
        assert forecast["issued"][:16].replace("T", " ") in page.inner_text("#forecast .forecast-issued")
        assert "rain: 予報値 posted forecast" in page.inner_text("#forecast .forecast-forcing")
        # no reading after the forecast yet: nothing scored, and the panel says so
        page.wait_for_function("document.querySelector('#forecast').dataset.scored === '0'", polling=250,
                               timeout=30_000)
        assert "no forecast scored yet" in page.inner_text("#forecast .forecast-verification")
        shown_wet = page.eval_on_selector_all("#forecast text.forecast-buildings", "es => es.map(e => e.textContent)")
        shown_roads = page.eval_on_selector_all("#forecast text.forecast-roads", "es => es.map(e => e.textContent)")
        ticks = page.eval_on_selector_all("#forecast .forecast-tick", "es => es.map(e => Number(e.dataset.lead))")
        assert ticks == [t["lead_s"] for t in timeline]
        assert shown_wet == [str(t["buildings_wet"]) for t in timeline]
        # roads are written to 10 m (two decimals of a km): within half of that of the forecast's figure
        assert all(abs(float(s) - t["roads_cut_km"]) <= 0.005 for s, t in zip(shown_roads, timeline))

        first, last = wet.index(min(wet)), wet.index(max(wet))  # two times with different buildings wet
        _pick(page, first, timeline[first]["lead_s"])
        early = _colours_become(page, _expected_colours(depths, first))
        _pick(page, last, timeline[last]["lead_s"])
        late = _colours_become(page, _expected_colours(depths, last))
        assert any(late[g] != early[g] for g in early), "a later time recolours some loaded building"
        assert page.get_attribute("#legend", "data-mode") == "forecast"  # the legend names the depth classes drawn
        assert sum(c != DRY for c in late.values()) > 0, "some loaded building is drawn under water"
        PICTURE.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(PICTURE), timeout=120_000)

        staff_headers = {"Authorization": f"Bearer {staff}"}
        areas = httpx.get(f"{base}{NOWCAST}/forecasts/latest/areas", headers=staff_headers).json()
        shown_areas = page.eval_on_selector_all("#forecast .forecast-areas td:first-child", "es => es.map(e => e.textContent)")
        assert shown_areas == [a["id"] for a in areas["areas"][:12]] and shown_areas
        roads = httpx.get(f"{base}{NOWCAST}/forecasts/latest/roads", headers=staff_headers).json()["features"]
        page.wait_for_selector("#forecast .forecast-roads", timeout=30_000)
        assert page.inner_text("#forecast .forecast-roads p").endswith(f": {len(roads)}")
        shown_roads = page.eval_on_selector_all("#forecast .forecast-roads li", "es => es.map(e => e.textContent)")
        assert [r.split(" · ")[-2] for r in shown_roads[:12]] == [f["properties"]["gml_id"] for f in roads[:12]]
        assert page.get_attribute("#forecast", "data-published") == "none"
        _press(page, "#forecast .forecast-publish-button")
        _published_becomes(page, "this")
        assert "公開中 on the public map" in page.inner_text("#forecast .forecast-publish")
        public = httpx.get(f"{base}/api/cities/{CITY_ID}/hazard-forecast").json()["forecast"]
        assert public["issued"] == forecast["issued"] and public["status"] == "current"

        resident = browser.new_page(viewport={"width": 360, "height": 740}, locale="ja-JP", timezone_id="Asia/Tokyo")
        resident.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        resident.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}"))
        resident.goto(base + "/hazard")
        resident.wait_for_selector("body[data-tileset-loaded=true]", state="attached", timeout=120_000)
        assert resident.evaluate("document.body.dataset.forecast") == "current"
        issued_jst = datetime.fromisoformat(forecast["issued"].replace("Z", "+00:00")).astimezone(
            timezone(timedelta(hours=9)))
        assert " ".join(resident.inner_text("#forecast-toggle").split()).startswith("予測 (")  # wraps on a phone
        assert f"{issued_jst:%H:%M}" in resident.inner_text("#forecast-times")
        resident.check("#forecast")
        note = resident.inner_text("#forecast-note")
        assert note.startswith("予測：") and "まで有効" in note and "公式の浸水想定ではありません" in note
        assert resident.is_hidden("#simulation-note")
        resident.wait_for_function("window.hazardMap.map.overlay?.image.src.endsWith(" + repr(public["image"]) + ")",
                                   polling=250, timeout=30_000)
        lon, lat = httpx.get(f"{base}/api/cities/{CITY_ID}").json()["center"][:2]
        resident.evaluate("([lon, lat]) => window.hazardMap.checkAt(lon, lat)", [lon, lat])
        answer = resident.inner_text("#answer")
        assert f"予測 ({issued_jst:%-m/%-d %H:%M} JST 発表)" in answer and "予測最大浸水深" in answer, answer
        resident.screenshot(path=str(ARTIFACTS / "hazard-forecast.png"))

        page.bring_to_front()  # a page behind another gets no animation frames
        _press(page, "#forecast .forecast-publish-button")
        _published_becomes(page, "none")
        assert httpx.get(f"{base}/api/cities/{CITY_ID}/hazard-forecast").json() == {"forecast": None}

        _verification_shown(page, base, staff, sensor, river, read_from)
        assert errors == [], errors
        browser.close()
