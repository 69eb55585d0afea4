"""The admin import API: several inputs of one place make one City; ``add`` puts inputs into an existing one."""

from __future__ import annotations

import shutil
import time

import pytest
from fastapi.testclient import TestClient

from twin.server import Settings, create_app


@pytest.fixture
def server(tmp_path, gsi_sample):
    """An import folder with a building-only sample, its GSI DEM zips and its flood layers."""
    full, bare = gsi_sample
    imports = tmp_path / "import"
    shutil.copytree(bare, imports / "buildings")
    shutil.copytree(full / "gsi", imports / "gsi")
    shutil.copytree(full / "udx" / "fld", imports / "floods" / "udx" / "fld")
    app = create_app(Settings(data_dir=tmp_path / "home", import_dir=imports))
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {app.state.keys.create('ops', 'admin')}"}


def wait(client: TestClient, admin: dict, job_id: str, timeout: float = 300) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/imports/{job_id}", headers=admin).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} still {job['status']} after {timeout} s")


def test_two_inputs_make_one_city_and_a_third_is_added(server):
    client, admin = server
    made = client.post("/api/cities", json={"source": ["buildings", "gsi"], "name": "town"}, headers=admin)
    assert made.status_code == 202, made.text
    job = wait(client, admin, made.json()["id"])
    assert job["status"] == "done" and job["sources"] == ["buildings", "gsi"], job
    city = client.get("/api/cities/town").json()
    assert city["terrain"]["sources"][0]["kind"] == "gsi_dem" and city["counts"]["buildings"] == 150
    assert city["counts"]["hazard_areas"] == 0

    added = client.post("/api/cities", json={"source": "floods", "name": "town", "add": True}, headers=admin)
    assert added.status_code == 202, added.text
    job = wait(client, admin, added.json()["id"])
    assert job["status"] == "done", job
    city = client.get("/api/cities/town").json()
    assert city["counts"]["hazard_areas"] > 0 and city["counts"]["buildings"] == 150
    assert client.get("/api/cities/town/hazards").status_code == 200


def test_adding_to_a_city_that_is_not_there_is_a_404(server):
    client, admin = server
    response = client.post("/api/cities", json={"source": "floods", "name": "ghost", "add": True}, headers=admin)
    assert response.status_code == 404 and response.json()["type"] == "/problems/unknown-city"


def test_a_file_that_is_no_input_is_refused(server, tmp_path):
    client, admin = server
    (tmp_path / "import" / "notes.txt").write_text("hello")
    response = client.post("/api/cities", json={"source": "notes.txt", "name": "x"}, headers=admin)
    assert response.status_code == 422 and "not a PLATEAU dataset" in response.json()["detail"]
