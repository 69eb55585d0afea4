"""Footfall leaves the twin only as k-anonymised aggregates, through every open-data channel.

Three people counters on the sample city: c1 and c2 in area ``east``, c3 alone in ``west``, and
a river gauge. One local day (JST) of 15-minute counts, as in tests/sensors/test_footfall.py:
c1 counts h in each quarter of hour h, c2 counts 1, so ``east`` has 4h + 4 people in hour h,
1200 in the day; with k = 10 the hours 0 (4) and 1 (8) are withheld: 1188 published. ``west``
holds one counter: withheld whatever its counts. Each channel is then read as anonymous (and
the OGC API also as staff): the per-area numbers are those, and no counter's name, id or
series appears anywhere.
"""

from __future__ import annotations

import json
import sqlite3

import httpx
import pyogrio
import pytest

from tests.sensors.conftest import river_gauge
from tests.sensors.test_footfall import counter, intervals
from tests.twin.fixtures_city import CITY_ID

DAY = "2024-06-03"
EAST = [[139.4717, 35.9250], [139.4735, 35.9250], [139.4735, 35.9280], [139.4717, 35.9280], [139.4717, 35.9250]]
WEST = [[139.4700, 35.9250], [139.4717, 35.9250], [139.4717, 35.9280], [139.4700, 35.9280], [139.4700, 35.9250]]
COUNTERS = {"counter-kawagoe-alpha": (139.4720, 35.9260), "counter-kawagoe-beta": (139.4725, 35.9270),
            "counter-kawagoe-gamma": (139.4710, 35.9265)}
ALPHA, BETA, GAMMA = COUNTERS


@pytest.fixture(scope="module")
def feed(app, client, job) -> dict[str, int]:
    """Areas, three counters with a day of counts, and a gauge; the counters' datastream ids."""
    admin = {"Authorization": f"Bearer {app.state.keys.create('privacy-admin', 'admin')}"}
    areas = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "east", "name": "駅前", "name_en": "Station front"},
         "geometry": {"type": "Polygon", "coordinates": [EAST]}},
        {"type": "Feature", "properties": {"id": "west", "name": "公園", "name_en": "Park"},
         "geometry": {"type": "Polygon", "coordinates": [WEST]}}]}
    assert client.put(f"/api/footfall/{CITY_ID}/areas", json=areas, headers=admin).status_code == 200
    streams = {}
    for name in COUNTERS:
        thing = client.post("/sta/v1.1/Things", json=counter(name, COUNTERS[name]), headers=admin)
        assert thing.status_code == 201, thing.text
        streams[name] = client.get(thing.json()["Datastreams@iot.navigationLink"], headers=admin).json()["value"][0][
            "@iot.id"]
    rules = {ALPHA: lambda h: h, BETA: lambda h: 1, GAMMA: lambda h: 5}
    batch = [{"Datastream": {"@iot.id": streams[name]}, "components": ["phenomenonTime", "result"],
              "dataArray": intervals(DAY, rule)} for name, rule in rules.items()]
    assert client.post("/sta/v1.1/CreateObservations", json=batch, headers=admin).status_code == 201
    gauge = river_gauge()
    gauge["Locations"][0]["location"]["coordinates"] = [139.4715, 35.9262]
    assert client.post("/sta/v1.1/Things", json=gauge, headers=admin).status_code == 201
    return streams


def leaks(text: str, streams: dict[str, int]) -> list[str]:
    """Counter names or datastream references in an answer."""
    found = [name for name in COUNTERS if name in text]
    found += [f"Datastreams({i})" for i in streams.values() if f"Datastreams({i})" in text]
    found += [f"datastream-{i}" for i in streams.values() if f"datastream-{i}" in text]
    return found


def test_ogc_api_footfall_is_the_k_anonymised_day_totals_for_everyone(client, feed, staff):
    for headers in ({}, staff):
        answer = client.get(f"/ogcapi/{CITY_ID}/collections/footfall/items", params={"datetime": DAY},
                            headers=headers)
        assert answer.status_code == 200, answer.text
        days = {f["properties"]["area"]: f["properties"] for f in answer.json()["features"]}
        assert (days["east"]["people"], days["east"]["partial"], days["east"]["withheld"]) == (1188, True, False)
        assert (days["west"]["people"], days["west"]["withheld"]) == (None, True)
        assert leaks(answer.text, feed) == []
    # A filter cannot single out a withheld area's numbers either.
    alone = client.get(f"/ogcapi/{CITY_ID}/collections/footfall/items",
                       params={"datetime": DAY, "filter": "counters = 1"}).json()
    assert [(f["properties"]["area"], f["properties"]["people"]) for f in alone["features"]] == [("west", None)]


def test_ogc_api_sensor_stations_are_staff_only_and_never_list_counters(client, feed, staff):
    listed = client.get(f"/ogcapi/{CITY_ID}/collections").json()
    assert "sensors" not in {c["id"] for c in listed["collections"]} and leaks(json.dumps(listed), feed) == []
    assert client.get(f"/ogcapi/{CITY_ID}/collections/sensors/items").status_code == 401
    stations = client.get(f"/ogcapi/{CITY_ID}/collections/sensors/items", headers=staff)
    assert stations.status_code == 200
    assert [f["properties"]["name"] for f in stations.json()["features"]] == ["Tsurumi gauge"]
    assert leaks(stations.text, feed) == []


def test_the_catalogue_and_ckan_list_footfall_only_as_aggregates(client, base_url, feed):
    datasets = client.get("/catalog.jsonld").json()["dcat:dataset"]
    ids = {d["dct:identifier"] for d in datasets}
    assert f"footfall-{CITY_ID}" in ids and not {f"datastream-{i}" for i in feed.values()} & ids
    for answer in (client.get("/catalog.jsonld"), client.get("/catalog", headers={"Accept": "text/html"}),
                   client.get("/ckan/api/3/action/package_search", params={"rows": 1000}),
                   client.get("/ckan/api/3/action/package_list")):
        assert answer.status_code == 200 and leaks(answer.text, feed) == []
    assert httpx.get(f"{base_url}/ckan/api/3/action/package_search", params={"q": ALPHA},
                     timeout=60).json()["result"]["count"] == 0


def test_exports_hold_no_footfall_at_all(client, feed, tmp_path):
    listed = client.get(f"/api/cities/{CITY_ID}/downloads").json()["downloads"]
    assert all(d["collection"] != "footfall" for d in listed)
    gpkg = client.get(f"/api/cities/{CITY_ID}/downloads/{CITY_ID}.gpkg")
    assert gpkg.status_code == 200
    path = tmp_path / "city.gpkg"
    path.write_bytes(gpkg.content)
    assert not any("footfall" in name for name, _ in pyogrio.list_layers(path))
    with sqlite3.connect(path) as db:
        text = json.dumps(db.execute("SELECT * FROM gpkg_contents").fetchall(), ensure_ascii=False)
    assert leaks(text, feed) == [] and leaks(gpkg.content.decode("latin-1"), feed) == []


def test_raw_series_stay_behind_keys(client, feed):
    stream = feed[ALPHA]
    for path in (f"/sta/v1.1/Datastreams({stream})/Observations", "/ngsi/v2/entities",
                 f"/api/footfall/{CITY_ID}/counters/{stream}/hourly"):
        assert client.get(path).status_code == 401
