"""The nowcast's API: an admin configures it, staff post forecasts and ask for cycles; bad
input (a gauge mapped to nothing, a forecast in the past, an unknown side) is a clear 422 and
nothing is stored half-way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.twin.fixtures_city import CITY_ID
from twin.sensors.times import iso

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
URL = f"/api/nowcast/{CITY_ID}"


@pytest.fixture(scope="module")
def gauges(client, keys) -> dict[str, int]:
    def stream(name: str, symbol: str) -> dict:
        return {"name": name, "description": name, "observationType": MEASUREMENT,
                "unitOfMeasurement": {"name": symbol, "symbol": symbol, "definition": symbol},
                "Sensor": {"name": name, "encodingType": "text/plain", "metadata": "-"},
                "ObservedProperty": {"name": name, "definition": f"urn:{name}"}}

    thing = {"name": "gauge", "description": "-", "Datastreams": [stream("stage", "m"), stream("rain", "mm/h")]}
    assert client.post("/sta/v1.1/Things", json=thing, headers=keys["sensor"]).status_code == 201
    return {s["name"]: s["@iot.id"] for s in client.get("/sta/v1.1/Datastreams", headers=keys["sensor"]).json()["value"]}


def test_bad_settings_are_refused_and_nothing_is_stored(client, keys, gauges):
    cases = [({"rain_gauges": [999999]}, "no such datastream"),
             ({}, "at least one rain gauge or river gauge"),
             ({"rain_gauges": [gauges["rain"]], "cycle_s": 5}, "cycle_s must lie between"),
             ({"river_gauges": [{"datastream": gauges["stage"], "side": "up"}]}, "side 'up'"),
             ({"river_gauges": [{"datastream": gauges["stage"]}]}, "give a side"),
             ({"rain_gauges": [gauges["rain"]], "horizon": 3}, "unknown nowcast settings: horizon")]
    for body, message in cases:
        answer = client.put(URL, json=body, headers=keys["admin"])
        assert answer.status_code == 422, (body, answer.text)
        assert message in answer.json()["detail"], (body, answer.json())
    assert client.get(URL, headers=keys["staff"]).json()["config"] is None
    assert client.put(URL, json={"rain_gauges": [gauges["rain"]]}, headers=keys["staff"]).status_code == 403
    assert client.get("/api/nowcast/nowhere", headers=keys["staff"]).status_code == 404


def test_settings_posted_forecasts_and_a_requested_cycle(app, client, keys, gauges):
    body = {"rain_gauges": [gauges["rain"]], "river_gauges": [{"datastream": gauges["stage"], "side": "west",
                                                               "datum_m": 11.5}], "horizon_s": 7200}
    answer = client.put(URL, json=body, headers=keys["admin"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["horizon_s"] == 7200 and answer.json()["cycle_s"] == 600 and answer.json()["scheme"] == "auto"
    now = datetime.now(UTC)
    ahead = [iso(now + timedelta(minutes=m)) for m in (10, 20, 30)]
    bad = [({"rain": {"valid": [iso(now - timedelta(minutes=5)), *ahead[:2]], "mm_per_h": [1, 2, 3]}}, "in the past"),
           ({"rain": {"valid": ahead, "mm_per_h": [1, -2, 3]}}, "must not be below 0"),
           ({"rain": {"valid": ahead[::-1], "mm_per_h": [1, 2, 3]}}, "must increase"),
           ({"stage": {"999999": {"valid": ahead, "stage_m": [1, 2, 3]}}}, "not a river gauge of this nowcast"),
           ({"rain": {"valid": ahead, "mm_per_h": [1, 2, 3]},
             "stage": {"999999": {"valid": ahead, "stage_m": [1, 2, 3]}}}, "not a river gauge"),
           ({"snow": {}}, "a posted forecast is")]
    for posted, message in bad:
        answer = client.post(f"{URL}/inputs", json=posted, headers=keys["staff"])
        assert answer.status_code == 422, (posted, answer.text)
        assert message in answer.json()["detail"]
    assert client.get(URL, headers=keys["staff"]).json()["posted"] == {}  # the good rain of the last case was not kept
    good = {"rain": {"valid": ahead, "mm_per_h": [10, 20, 5]},
            "stage": {str(gauges["stage"]): {"valid": ahead, "stage_m": [1.0, 1.2, 1.4]}}}
    answer = client.post(f"{URL}/inputs", json=good, headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    kept = client.get(URL, headers=keys["staff"]).json()["posted"]
    assert kept["rain"]["mm_per_h"] == [10.0, 20.0, 5.0] and kept["rain"]["valid"] == ahead
    assert kept["stage"][str(gauges["stage"])]["stage_m"] == [1.0, 1.2, 1.4]
    assert client.get(f"{URL}/forecasts/latest", headers=keys["staff"]).status_code == 404
    assert client.post(f"{URL}/cycles", headers=keys["staff"]).status_code == 202
    assert app.state.nowcasts.due(CITY_ID, now) == "asked for by staff"
