"""``POST /api/cities``: datasets are imported only from the import folder, as jobs that end truthfully."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citygml.samplecity import generate
from twin.files.job_state import INTERRUPTED
from twin.server import Settings, create_app

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A 20-building sample dataset (written once per module)."""
    out = tmp_path_factory.mktemp("dataset") / "sample"
    generate(out, buildings=20, seed=2)
    return out


@pytest.fixture
def server(tmp_path, dataset):
    """An app whose import folder holds the dataset as a folder and as a .zip, and an admin header."""
    imports = tmp_path / "import"
    shutil.copytree(dataset, imports / "sample")
    shutil.make_archive(str(imports / "sample"), "zip", dataset.parent, "sample")
    app = create_app(Settings(data_dir=tmp_path / "home", import_dir=imports))
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {app.state.keys.create('ops', 'admin')}"}, app


def wait(client: TestClient, admin: dict, job_id: str, timeout: float = 180) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/imports/{job_id}", headers=admin).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} still {job['status']} after {timeout} s")


def test_a_zip_in_the_import_folder_becomes_a_served_city(server):
    client, admin, _ = server
    response = client.post("/api/cities", json={"source": "sample.zip", "name": "minato"}, headers=admin)
    assert response.status_code == 202 and response.headers["location"] == f"/api/imports/{response.json()['id']}"
    job = wait(client, admin, response.json()["id"])
    assert job["status"] == "done" and job["files_done"] == job["files_total"] > 0, job
    city = client.get("/api/cities/minato").json()
    assert city["counts"]["buildings"] == 20
    assert client.get(city["links"]["tileset"]).status_code == 200
    assert [j["id"] for j in client.get("/api/imports", headers=admin).json()["imports"]] == [job["id"]]
    again = client.post("/api/cities", json={"source": "sample", "name": "minato"}, headers=admin)
    assert again.status_code == 409 and again.json()["type"] == "/problems/city-exists"


def test_only_admins_import(server):
    client, _, app = server
    body = {"source": "sample", "name": "x"}
    assert client.post("/api/cities", json=body).status_code == 401
    staff = {"Authorization": f"Bearer {app.state.keys.create('desk', 'staff')}"}
    assert client.post("/api/cities", json=body, headers=staff).status_code == 403
    assert client.get("/api/imports", headers=staff).status_code == 403


@pytest.mark.parametrize("source", ["/etc", "/tmp", "../home", "sample/../../home", "sample/./udx", "..",
                                    ".", "", "sample\\udx", "C:/Windows", "sample\x00.zip", ".hidden",
                                    "%2e%2e/home"])
def test_paths_out_of_the_import_folder_are_refused(server, source):
    client, admin, _ = server
    response = client.post("/api/cities", json={"source": source, "name": "evil"}, headers=admin)
    assert response.status_code in (404, 422) and response.headers["content-type"] == PROBLEM, response.text
    assert not client.get("/api/imports", headers=admin).json()["imports"]


def test_symlinks_leading_out_are_refused(server, tmp_path, dataset):
    client, admin, _ = server
    imports = tmp_path / "import"
    (imports / "escape").symlink_to(dataset, target_is_directory=True)  # a whole dataset outside
    (imports / "mixed").mkdir()
    (imports / "mixed" / "udx").mkdir()
    outside = next(dataset.glob("udx/bldg/*.gml"))
    (imports / "mixed" / "udx" / outside.name).symlink_to(outside)  # one file outside
    for source in ("escape", "escape/udx", "mixed"):
        response = client.post("/api/cities", json={"source": source, "name": "evil"}, headers=admin)
        assert response.status_code == 422 and response.json()["type"] == "/problems/bad-input", source


def test_zip_slip_links_and_zip_bombs_are_refused_whole(server, tmp_path, dataset):
    client, admin, _ = server
    gml = next(dataset.glob("udx/bldg/*.gml"))
    with zipfile.ZipFile(tmp_path / "import" / "slip.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(gml, f"udx/bldg/{gml.name}")
        z.writestr("udx/bldg/../../../../../tmp/evil_bldg_6697_op.gml", gml.read_bytes())
    with zipfile.ZipFile(tmp_path / "import" / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(gml, f"udx/bldg/{gml.name}")
        z.writestr("udx/bldg/53394500_bldg_6697_op.gml", b"<a>" + b" " * 50_000_000 + b"</a>")
    with zipfile.ZipFile(tmp_path / "import" / "link.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(gml, f"udx/bldg/{gml.name}")
        link = zipfile.ZipInfo("udx/bldg/53394501_bldg_6697_op.gml")
        link.external_attr = (0o120777 << 16)  # a symbolic link member (S_IFLNK) pointing out of the dataset
        z.writestr(link, "/etc/passwd")
    for source, why in (("slip.zip", "unsafe zip member"), ("bomb.zip", "zip bomb"), ("link.zip", "unsafe zip member")):
        response = client.post("/api/cities", json={"source": source, "name": "evil"}, headers=admin)
        assert response.status_code == 422 and why in response.json()["detail"], response.text
    assert not (tmp_path / "evil_bldg_6697_op.gml").exists()


def test_bad_names_and_missing_sources(server):
    client, admin, _ = server
    for name in ("scenarios", "imports", "../x", "a b", "x" * 65, "", ".x"):
        response = client.post("/api/cities", json={"source": "sample", "name": name}, headers=admin)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, name
    response = client.post("/api/cities", json={"source": "nowhere.zip", "name": "x"}, headers=admin)
    assert response.status_code == 404 and response.json()["type"] == "/problems/unknown-source"
    assert client.get("/api/imports/0123456789ab", headers=admin).status_code == 404
    assert client.get("/api/imports/..%2f..%2fetc", headers=admin).status_code == 404


def test_a_restart_marks_a_running_import_failed_and_removes_its_staging(tmp_path):
    home = tmp_path / "home"
    (home / "imports").mkdir(parents=True)
    (home / ".tokyo.partial-abc" / ".work").mkdir(parents=True)
    (home / "imports" / "abcdef012345.json").write_text(json.dumps(
        {"id": "abcdef012345", "source": "tokyo.zip", "name": "tokyo", "status": "running", "files_done": 3}))
    app = create_app(Settings(data_dir=home))
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {app.state.keys.create('ops', 'admin')}"}
        job = client.get("/api/imports/abcdef012345", headers=admin).json()
        assert job["status"] == "failed" and job["reason"] == INTERRUPTED
        assert client.get("/api/cities").json()["cities"] == []
    assert not (home / ".tokyo.partial-abc").exists()
    assert json.loads((home / "imports" / "abcdef012345.json").read_text())["status"] == "failed"
