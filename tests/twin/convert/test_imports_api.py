"""The admin import API: several inputs of one place make one City; ``add`` puts inputs into an existing one."""

from __future__ import annotations

import shutil
import time

import pytest
from fastapi.testclient import TestClient

from tests.twin.convert.test_city_shelters import REPORTED, shelter_csv
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


def test_a_shelter_list_added_reports_repeated_ids_and_far_sites_and_a_bad_row_its_line(server, tmp_path):
    client, admin = server
    made = client.post("/api/cities", json={"source": "buildings", "name": "town"}, headers=admin)
    assert wait(client, admin, made.json()["id"])["status"] == "done"
    city = tmp_path / "home" / "town"
    before = (city / "shelters.geojson").read_bytes()  # the sample dataset's own list
    (tmp_path / "import" / "bad").mkdir()
    shelter_csv(city, tmp_path / "import" / "bad" / "list.csv", bad_row=True)
    bad = client.post("/api/cities", json={"source": "bad/list.csv", "name": "town", "add": True}, headers=admin)
    assert bad.status_code == 422, bad.text  # read before the job is queued: nothing starts
    assert bad.json()["detail"] == "bad/list.csv: line 6: 緯度 'north' is not a number"  # no server path
    assert (city / "shelters.geojson").read_bytes() == before

    shelter_csv(city, tmp_path / "import" / "list.csv")
    added = client.post("/api/cities", json={"source": "list.csv", "name": "town", "add": True}, headers=admin)
    job = wait(client, admin, added.json()["id"])
    assert job["status"] == "done", job
    report = job["shelters"]
    assert (report["source"], report["sites"], report["kept"], report["flood_shelters"]) == ("list.csv", 5, 4, 3)
    assert report["warnings"] == [m.removeprefix("shelters list.csv: ") for m in REPORTED[:3]]
    assert len(report["left_out_far"]) == 1 and report["left_out_far"][0].startswith("S9 遠い町 (22.")
    assert str(tmp_path) not in str(report)
    shelters = client.get("/api/cities/town/shelters").json()["features"]
    assert sorted(f["properties"]["id"] for f in shelters) == ["S1", "S2", "S2#2"]  # S3 takes no floods
    assert client.get("/api/cities/town").json()["shelters"] == report
