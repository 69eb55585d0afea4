"""Footfall aggregates against hand-computed values, k-anonymity for the public, detail for staff.

The feed: two Mondays, 2024-06-03 and 2024-06-10 (JST), 15-minute people counts.
Area ``east`` holds counters c1 and c2, area ``west`` holds c3 only.
- day 1: c1 counts h per interval in local hour h (4h an hour), c2 counts 1 (4 an hour),
  so east has 4h + 4 people in hour h: 1200 a day; with k = 10 hours 0 (4) and 1 (8) are
  withheld from the public, whose day total is 1200 − 12 = 1188.
- day 2: every count doubled: 8h + 8 an hour, 2400 a day; only hour 0 (8) is withheld: 2392.
- c3 counts 5 per interval (20 an hour), but alone in ``west``: withheld from the public.
Every test runs on SQLite and PostgreSQL (the ``database_url`` fixture of tests/store).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.store.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from twin.sensors.footfall import PEOPLE_COUNT
from twin.server import Settings, create_app

COUNT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
BBOX = [139.700, 35.600, 139.710, 35.610]
DAY1, DAY2 = "2024-06-03", "2024-06-10"
EAST = [[139.705, 35.600], [139.710, 35.600], [139.710, 35.610], [139.705, 35.610], [139.705, 35.600]]
WEST = [[139.700, 35.600], [139.705, 35.600], [139.705, 35.610], [139.700, 35.610], [139.700, 35.600]]
PLACES = {"c1": (139.707, 35.603), "c2": (139.708, 35.606), "c3": (139.702, 35.605)}


def counter(name: str, place: tuple[float, float] | None = None) -> dict:
    """A people counter Thing at ``place`` (lon, lat; default its place in PLACES)."""
    lon, lat = place or PLACES[name]
    return {"name": name, "Locations": [{"name": name, "encodingType": "application/geo+json",
                                         "location": {"type": "Point", "coordinates": [lon, lat]}}],
            "Datastreams": [{"name": f"{name} people", "unitOfMeasurement": {"name": "people", "symbol": "{people}"},
                             "observationType": COUNT,
                             "Sensor": {"name": "counter", "encodingType": "text/plain", "metadata": "-"},
                             "ObservedProperty": {"name": "peopleCount", "definition": PEOPLE_COUNT,
                                                  "properties": {"range": [0, 1e6]}}}]}


def intervals(day: str, count_of_hour) -> list[list]:
    """96 quarter-hours of a local (JST) day as [phenomenonTime interval, count]."""
    start = datetime.fromisoformat(f"{day}T00:00:00+09:00").astimezone(UTC)
    rows = []
    for q in range(96):
        begin = start + timedelta(minutes=15 * q)
        period = f"{begin.isoformat()}/{(begin + timedelta(minutes=15)).isoformat()}".replace("+00:00", "Z")
        rows.append([period, count_of_hour(q // 4)])
    return rows


@pytest.fixture
def served(database_url, tmp_path):  # noqa: F811 - the imported fixture
    """A server on ``database_url`` with one city, two areas, three counters and the two-day feed."""
    home = tmp_path / "home"
    (home / "town").mkdir(parents=True)
    (home / "town" / "city.json").write_text(json.dumps({"id": "town", "name": "town", "bbox": BBOX}))
    app = create_app(Settings(data_dir=home, database_url=database_url))
    keys = {role: app.state.keys.create(f"{role}-key", role) for role in ("admin", "staff", "sensor")}
    headers = {role: {"Authorization": f"Bearer {key}"} for role, key in keys.items()}
    with TestClient(app) as client:
        areas = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "east", "name": "駅前", "name_en": "Station front"},
             "geometry": {"type": "Polygon", "coordinates": [EAST]}},
            {"type": "Feature", "properties": {"id": "west", "name": "公園", "name_en": "Park"},
             "geometry": {"type": "Polygon", "coordinates": [WEST]}}]}
        assert client.put("/api/footfall/town/areas", json=areas, headers=headers["admin"]).status_code == 200
        streams = {}
        for name in PLACES:
            thing = client.post("/sta/v1.1/Things", json=counter(name), headers=headers["sensor"])
            assert thing.status_code == 201, thing.text
            streams[name] = client.get(thing.json()["Datastreams@iot.navigationLink"],
                                       headers=headers["sensor"]).json()["value"][0]["@iot.id"]
        feed = {"c1": lambda h, scale: scale * h, "c2": lambda h, scale: scale, "c3": lambda h, scale: 5}
        batch = [{"Datastream": {"@iot.id": streams[name]}, "components": ["phenomenonTime", "result"],
                  "dataArray": intervals(DAY1, lambda h, rule=rule: rule(h, 1))
                  + intervals(DAY2, lambda h, rule=rule: rule(h, 2))}
                 for name, rule in feed.items()]
        sent = client.post("/sta/v1.1/CreateObservations", json=batch, headers=headers["sensor"])
        assert sent.status_code == 201, sent.text
        yield client, headers, streams


def test_staff_summary_equals_the_hand_computed_figures(served):
    client, headers, _ = served
    body = client.get("/api/footfall/town/summary", params={"area": "east", "start": "2024-05-28", "days": 14},
                      headers=headers["staff"]).json()
    daily = {d["date"]: d["count"] for d in body["daily"]}
    assert daily[DAY1] == 1200 and daily[DAY2] == 2400
    assert sum(v or 0 for v in daily.values()) == 3600
    # mean over the days with data in each hour: ((4h + 4) + (8h + 8)) / 2 = 6h + 6
    profile = {p["hour"]: p["mean"] for p in body["profile"]}
    assert all(profile[h] == 6 * h + 6 for h in range(24))
    assert [b["hour"] for b in body["busiest"]] == [23, 22, 21]
    assert body["busiest"][0]["mean"] == 144
    week = body["weekOverWeek"]
    assert (week["thisWeek"]["from"], week["thisWeek"]["to"]) == ("2024-06-04", DAY2)
    assert week["thisWeek"]["count"] == 2400 and week["lastWeek"]["count"] == 1200 and week["change"] == 1.0
    hour = next(c for c in body["hourly"] if c["time"] == f"{DAY1}T09:00:00+09:00")
    assert hour["count"] == 4 * 9 + 4


def test_public_aggregates_withhold_cells_under_k_and_single_counter_areas(served):
    client, _, _ = served
    body = client.get("/api/footfall/town/summary", params={"area": "east", "start": DAY1, "days": 8}).json()
    assert body["k"] == 10
    cells = {c["time"]: c for c in body["hourly"]}
    assert cells[f"{DAY1}T00:00:00+09:00"] == {"time": f"{DAY1}T00:00:00+09:00", "count": None, "suppressed": True}
    assert cells[f"{DAY1}T01:00:00+09:00"]["count"] is None
    assert cells[f"{DAY1}T02:00:00+09:00"]["count"] == 12
    assert cells[f"{DAY2}T01:00:00+09:00"]["count"] == 16
    daily = {d["date"]: d for d in body["daily"]}
    assert (daily[DAY1]["count"], daily[DAY1]["partial"]) == (1188, True)
    assert (daily[DAY2]["count"], daily[DAY2]["partial"]) == (2392, True)
    # hour 0 was withheld on both days, hour 1 on the first only
    profile = {p["hour"]: p for p in body["profile"]}
    assert profile[0]["mean"] is None and (profile[1]["mean"], profile[1]["days"]) == (16, 1)
    west = client.get("/api/footfall/town/summary", params={"area": "west", "start": DAY1, "days": 8}).json()
    assert west["suppressed"] and west["counters"] == 1
    assert all(c["count"] is None for c in west["hourly"]) and all(d["count"] is None for d in west["daily"])


def test_comparison_of_an_event_day_with_the_weekday_before(served):
    client, headers, _ = served
    params = {"area": "east", "a": DAY2, "b": DAY1}
    staff = client.get("/api/footfall/town/compare", params=params, headers=headers["staff"]).json()
    assert (staff["a"]["total"], staff["b"]["total"], staff["change"], staff["difference"]) == (2400, 1200, 1.0, 1200)
    assert staff["a"]["byHour"][5] == 48 and staff["b"]["byHour"][5] == 24
    assert staff["a"]["peakHour"] == 23
    public = client.get("/api/footfall/town/compare", params=params).json()
    assert (public["a"]["total"], public["b"]["total"]) == (2392, 1188)
    assert public["change"] == round((2392 - 1188) / 1188, 4)
    assert public["a"]["byHour"][0] is None and public["a"]["partial"]


def test_anonymous_readers_never_get_a_device_series_and_staff_do(served):
    client, headers, streams = served
    path = f"/api/footfall/town/counters/{streams['c1']}/hourly"
    assert client.get(path, params={"start": DAY1, "days": 1}).status_code == 401
    assert client.get(path, params={"start": DAY1, "days": 1}, headers=headers["sensor"]).status_code == 403
    series = client.get(path, params={"start": DAY1, "days": 1}, headers=headers["staff"]).json()
    assert [c["count"] for c in series["hourly"]] == [4 * h for h in range(24)]
    public = client.get("/api/footfall/town/counters", params={"start": DAY1, "days": 8}).json()
    assert not public["detail"] and all(set(c) == {"name", "lon", "lat", "areas"} for c in public["counters"])
    staff = client.get("/api/footfall/town/counters", params={"start": DAY1, "days": 8}, headers=headers["staff"]).json()
    totals = {c["name"]: (c["count"], c["areas"]) for c in staff["counters"]}
    assert totals == {"c1": (3 * 4 * 276, ["east"]), "c2": (3 * 96, ["east"]), "c3": (2 * 96 * 5, ["west"])}
    denied = client.get("/api/footfall/town/hourly.csv", params={"per": "counter"})
    assert denied.status_code == 403 and denied.headers["content-type"] == "application/problem+json"


def test_csv_export_matches_the_summary(served):
    client, headers, streams = served
    params = {"area": "east", "start": DAY1, "days": 8}
    text = client.get("/api/footfall/town/hourly.csv", params=params).text
    rows = list(csv.DictReader(io.StringIO(text)))
    summary = client.get("/api/footfall/town/summary", params=params).json()
    assert len(rows) == 8 * 24
    assert [r["people"] for r in rows] == ["" if c["count"] is None else f"{c['count']:g}" for c in summary["hourly"]]
    per_counter = client.get("/api/footfall/town/hourly.csv", params={**params, "per": "counter"},
                             headers=headers["staff"]).text
    c3 = [r for r in csv.DictReader(io.StringIO(per_counter)) if r["datastream"] == str(streams["c3"])]
    assert sum(float(r["people"]) for r in c3) == 2 * 96 * 5


def test_csv_file_names_in_japanese_survive_the_latin1_header(served):
    """An area named in Japanese names the file through RFC 5987's filename*; the plain filename is ASCII
    (the fuzzer found the header failing to encode: the per-counter export names the area it was given)."""
    client, headers, _ = served
    answer = client.get("/api/footfall/town/hourly.csv", params={"area": "駅前", "start": DAY1, "days": 1, "per": "counter"},
                        headers=headers["staff"])
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert disposition.isascii()
    assert "filename*=UTF-8''footfall-town-%E9%A7%85%E5%89%8D-" in disposition


def test_bad_areas_and_periods_get_clear_errors(served):
    client, headers, _ = served
    bad = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"id": "x y", "name": "a"},
                                                      "geometry": {"type": "Point", "coordinates": [0, 0]}}]}
    answer = client.put("/api/footfall/town/areas", json=bad, headers=headers["admin"])
    assert answer.status_code == 422 and "properties.id" in answer.json()["detail"]
    assert client.put("/api/footfall/town/areas", json=bad).status_code == 401
    assert client.put("/api/footfall/town/areas", json=bad, headers=headers["staff"]).status_code == 403
    assert client.get("/api/footfall/town/summary", params={"days": 0}).status_code == 422
    assert client.get("/api/footfall/town/summary", params={"area": "nowhere"}).status_code == 404
    assert client.get("/api/footfall/elsewhere/summary").status_code == 404
