"""``POST /api/scenarios`` on a City whose terrain is estimated from its buildings (no DEM): refused
with one problem+json line that says why and how to go ahead, accepted with ``allow_estimated_terrain``
(and the job's summary then says how much of the terrain was estimated)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from citygml.samplecity import generate
from tests.twin.fixtures_jobs import quick_job, run_job
from twin.convert.pipeline import convert


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A server home holding 'town': a 60-building sample converted without its DEM (as a building-only
    download is), so its terrain is all estimated."""
    root = tmp_path_factory.mktemp("estimated")
    generate(root / "full", buildings=60, seed=4)
    shutil.copytree(root / "full", root / "bare", ignore=lambda folder, names: [n for n in names if n in ("dem", "fld")])
    convert([root / "bare"], root / "home" / "town")
    return root / "home"


def test_a_scenario_on_estimated_terrain_is_refused_with_a_clear_problem(client, staff, data_dir):
    body = {**quick_job(50, cell_size=8), "city": "town"}
    response = client.post("/api/scenarios", json=body, headers=staff)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    detail = problem["detail"]
    assert "\n" not in detail and "Traceback" not in detail
    assert "town" in detail and "100% of the flood's terrain is estimated" in detail
    # What an API caller sets to go ahead (not a CLI flag), and no folder of the server.
    assert '"allow_estimated_terrain": true' in detail and "--allow" not in detail and str(data_dir) not in detail
    assert client.get("/api/scenarios").json()["jobs"] == []  # nothing queued
    assert not any((data_dir / "scenarios").glob("*/job.json"))


def test_the_same_scenario_runs_when_estimated_terrain_is_allowed(client, staff):
    body = {**quick_job(50, cell_size=8), "city": "town", "allow_estimated_terrain": True}
    job = run_job(client, staff, body)
    summary = client.get(f"/api/scenarios/{job}/summary.json").json()
    assert summary["terrain"]["estimated_share"] == pytest.approx(1.0)
    assert [s["kind"] for s in summary["terrain"]["sources"]] == ["estimated"]


def test_an_ensemble_on_estimated_terrain_is_refused_before_it_is_queued(client, staff):
    body = {**quick_job(50, cell_size=8), "city": "town", "members": 2, "vary": {"rain": [0.5, 1.5]}}
    response = client.post("/api/ensembles", json=body, headers=staff)
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    assert "terrain is estimated" in response.json()["detail"]
    assert '"allow_estimated_terrain": true' in response.json()["detail"]
    assert client.get("/api/ensembles").json()["jobs"] == []
