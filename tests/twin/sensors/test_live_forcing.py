"""A scenario from live gauges: rain and river stage from datastreams over a time window."""

from __future__ import annotations

import pytest

from sim.flood import Boundary
from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.city.grids import load_grids
from twin.errors import TwinInputError
from twin.flood.city_run import flood_run
from twin.flood.scenario import parse_scenario

PROBLEM = "application/problem+json"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
#: (minutes after 09:00Z, stage m, rain mm/h); the window below is 09:30–10:30Z.
READINGS = [(0, 0.8, 2.0), (30, 1.0, 10.0), (60, 1.6, 40.0), (90, 2.4, 25.0), (120, 2.2, 5.0)]
DATUM = 11.5  # gauge zero, m T.P.


@pytest.fixture(scope="module")
def streams(app, client) -> dict[str, int]:
    """A stage and a rain datastream with READINGS, written with a sensor key."""
    sensor = {"Authorization": f"Bearer {app.state.keys.create('gauge', 'sensor')}"}

    def stream(name: str, symbol: str) -> dict:
        return {"name": name, "description": name, "observationType": MEASUREMENT,
                "unitOfMeasurement": {"name": symbol, "symbol": symbol, "definition": symbol},
                "Sensor": {"name": name, "encodingType": "text/plain", "metadata": "-"},
                "ObservedProperty": {"name": name, "definition": f"urn:{name}"}}

    thing = {"name": "gauge", "description": "-", "Datastreams": [stream("stage", "m"), stream("rain", "mm/h")]}
    assert client.post("/sta/v1.1/Things", json=thing, headers=sensor).status_code == 201
    ids = {s["name"]: s["@iot.id"] for s in client.get("/sta/v1.1/Datastreams", headers=sensor).json()["value"]}
    for minutes, stage, rain in READINGS:
        moment = f"2026-07-01T{9 + minutes // 60:02d}:{minutes % 60:02d}:00Z"
        for name, value in (("stage", stage), ("rain", rain)):
            response = client.post("/sta/v1.1/Observations", headers=sensor, json={
                "phenomenonTime": moment, "result": value, "Datastream": {"@iot.id": ids[name]}})
            assert response.status_code == 201, response.text
    return ids


def forcing(client, staff, **params):
    return client.get("/api/scenarios/live-forcing", params=params, headers=staff)


def test_the_window_of_each_gauge_becomes_a_series_from_its_start(client, staff, streams):
    response = forcing(client, staff, rain=streams["rain"], stage=streams["stage"], side="west", datum_m=DATUM,
                       window_s=3600, end="2026-07-01T10:30:00Z")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == {"start": "2026-07-01T09:30:00Z", "end": "2026-07-01T10:30:00Z", "seconds": 3600}
    inside = [(m - 30, stage, rain) for m, stage, rain in READINGS if 30 <= m <= 90]  # the window's readings
    assert body["overrides"]["rain"] == {"series": [[60.0 * m, rain] for m, _, rain in inside]}
    assert body["overrides"]["boundaries"] == {"west": [[60.0 * m, pytest.approx(DATUM + s)] for m, s, _ in inside]}


def test_a_gauge_scenario_runs_with_a_stage_hydrograph(client, staff, streams):
    overrides = forcing(client, staff, rain=streams["rain"], stage=streams["stage"], side="west", datum_m=DATUM,
                        window_s=3600, end="2026-07-01T10:30:00Z").json()["overrides"]
    definition = {"name": "live", "duration_s": 600, "output_interval_s": 300, **overrides}
    scenario = parse_scenario(definition)
    run = flood_run(load_grids(converted_sample_city(), 8), scenario)
    west = run.forcing.boundaries.west
    assert isinstance(west, Boundary) and west.kind == "stage"
    assert west.stage(0) == pytest.approx(DATUM + 1.0) and west.stage(900) == pytest.approx(DATUM + 1.3)  # linear
    assert west.stage(7200) == pytest.approx(DATUM + 2.4)  # then hold
    response = client.post("/api/scenarios", headers=staff, json={"city": CITY_ID, "definition": definition,
                                                                  "cell_size": 8})
    assert response.status_code == 202, response.text
    assert response.json()["scenario"]["boundaries"]["west"][0] == [0.0, pytest.approx(DATUM + 1.0)]
    client.delete(f"/api/scenarios/{response.json()['id']}", headers=staff)


def test_bad_requests_are_problems(client, staff, streams):
    cases = [({}, "give a rain datastream"), ({"rain": 999}, "no such datastream"),
             ({"rain": streams["rain"], "end": "2020-01-01T00:00:00Z"}, "no numeric observations"),
             ({"stage": streams["stage"], "side": "up"}, "side 'up'"),
             ({"rain": streams["rain"], "end": "2026-07-01T10:30:00"}, "no time zone")]
    for params, words in cases:
        response = forcing(client, staff, **params)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, params
        assert words in response.json()["detail"], response.json()
    assert client.get("/api/scenarios/live-forcing", params={"rain": streams["rain"]}).status_code == 401


def test_a_stage_boundary_takes_a_hydrograph_and_refuses_a_bad_one():
    scenario = parse_scenario({"name": "s", "duration_s": 10, "boundaries": {"east": [[0, 1.0], [60, 2.0]]}})
    assert scenario.as_dict()["boundaries"] == {"east": [[0.0, 1.0], [60.0, 2.0]]}
    with pytest.raises(TwinInputError, match="boundaries.east: times must increase"):
        parse_scenario({"name": "s", "duration_s": 10, "boundaries": {"east": [[60, 1.0], [0, 2.0]]}})
