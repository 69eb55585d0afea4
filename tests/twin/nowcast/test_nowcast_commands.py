"""``twin nowcast configure``, ``run`` and ``verify`` through the ``twin`` entry point, on the
server home the API serves: the settings the command stores are the ones the API answers, the
cycle it runs is kept as a forecast, and the scores it prints are the API's, and are the stage
errors and threshold outcomes worked out here from the readings.

A river gauge reads 1.0 to 1.3 m over the 40 minutes before the issue time (rising 0.6 m/h, so
the trend predicts 1.3 m + 0.6 m/h × lead), then rises 0.9 m/h: it passes 水防団待機水位 (1.0 m,
predicted: a hit) and 氾濫注意水位 (2.0 m, 50 minutes after the issue time, which the trend's
1.9 m did not predict: a miss). Its breach's crest is far above any stage: no water comes in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.twin.fixtures_city import CITY_ID
from twin.nowcast.folder import NowcastFolder, issue_stamp
from twin.sensors.times import iso

pytestmark = pytest.mark.slow

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
URL = f"/api/nowcast/{CITY_ID}"
ISSUE = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
THRESHOLDS = {"standby": 1.0, "caution": 2.0}
#: The readings after the issue time: every 5 minutes for 70 minutes, rising 0.9 m/h from 1.3 m.
LATER = [(ISSUE + timedelta(minutes=5 * k), round(1.3 + 0.075 * k, 3)) for k in range(15)]


@pytest.fixture(scope="module")
def river(client, keys) -> int:
    """The river gauge's datastream, with its readings before the issue time."""
    stream = {"name": "stage", "description": "stage", "observationType": MEASUREMENT,
              "unitOfMeasurement": {"name": "m", "symbol": "m", "definition": "m"},
              "Sensor": {"name": "stage", "encodingType": "text/plain", "metadata": "-"},
              "ObservedProperty": {"name": "stage", "definition": "urn:stage"}, "properties": {"thresholds": THRESHOLDS}}
    thing = {"name": "river gauge", "description": "-", "Datastreams": [stream]}
    assert client.post("/sta/v1.1/Things", json=thing, headers=keys["sensor"]).status_code == 201
    ident = client.get("/sta/v1.1/Datastreams", headers=keys["sensor"]).json()["value"][0]["@iot.id"]
    post(client, keys, ident, [(ISSUE - timedelta(minutes=40 - 10 * k), 1.0 + 0.1 * k) for k in range(4)])
    return ident


def post(client, keys, ident: int, readings: list[tuple[datetime, float]]) -> None:
    for moment, value in readings:
        answer = client.post("/sta/v1.1/Observations", headers=keys["sensor"],
                             json={"phenomenonTime": iso(moment), "result": value, "Datastream": {"@iot.id": ident}})
        assert answer.status_code == 201, answer.text


def test_configure_run_and_verify_through_the_command(twin, data_dir, client, keys, river):
    lon, lat = client.get(f"/api/cities/{CITY_ID}").json()["center"][:2]
    gauge = f"{river}:breach={lon - 0.0003},{lat},{lon + 0.0003},{lat}:width=40:crest=1000:datum=0"
    done = twin("nowcast", "configure", CITY_ID, "--river-gauge", gauge, "--cycle-min", "15", "--horizon-h", "1",
                "--scheme", "inertial", "--cell-size", "16", "--alert-lead-min", "30", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    stored = client.get(URL, headers=keys["staff"]).json()["config"]
    assert stored == printed
    assert (stored["cycle_s"], stored["horizon_s"], stored["scheme"], stored["cell_size_m"], stored["alert_lead_s"]) \
        == (900.0, 3600.0, "inertial", 16.0, 1800.0)
    assert stored["rain_gauges"] == [] and stored["river_gauges"] == [
        {"datastream": river, "breach": [[lon - 0.0003, lat], [lon + 0.0003, lat]], "width_m": 40.0,
         "crest_m": 1000.0, "datum_m": 0.0}]

    done = twin("nowcast", "run", CITY_ID, "--at", iso(ISSUE), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["issued"] == iso(ISSUE) and summary["valid_to"] == iso(ISSUE + timedelta(hours=1))
    assert summary["start"].startswith("cold start") and summary["scheme"] == "inertial"
    assert "trend (+0.60 m/h)" in summary["forcing"][f"river gauge {river}"]
    assert client.get(URL, headers=keys["staff"]).json()["forecasts"] == [issue_stamp(ISSUE)]
    kept = NowcastFolder(data_dir, CITY_ID).forecast(issue_stamp(ISSUE))
    assert kept["issued"] == summary["issued"]
    leads = np.arange(600.0, 3601.0, 600.0)
    predicted = 1.3 + 0.6 * leads / 3600
    assert [v for _, v in kept["gauges"][str(river)]] == pytest.approx(predicted, abs=1e-3)

    # before later readings: nothing scored, the thresholds pending
    done = twin("nowcast", "verify", CITY_ID, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    early = json.loads(done.stdout)["forecasts"][0]["gauges"][str(river)]
    assert early["errors"] == [] and {c["outcome"] for c in early["thresholds"].values()} == {"pending"}

    post(client, keys, river, LATER)
    done = twin("nowcast", "verify", CITY_ID, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    served = client.get(f"{URL}/verification", headers=keys["staff"]).json()
    assert {k: v for k, v in printed.items() if k != "computed"} == {k: v for k, v in served.items() if k != "computed"}
    scores = printed["forecasts"][0]["gauges"][str(river)]
    observed = np.interp(leads, [(t - ISSUE).total_seconds() for t, _ in LATER], [v for _, v in LATER])
    assert [e["lead_s"] for e in scores["errors"]] == leads.tolist()
    assert [e["observed_m"] for e in scores["errors"]] == pytest.approx(observed, abs=1e-4)
    assert [e["error_m"] for e in scores["errors"]] == pytest.approx(predicted - observed, abs=1e-3)
    assert scores["mean_abs_error_m"] == pytest.approx(np.mean(np.abs(predicted - observed)), abs=1e-3)
    assert {name: c["outcome"] for name, c in scores["thresholds"].items()} == {"standby": "hit", "caution": "miss"}
    by_lead = printed["gauges"][str(river)]["by_lead"]
    assert [(b["lead_s"], b["forecasts"]) for b in by_lead] == [(int(lead), 1) for lead in leads]
    assert [b["mean_abs_error_m"] for b in by_lead] == pytest.approx(np.abs(predicted - observed), abs=1e-3)
