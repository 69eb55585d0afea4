"""``/api/scenarios``: flood scenario jobs run in the background, followed by SSE, results as JSON and PNG."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from tests.twin.fixtures_city import CITY_ID
from twin.flood.builtin import SAMPLE_CITY_ONLY, sample_city_only_help
from twin.pictures.lonlat_png import depth_rgba
from twin.server import Settings, create_app

PROBLEM = "application/problem+json"
QUICK = {"city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 4,
         "overrides": {"duration_s": 900, "output_interval_s": 300}}


def wait(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/scenarios/{job_id}").json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def events(client: TestClient, job_id: str) -> list[tuple[str, dict]]:
    out, name = [], None
    with client.stream("GET", f"/api/scenarios/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def test_running_a_scenario_needs_a_staff_key(client, app):
    response = client.post("/api/scenarios", json=QUICK)
    assert response.status_code == 401 and response.headers["content-type"] == PROBLEM
    sensor = app.state.keys.create("gauge-1", "sensor")
    response = client.post("/api/scenarios", json=QUICK, headers={"Authorization": f"Bearer {sensor}"})
    assert response.status_code == 403 and response.json()["type"] == "/problems/forbidden"
    assert client.delete("/api/scenarios/000000000000").status_code == 401
    roles = client.get("/openapi.json").json()["paths"]["/api/scenarios"]
    assert roles["post"]["x-roles"] == ["staff", "admin"] and roles["get"]["x-roles"] == ["anonymous"]


def test_bad_requests_are_problems(client, staff):
    assert client.post("/api/scenarios", json={**QUICK, "city": "osaka"}, headers=staff).json()["type"] \
        == "/problems/unknown-city"
    bad = client.post("/api/scenarios", json={**QUICK, "scenario": "tsunami"}, headers=staff)
    assert bad.status_code == 422 and "unknown scenario 'tsunami'" in bad.json()["detail"]
    outside = {"city": CITY_ID, "definition": {"name": "far", "duration_s": 60,
                                                "inflows": [{"lonlat": [139.0, 35.5], "m3_per_s": 5}]}}
    bad = client.post("/api/scenarios", json=outside, headers=staff)
    assert bad.status_code == 422 and "inflows[0].lonlat" in bad.json()["detail"] and "outside" in bad.json()["detail"]
    assert client.get("/api/scenarios/nothere").status_code == 404


def test_builtin_catalogue(client):
    scenarios = client.get("/api/scenarios/builtin").json()["scenarios"]
    assert [s["name"] for s in scenarios] == ["cloudburst-100mm", "river-breach"]
    # the console shows why the hand-placed breach fits only the sample city (the --help text, twin.flood.builtin)
    assert [s["sample_city_only"] for s in scenarios] == [None, SAMPLE_CITY_ONLY["river-breach"]]
    assert set(SAMPLE_CITY_ONLY["river-breach"]) == {"ja", "en"}


def test_both_commands_say_which_builtin_scenarios_fit_only_the_sample_city(twin):
    for command in (("scenario", "run"), ("flood", "run")):
        done = twin(*command, "--help")
        text = " ".join(done.stdout.replace("│", " ").split())
        assert done.returncode == 0 and sample_city_only_help() in text, text


def test_a_job_runs_to_done_with_progress_events_and_png_frames(client, staff, data_dir):
    response = client.post("/api/scenarios", json=QUICK, headers=staff)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and response.headers["location"] == f"/api/scenarios/{job['id']}"
    stream = events(client, job["id"])
    names = [n for n, _ in stream]
    assert names[-1] == "done" and names.count("done") == 1 and "progress" in names
    fractions = [d["fraction"] for n, d in stream if n == "progress"]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    done = wait(client, job["id"])
    assert done["status"] == "done" and done["progress"] == 1.0
    state = json.loads((data_dir / "scenarios" / job["id"] / "job.json").read_text())
    assert state["status"] == "done"

    summary = client.get(f"/api/scenarios/{job['id']}/summary.json").json()
    assert summary["scenario"]["duration_s"] == 900 and summary["mass_error_rel"] < 1e-4
    # no scheme asked: auto picks the inertial scheme for rain and says why
    assert summary["scheme"] == "inertial" and summary["scheme_reason"].startswith("inertial: rain")
    buildings = client.get(f"/api/scenarios/{job['id']}/buildings").json()
    assert buildings["count"] == summary["buildings"]["count"] > 0
    assert {"gml_id", "max_adjacent_depth_m", "first_wet_s", "official_rank", "simulated_rank"} <= set(buildings["buildings"][0])

    frames = client.get(f"/api/scenarios/{job['id']}/frames").json()
    assert frames["times_s"] == [0, 300, 600, 900] and len(frames["urls"]) == 4
    w, s, e, n = frames["rectangle"]
    bbox = client.get(f"/api/cities/{CITY_ID}").json()["bbox"]
    assert w < bbox[0] < bbox[2] < e and s < bbox[1] < bbox[3] < n and e - w < 0.05
    first, last = (client.get(frames["urls"][k]) for k in (0, -1))
    assert first.headers["content-type"] == "image/png"
    start, end = (np.asarray(Image.open(io.BytesIO(r.content))) for r in (first, last))
    assert start.shape == end.shape == (frames["height"], frames["width"], 4)
    assert start[..., 3].max() == 0, "dry at t = 0: fully transparent"
    # 25 mm of rain is 10 cm deep (the wet depth) only where it collects: drawn there, not everywhere
    assert 0 < (end[..., 3] > 0).mean() < 0.3
    assert tuple(end[end[..., 3] > 0][0][:3]) == (0xF7, 0xF5, 0xA9), "under 0.5 m: the shallowest MLIT colour"
    assert client.get(f"/api/scenarios/{job['id']}/frames/99.png").status_code == 404
    # the surface the console draws the last frame at: water where the frame shows some, inside its rectangle
    surface = client.get(f"/api/scenarios/{job['id']}/frames/3/surface").json()
    assert len(surface["wse_m"]) == surface["rows"] * surface["cols"] and surface["time_s"] == 900
    assert any(h is not None for h in surface["wse_m"])
    lons, lats = np.array(surface["corners"]).T
    assert np.allclose([lons.min(), lats.min(), lons.max(), lats.max()], frames["rectangle"], atol=2e-4)  # ≈ 20 m
    assert client.get(f"/api/scenarios/{job['id']}/frames/99/surface").status_code == 404
    assert any(j["id"] == job["id"] for j in client.get("/api/scenarios").json()["jobs"])

    assert client.delete(f"/api/scenarios/{job['id']}", headers=staff).status_code == 204
    assert client.get(f"/api/scenarios/{job['id']}").status_code == 404


def test_a_running_job_can_be_cancelled(client, staff):
    long = {**QUICK, "cell_size": 2, "overrides": {"duration_s": 36000, "output_interval_s": 3600}, "scheme": "full"}
    job = client.post("/api/scenarios", json=long, headers=staff).json()
    assert job["scenario"]["scheme"] == "full"  # the request's scheme, over the scenario's auto
    deadline = time.monotonic() + 60
    while client.get(f"/api/scenarios/{job['id']}").json()["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    response = client.delete(f"/api/scenarios/{job['id']}", headers=staff)
    assert response.status_code == 202
    done = wait(client, job["id"])
    assert done["status"] == "cancelled" and done["reason"]
    assert events(client, job["id"])[-1][0] == "cancelled"


def test_a_restart_marks_running_jobs_failed(data_dir, tmp_path):
    folder = data_dir / "scenarios" / "abcdef012345"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"id": "abcdef012345", "city": CITY_ID, "scenario": {"name": "x"},
                                                 "status": "running", "progress": 0.4}))
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        job = client.get("/api/scenarios/abcdef012345").json()
    assert job["status"] == "failed" and job["reason"] == "interrupted by a server restart"
    assert json.loads((folder / "job.json").read_text())["status"] == "failed"


def test_depth_pictures_use_the_mlit_colours_and_hide_what_is_not_wet():
    rgba = depth_rgba(np.array([[0.0, 0.3, 1.0, 4.0], [7.0, 15.0, 25.0, np.nan]]))
    assert [tuple(p[:3]) for p in rgba.reshape(-1, 4)[1:7]] == [
        (0xF7, 0xF5, 0xA9), (0xFF, 0xD8, 0xC0), (0xFF, 0xB7, 0xB7), (0xFF, 0x91, 0x91), (0xF2, 0x85, 0xC9),
        (0xDC, 0x7A, 0xDC)]
    assert rgba[0, 0, 3] == 0 and rgba[1, 3, 3] == 0 and rgba[0, 1, 3] > 0
