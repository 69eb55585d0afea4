"""Faults: the database going away answers 503 and recovers; a full disk fails a job cleanly."""

from __future__ import annotations

import errno
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.store.postgres import _as_postgres, create_database, pg_bin, postgres_cluster
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.files.atomic import write_atomic
from twin.files.job_state import ACTIVE, INTERRUPTED
from twin.scenarios import jobs
from twin.server import Settings, create_app

PROBLEM = "application/problem+json"
QUICK = {"city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 4,
         "overrides": {"duration_s": 600, "output_interval_s": 300}}


def staff_client(app) -> tuple[TestClient, dict[str, str]]:
    return TestClient(app), {"Authorization": f"Bearer {app.state.keys.create('desk', 'staff')}"}


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/database-unavailable"
    assert int(response.headers["retry-after"]) > 0


def test_sqlite_file_gone_answers_503_and_recovers_without_a_new_empty_database(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    client, staff = staff_client(app)
    with client:
        assert client.get("/sta/v1.1/Things", headers=staff).status_code == 200
        app.state.store.engine.dispose()  # the pool's open handles would keep the moved inode alive
        db = tmp_path / "twin.db"
        db.rename(tmp_path / "twin.db.away")
        assert_unavailable(client.get("/sta/v1.1/Things", headers=staff))
        assert not db.exists(), "a fresh empty database must not replace the missing one"
        (tmp_path / "twin.db.away").rename(db)
        assert client.get("/sta/v1.1/Things", headers=staff).status_code == 200
        with app.state.store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def _pg_ctl(data: Path, *args: str) -> None:
    subprocess.run(_as_postgres(str(pg_bin() / "pg_ctl"), "-D", str(data), *args), check=True, capture_output=True)


def test_postgres_stopped_answers_503_and_recovers_when_it_returns(tmp_path):
    with postgres_cluster() as server:
        url = create_database(server, "faults")
        app = create_app(Settings(data_dir=tmp_path, database_url=url))
        client, staff = staff_client(app)
        with app.state.store.engine.connect() as connection:
            data = Path(connection.execute(text("SHOW data_directory")).scalar())
            port = connection.execute(text("SHOW port")).scalar()
        with client:
            thing = {"name": "gauge", "description": "kept across the outage"}
            admin = {"Authorization": f"Bearer {app.state.keys.create('ops', 'admin')}"}
            assert client.get("/sta/v1.1/Things", headers=staff).status_code == 200
            _pg_ctl(data, "-m", "fast", "-w", "stop")
            started = time.monotonic()
            assert_unavailable(client.get("/sta/v1.1/Things", headers=staff))
            assert_unavailable(client.post("/sta/v1.1/Things", json=thing, headers=admin))
            assert time.monotonic() - started < 10, "an outage must be answered at once, not hang"
            _pg_ctl(data, "-o", f"-p {port} -k {data.parent} -c listen_addresses=127.0.0.1 -c fsync=off",
                    "-l", str(data.parent / "log"), "-w", "start")
            assert client.post("/sta/v1.1/Things", json=thing, headers=admin).status_code == 201
            names = [t["name"] for t in client.get("/sta/v1.1/Things", headers=staff).json()["value"]]
            assert names == ["gauge"], "the write refused during the outage must not appear later"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city())


def wait(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/scenarios/{job_id}").json()
        if job["status"] not in ACTIVE:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def test_disk_full_while_writing_frames_fails_the_job_and_serves_nothing(data_dir, monkeypatch):
    real = jobs.write_frames

    def fill_the_disk(depth_nc: Path, folder: Path, crs, wet_m: float) -> dict:
        real(depth_nc, folder, crs, wet_m)  # every PNG is written, then frames.json finds the disk full
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "frames.json"))

    monkeypatch.setattr(jobs, "write_frames", fill_the_disk)
    client, staff = staff_client(create_app(Settings(data_dir=data_dir)))
    with client:
        job = client.post("/api/scenarios", json=QUICK, headers=staff).json()
        done = wait(client, job["id"])
        assert done["status"] == "failed" and done["reason"].startswith("disk full while writing results")
        for result in ("summary.json", "buildings", "frames", "frames/0.png"):
            response = client.get(f"/api/scenarios/{job['id']}/{result}")
            assert response.status_code == 409 and response.headers["content-type"] == PROBLEM
    folder = data_dir / "scenarios" / job["id"]
    assert sorted(p.name for p in folder.iterdir()) == ["job.json"], "partial results must be removed"


def test_a_crash_mid_run_leaves_no_result_and_restart_says_interrupted(data_dir):
    folder = data_dir / "scenarios" / "0123456789ab"
    (folder / ".result.partial").mkdir(parents=True)
    (folder / ".result.partial" / "depth.nc").write_bytes(b"torn")
    write_atomic(folder / "job.json", b'{"id": "0123456789ab", "city": "sample", "scenario": {}, '
                                      b'"status": "queued"}')
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        job = client.get("/api/scenarios/0123456789ab").json()
        assert job["status"] == "failed" and job["reason"] == INTERRUPTED
        assert client.get("/api/scenarios/0123456789ab/summary.json").status_code == 409
    assert sorted(p.name for p in folder.iterdir()) == ["job.json"]
