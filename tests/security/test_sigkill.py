"""SIGKILL ``twin serve`` while a scenario job runs, restart: the job ends in a truthful state.

Ingestion under SIGKILL (nothing acknowledged lost) is ``tests/sensors/test_durability.py``.
"""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from tests.sensors.conftest import free_port
from tests.sensors.test_durability import serve
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.files.job_state import INTERRUPTED
from twin.server import Settings
from twin.store import open_store
from twin.store.apikeys import ApiKeys

pytestmark = pytest.mark.slow
#: Long enough to be caught running: an hour of rain on the 2 m grid.
LONG = {"city": CITY_ID, "scenario": "cloudburst-100mm", "overrides": {"duration_s": 3600, "output_interval_s": 600}}


def test_sigkill_during_a_scenario_job_then_restart_marks_it_interrupted(tmp_path):
    home = data_dir_linking(tmp_path / "home", converted_sample_city())
    store = open_store(Settings(data_dir=home).database)
    staff = {"Authorization": f"Bearer {ApiKeys(store).create('desk', 'staff')}"}
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/scenarios"
    server = serve(home, port)
    try:
        job = httpx.post(url, json=LONG, headers=staff, timeout=30).json()
        deadline = time.monotonic() + 120
        while (state := httpx.get(f"{url}/{job['id']}").json())["progress"] <= 0:
            assert state["status"] in ("queued", "running") and time.monotonic() < deadline, state
            time.sleep(0.2)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
    finally:
        server.kill()
        server.wait(10)
    folder = home / "scenarios" / job["id"]
    on_disk = json.loads((folder / "job.json").read_text())  # whole, never torn
    assert on_disk["status"] == "running"

    server = serve(home, port)
    try:
        after = httpx.get(f"{url}/{job['id']}").json()
        assert after["status"] == "failed" and after["reason"] == INTERRUPTED
        assert after["finished"] is not None
        assert httpx.get(f"{url}/{job['id']}/summary.json").status_code == 409
        events = httpx.get(f"{url}/{job['id']}/events", timeout=10).text
        assert "event: failed" in events and INTERRUPTED in events
        listed = {j["id"]: j["status"] for j in httpx.get(url).json()["jobs"]}
        assert listed[job["id"]] == "failed"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    assert sorted(p.name for p in folder.iterdir()) == ["job.json"], "staging folders of the run are removed"
