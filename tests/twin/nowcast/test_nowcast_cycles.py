"""The nowcast end to end: ``twin sensors simulate``'s storm posted into the server's store,
cycles on time, warm starts that carry the water, an alert before the water reaches the
buildings it names, verification once the observations arrive, and a server killed mid-cycle
that resumes from the saved state.

The City is the converted 120-building sample city at 16 m cells (a 1-hour horizon), its
river gauge driving a 100 m levee breach among the buildings whose crest the river tops at
避難判断水位 (2.6 m on the simulated gauge)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from sim.flood import FloodModel, Scheme
from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.city.grids import load_grids
from twin.city.layout import CityFolder
from twin.depth_classes import WET_DEPTH_M, WET_TOLERANCE_M
from twin.flood.city_run import flood_run
from twin.nowcast.cycle import BuildingCells, scenario_of
from twin.nowcast.folder import NowcastFolder, issue_stamp
from twin.nowcast.forcing import cycle_forcing
from twin.nowcast.service import NowcastService
from twin.sensors import events
from twin.sensors.simulate import THRESHOLDS, Feed, river_stage_m

pytestmark = pytest.mark.slow

STORM = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)  # the simulated storm's start: rain peaks at +3 h, the river at +3.75 h
FIRST = STORM + timedelta(hours=2, minutes=30)  # stage 2.26 m and rising 1.3 m/h
CELL_M = 16.0


@pytest.fixture(scope="module")
def feed(app) -> Feed:
    """The simulated gauges of the sample city, with 5-minute readings to the first issue time."""
    sensor = TestClient(app, headers={"Authorization": f"Bearer {app.state.keys.create('gauges', 'sensor')}"})
    feed = Feed("", "", CITY_ID, client=sensor)
    feed.install()
    post(feed, STORM, FIRST)
    return feed


def post(feed: Feed, start: datetime, end: datetime) -> None:
    moment = start
    while moment <= end:
        feed.live(STORM, moment)
        moment += timedelta(minutes=5)


def post_storm_to(feed: Feed) -> datetime:
    """Post the last 90 minutes of the storm shifted so that now is FIRST; now, to the second."""
    now = datetime.now(UTC).replace(microsecond=0)
    storm = now - (FIRST - STORM)
    moment = now - timedelta(hours=1, minutes=30)
    while moment <= now:
        feed.live(storm, moment)
        moment += timedelta(minutes=5)
    return now


def stream(feed: Feed, kind: str) -> int:
    return next(d.datastream for d in feed.gauges if d.kind == kind)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def settings(feed) -> dict:
    """Rain from the rain gauge; the river spills through a breach on open ground beside the
    middle of the buildings, crest at that ground, gauge zero 2.6 m below it."""
    grids = load_grids(converted_sample_city(), CELL_M)
    xs, ys = grids.lonlat_to_map(grids.buildings["centroid_lon"].to_numpy(), grids.buildings["centroid_lat"].to_numpy())
    row, col = grids.terrain.cell_of(float(np.median(xs)), float(np.median(ys)))
    open_rows, open_cols = np.nonzero(grids.blocked == 0)
    k = np.argmin((open_rows - row) ** 2 + (open_cols - col) ** 2)
    r, c = int(open_rows[k]), int(open_cols[k])
    x0, y0 = grids.terrain.transform * (c + 0.5, r + 0.5)
    ends = grids.map_to_lonlat(np.array([x0 - 25.0, x0 + 25.0]), np.array([y0, y0]))
    crest = float(grids.terrain.data[r, c])
    return {"origin": "2026-07-01T00:00:00Z", "rain_gauges": [stream(feed, "rain")],
            "river_gauges": [{"datastream": stream(feed, "river"), "breach": [[ends[0][0], ends[1][0]],
                                                                               [ends[0][1], ends[1][1]]],
                              "width_m": 100.0, "crest_m": crest, "datum_m": crest - THRESHOLDS["evacuation"]}],
            "cycle_s": 600, "horizon_s": 3600, "cell_size_m": CELL_M, "output_interval_s": 600,
            "alert_lead_s": 3600, "alert_depth_m": 0.2, "scheme": "inertial"}


def building_depths(grids, depth: np.ndarray) -> np.ndarray:
    return BuildingCells(grids, grids.blocked).maximum(np.asarray(depth, np.float64))


def test_cycles_warm_starts_alerts_verification_and_resume(app, data_dir, feed, settings, client, keys):
    service = NowcastService(data_dir, app.state.store)
    service.configure(CITY_ID, settings)
    river = stream(feed, "river")

    # cycle 1, cold: spun up from a dry City an hour before; persistence and trend, labelled
    assert service.due(CITY_ID, FIRST) == "first cycle"
    first = service.run(CITY_ID, FIRST)
    assert first["start"].startswith("cold start")
    assert "persistence of the last hour's mean" in first["forcing"]["rain"]
    assert "trend" in first["forcing"][f"river gauge {river}"]
    assert [t["lead_s"] for t in first["timeline"]] == [600.0 * k for k in range(7)]
    named = first["alerts"]["first_buildings"]
    assert first["alerts"]["buildings"] > 0 and named, "the rising river must put buildings at risk within the hour"
    # the alert comes before the water: in the state the cycle reached at its issue time (its
    # analysis, saved as the warm start) every building it names is below the alert depth
    grids = load_grids(converted_sample_city(), CELL_M)
    ids = grids.buildings["gml_id"].tolist()
    index = [ids.index(g) for g in named]
    analysis, at, _ = NowcastFolder(data_dir, CITY_ID).state()
    assert at == FIRST
    before = building_depths(grids, analysis.depth)[index]
    assert np.all(before < settings["alert_depth_m"]), before
    # the sample city's three flood shelters stay under 0.1 m this hour: none alerted, all reachable
    assert len(first["shelters"]) == 3 and first["alerts"]["shelters"] == []
    assert all(s["max_depth_m"] < settings["alert_depth_m"] and s["stays_reachable"] for s in first["shelters"])
    # per area time left to leave, kept with the forecast: every building in one 1/4 mesh, and
    # each mesh's least time is the least of its buildings' (the sample city has no named areas)
    kept = NowcastFolder(data_dir, CITY_ID)
    areas = json.loads(kept.forecast_file(issue_stamp(FIRST), "areas.json").read_text(encoding="utf-8"))
    table = pd.read_parquet(kept.forecast_file(issue_stamp(FIRST), "buildings.parquet"))
    assert areas["areas_from"].startswith("JIS X 0410") and sum(a["buildings"] for a in areas["areas"]) == len(table)
    least = min((a["min_time_to_leave_s"] for a in areas["areas"] if a["min_time_to_leave_s"] is not None), default=None)
    assert least == (None if table["time_to_leave_s"].isna().all() else pytest.approx(table["time_to_leave_s"].min(), abs=0.1))
    assert sum(a["too_late"] for a in areas["areas"]) == int((table["time_to_leave_s"] < 0).sum())
    assert sum(a["at_alert_depth"] for a in areas["areas"]) == int(table["alert_in_s"].notna().sum()) > 0
    assert table["walk_s"].notna().all() and table["shelter"].notna().all(), "every building walks to a shelter"
    assert sum(a["no_shelter"] for a in areas["areas"]) == int((table["alert_in_s"].notna() & table["walk_s"].isna()).sum())
    # roads cut and when: served soonest first, each cut at one of the forecast's valid times
    roads = client.get(f"/api/nowcast/{CITY_ID}/forecasts/{issue_stamp(FIRST)}/roads", headers=keys["staff"]).json()
    valid = [t["valid"] for t in first["timeline"]]
    cut = [f["properties"]["cut_at"] for f in roads["features"]]
    assert roads["type"] == "FeatureCollection" and len(cut) == first["roads"]["cut"] > 0
    assert cut == sorted(cut) and set(cut) <= set(valid)
    assert all(f["properties"]["max_depth_m"] >= 0.3 for f in roads["features"])
    everything = client.get(f"/api/nowcast/{CITY_ID}/forecasts/{issue_stamp(FIRST)}/roads?all=true",
                            headers=keys["staff"]).json()
    assert len(everything["features"]) == first["roads"]["count"] == len(CityFolder.open(converted_sample_city()).roads())
    assert max(t["roads_cut_km"] for t in first["timeline"]) > 0

    # on time: not due 5 minutes later, due at 10
    assert service.due(CITY_ID, FIRST + timedelta(minutes=5)) is None
    assert service.due(CITY_ID, FIRST + timedelta(minutes=10)) == "cycle time"

    # cycle 2 starts from the state cycle 1 reached at its issue time, and that equals one
    # run straight through the observed forcing (the same steps: float32 round-off, measured 0)
    second_issue = FIRST + timedelta(minutes=10)
    post(feed, FIRST + timedelta(minutes=5), second_issue)
    second = service.run(CITY_ID, second_issue)
    assert second["start"] == f"warm start from the state at {first['issued']}"
    assert second["scheme_reason"] == "inertial: kept from the warm start"
    folder = NowcastFolder(data_dir, CITY_ID)
    state, valid, _ = folder.state()
    assert valid == second_issue
    config = folder.config()
    forcing = cycle_forcing(app.state.store.session(), config, {}, FIRST - timedelta(hours=1), second_issue)
    run = flood_run(grids, scenario_of(config, forcing), Scheme(kind="inertial", dtype=np.float32))
    straight = FloodModel(run.dem.data, run.dem.cell_size, manning=run.manning, blocked=run.blocked,
                          forcing=run.forcing, scheme=run.scheme, arrival_depth=WET_DEPTH_M - WET_TOLERANCE_M)
    straight.run(config.seconds(second_issue), output_interval=3600.0)
    assert straight.stored_volume() > 1000.0, "water must have come in"
    np.testing.assert_allclose(state.depth, straight.h, rtol=0, atol=1e-6)

    # a server killed mid-cycle leaves a staging folder and a partial state: the next server
    # cleans them when it starts, and resumes from the last complete state
    (folder.forecasts / f".{issue_stamp(FIRST + timedelta(hours=1))}.partial").mkdir()
    (folder.path / ".state.partial.npz").write_bytes(b"half")
    service_restarted = NowcastService(data_dir, app.state.store)  # a new server on the same folder
    assert not list(folder.path.glob(".*.partial*")) and not list(folder.forecasts.glob(".*.partial*"))
    later = FIRST + timedelta(hours=1)
    # the river reaches 避難判断水位 (2.6 m) at about +2 h 47: a cycle is due at once, before its time
    post(feed, second_issue + timedelta(minutes=5), second_issue + timedelta(minutes=10))
    assert river_stage_m(2 + 50 / 60) > THRESHOLDS["evacuation"] + 0.1
    assert service_restarted.due(CITY_ID, second_issue + timedelta(minutes=5)) == \
        f"river gauge {river} reached 避難判断水位"
    post(feed, second_issue + timedelta(minutes=15), later)
    assert service_restarted.due(CITY_ID, later) == "cycle time"
    third = service_restarted.run(CITY_ID, later)
    assert third["start"] == f"warm start from the state at {second['issued']}"
    # the buildings named at FIRST, below the alert depth then, are at or above it in the City's
    # simulated water an hour later
    truth, _, _ = folder.state()
    reached = building_depths(grids, truth.depth)[index]
    assert np.all(reached >= config.alert_depth_m), reached

    # verification: forecast 1 (valid to FIRST + 1 h) is scored against the readings since
    scores = service_restarted.verification(CITY_ID)
    mine = next(f for f in scores["forecasts"] if f["issued"] == first["issued"])["gauges"][str(river)]
    assert [e["lead_s"] for e in mine["errors"]] == [600.0 * k for k in range(1, 7)]
    for e in mine["errors"]:
        valid_h = (datetime.fromisoformat(e["valid"].replace("Z", "+00:00")) - STORM).total_seconds() / 3600
        # the observed stage is the simulated river's, with its 1 cm noise (5 sigma)
        assert e["observed_m"] == pytest.approx(river_stage_m(valid_h), abs=0.05)
        assert e["error_m"] == pytest.approx(e["predicted_m"] - e["observed_m"], abs=1e-3)
    # the trend (2.26 m rising 1.3 m/h) predicted 避難判断 (2.6 m) within the hour; the river crossed it
    assert mine["thresholds"]["evacuation"]["outcome"] == "hit"
    assert mine["thresholds"]["danger"]["outcome"] in ("hit", "miss", "false alarm", "correct negative")
    assert scores["gauges"][str(river)]["outcomes"]["evacuation"]["hit"] >= 1
    pending = next(f for f in scores["forecasts"] if f["issued"] == third["issued"])["gauges"][str(river)]
    assert pending["thresholds"]["evacuation"]["outcome"] == "pending"


def test_forecast_alerts_are_listed_on_the_alerts_route_and_logged(app, data_dir, feed, settings, client, keys):
    """A cycle issued now, during the same storm shifted to end now: its alerts are on
    ``/api/alerts`` for staff (not for anonymous readers) and in the event log ``/api/stream`` reads."""
    now = post_storm_to(feed)
    service = NowcastService(data_dir, app.state.store)
    service.configure(CITY_ID, {**settings, "alert_depth_m": 0.02})  # low enough for the shelters' 3-6 cm
    with app.state.store.session() as session:
        last = events.latest_id(session)
    forecast = service.run(CITY_ID, now)
    assert forecast["alerts"]["buildings"] > 0
    # the shelters alerted: those the water reaches at the alert depth within the lead time, so
    # at least that deep at the peak, and no longer reachable for the whole horizon
    alerted = [s for s in forecast["shelters"] if s["id"] in forecast["alerts"]["shelters"]]
    assert alerted and all(s["max_depth_m"] >= 0.02 and s["alert_in_s"] <= settings["alert_lead_s"]
                           and not s["stays_reachable"] for s in alerted)
    listed = client.get("/api/alerts", headers=keys["staff"]).json()["forecasts"]
    assert listed == [{"city": CITY_ID, "issued": forecast["issued"], "valid_to": forecast["valid_to"],
                       **forecast["alerts"]}]
    assert "forecasts" not in client.get("/api/alerts").json()
    assert service.alerts(now + timedelta(seconds=settings["horizon_s"])) == []  # expired with its forecast
    with app.state.store.session() as session:
        logged = [e for e in events.since(session, last, public_only=False) if e.kind == "forecast"]
        public = [e for e in events.since(session, last, public_only=True) if e.kind == "forecast"]
    assert [e.data for e in logged] == [{"city": CITY_ID, "issued": forecast["issued"], **forecast["alerts"]}]
    assert public == []


def wait_for_new(folder: NowcastFolder, known: set[str], timeout_s: float) -> str:
    """The stamp of the first forecast kept that is not in ``known``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = sorted(set(folder.issued()) - known)
        if new:
            return new[0]
        time.sleep(0.2)
    raise AssertionError(f"no new forecast within {timeout_s} s")


def test_the_server_thread_runs_cycles_on_time_and_stops(app, data_dir, feed, settings):
    """The service's own thread, checking every 0.5 s with a 60 s cycle, issues two forecasts
    60 s apart (plus at most the cycle's check and a second's rounding), and stops when asked."""
    post_storm_to(feed)
    service = NowcastService(data_dir, app.state.store, tick_s=0.5)
    service.context(service.configure(CITY_ID, {**settings, "cycle_s": 60}))  # the City's grids and walks, loaded once
    folder = NowcastFolder(data_dir, CITY_ID)
    known = set(folder.issued())
    service.start()
    thread = service._thread
    try:
        first = wait_for_new(folder, known, 180)
        second = wait_for_new(folder, known | {first}, 180)
    finally:
        service.stop()
    assert thread is not None and not thread.is_alive()
    issued = [datetime.fromisoformat(folder.forecast(s)["issued"].replace("Z", "+00:00")) for s in (first, second)]
    assert 60 <= (issued[1] - issued[0]).total_seconds() <= 62
    assert set(folder.issued()) == known | {first, second} and not list(folder.forecasts.glob(".*"))
