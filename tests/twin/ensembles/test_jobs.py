"""``/api/ensembles`` on the sample city: bad requests refused before anything runs, a small ensemble
run by the server on its own (spawned) dask worker, its odds read back, the job deleted."""

from __future__ import annotations

import re
import time

import pytest

from twin.server import Settings, create_app

STORM = {"name": "test-storm", "duration_s": 600, "output_interval_s": 600, "scheme": "inertial",
         "rain": {"series": [[0, 400], [600, 0]]}}


@pytest.fixture(scope="module")
def app(data_dir):
    # one local worker process: the server's own cluster path (spawned workers), at the least cost
    return create_app(Settings(data_dir=data_dir, ensemble_workers=1, nowcast=False))


def _post(client, staff, **body):
    request = {"city": "sample", "definition": STORM, "cell_size": 16, "members": 2, "vary": {"rain": [0.5, 1.5]}}
    request.update(body)
    return client.post("/api/ensembles", json=request, headers=staff)


@pytest.mark.parametrize(("body", "message"), [
    ({"vary": {"wind": [1, 2]}}, "cannot vary 'wind'"),
    ({"vary": {"rain": [1.5, 0.5]}}, "empty or inverted"),
    ({"vary": {"rain": [1.5]}}, "give \\[low, high\\]"),
    ({"definition": None, "scenario": "river-breach"}, "has no rain to vary"),
])
def test_a_bad_ensemble_is_refused_and_nothing_is_queued(client, staff, data_dir, body, message):
    answer = _post(client, staff, **body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert re.search(message, answer.json()["detail"]), answer.json()
    assert client.get("/api/ensembles").json()["jobs"] == []
    assert not any((data_dir / "ensembles").iterdir())


def test_one_member_is_not_an_ensemble_and_a_missing_scenario_job_is_refused(client, staff):
    assert _post(client, staff, members=1).status_code == 422
    missing = _post(client, staff, scenario_job="0123456789ab")
    assert missing.status_code == 422 and "no scenario job" in missing.json()["detail"]


def _finished(client, url: str) -> dict:
    deadline = time.monotonic() + 300
    while (job := client.get(url).json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    return job


def test_the_server_runs_an_ensemble_and_serves_its_odds_and_the_scenario_report_shows_them(client, staff):
    scenario = client.post("/api/scenarios", json={"city": "sample", "definition": STORM, "cell_size": 16},
                           headers=staff)
    assert scenario.status_code == 202, scenario.text
    scenario_job = scenario.json()["id"]
    assert _finished(client, f"/api/scenarios/{scenario_job}")["status"] == "done"
    assert "ensemble" not in client.get(f"/api/scenarios/{scenario_job}/report?format=json").json()
    answer = _post(client, staff, scenario_job=scenario_job)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    job = _finished(client, f"/api/ensembles/{job_id}")
    assert job["status"] == "done", job
    assert job["members_done"] == 2 and job["members_failed"] == 0
    summary = client.get(job["links"]["summary"]).json()
    assert summary["members_used"] == 2 and summary["varied"]["rain"]["low"] == 0.5
    buildings = client.get(job["links"]["buildings"]).json()
    assert buildings["count"] == 120
    assert {b["p_wetted"] for b in buildings["buildings"]} <= {0.0, 0.5, 1.0}  # 2 members: 0, 1 or 2 of them
    png = client.get(job["links"]["probability"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert client.get(job["links"]["netcdf"]).content.startswith(b"\x89HDF")  # NetCDF-4 is HDF5
    assert client.get(f"/api/ensembles/{job_id}/other.txt").status_code == 404
    report = client.get(f"/api/scenarios/{scenario_job}/report?format=json").json()
    assert report["ensemble"]["members_used"] == 2
    page = client.get(f"/api/scenarios/{scenario_job}/report").text
    assert "<h2>アンサンブル Ensemble</h2>" in page and "2 / 2" in page and "rain 0.5–1.5 ×" in page
    assert client.delete(f"/api/ensembles/{job_id}", headers=staff).status_code == 204
    assert client.get(f"/api/ensembles/{job_id}").status_code == 404


def test_anonymous_callers_may_not_start_an_ensemble(client):
    assert client.post("/api/ensembles", json={}).status_code == 401
