"""Finished scenario jobs on the sample city for report and comparison tests, and the
evacuation files of the helpers' contract (``<job>/evacuation/``) written by hand."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID


def quick_job(rain_mm_per_h: float, cell_size: float = 4) -> dict:
    """A short, coarse cloudburst request (a few seconds of work): 10 minutes of rain, 15 simulated."""
    return {"city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": cell_size,
            "overrides": {"duration_s": 900, "output_interval_s": 300,
                          "rain": {"series": [[0, rain_mm_per_h], [600, 0]]}}}


def run_job(client: TestClient, staff: dict[str, str], body: dict, timeout: float = 600) -> str:
    """Submit ``body`` and wait until the job is done; its id."""
    response = client.post("/api/scenarios", json=body, headers=staff)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/api/scenarios/{job_id}").json()
        if job["status"] == "done":
            return job_id
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not done after {timeout} s")


def write_evacuation(job_folder: Path, people: dict[str, int], shelters: list[dict], stranded: int,
                     evacuation_time_s: float) -> None:
    """An evacuation result in the contract's files: people per building, shelters, clearance."""
    folder = job_folder / "evacuation"
    folder.mkdir(exist_ok=True)
    agents = sum(people.values())
    arrived = agents - stranded
    (folder / "summary.json").write_text(json.dumps({
        "agents": agents, "arrived": arrived, "stranded": stranded, "evacuation_time_s": evacuation_time_s,
        "people_by_profile": {"adult": agents}}), encoding="utf-8")
    pd.DataFrame({"gml_id": list(people), "people": list(people.values()),
                  "median_evacuation_s": [300.0] * len(people)}).to_csv(folder / "buildings.csv", index=False)
    pd.DataFrame(shelters).to_csv(folder / "shelters.csv", index=False)
    steps = [0.0, evacuation_time_s / 2, evacuation_time_s]
    pd.DataFrame({"t_s": steps, "arrived": [0, arrived // 2, arrived], "stranded": [0, stranded, stranded],
                  "evacuating": [agents, agents - arrived // 2 - stranded, 0]}).to_csv(folder / "clearance.csv",
                                                                                        index=False)
