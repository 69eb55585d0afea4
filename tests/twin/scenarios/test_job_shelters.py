"""An evacuation job on a City without flood shelters is refused before it starts, in words for the
API user (no command-line flags, no server paths)."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.server import Settings, create_app

EVACUATE = {"city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 8,
            "overrides": {"duration_s": 600, "output_interval_s": 300}, "evacuation": {"duration_s": 600}}


def _home(tmp_path, shelters: dict | None):
    home = tmp_path / "home"
    shutil.copytree(converted_sample_city(), home / CITY_ID, ignore=shutil.ignore_patterns("content", "terrain"))
    city = home / CITY_ID
    manifest = json.loads((city / "city.json").read_text())
    if shelters is None:
        (city / "shelters.geojson").unlink()
        manifest["files"]["shelters"] = None
        (city / "city.json").write_text(json.dumps(manifest))
    else:
        (city / "shelters.geojson").write_text(json.dumps(shelters))
    return home


@pytest.mark.parametrize("shelters", [None, {"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [139.47, 35.93]},
     "properties": {"id": "t1", "name": "津波避難タワー", "hazards": {"flood": False, "tsunami": True}}}]}],
    ids=["no list", "no flood shelter"])
def test_an_evacuation_without_flood_shelters_is_refused_before_it_starts(tmp_path, shelters):
    home = _home(tmp_path, shelters)
    app = create_app(Settings(data_dir=home))
    with TestClient(app) as client:
        staff = {"Authorization": f"Bearer {app.state.keys.create('desk', 'staff')}"}
        response = client.post("/api/scenarios", json=EVACUATE, headers=staff)
        assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["type"] == "/problems/no-shelters"
        assert body["detail"].startswith(f"City '{CITY_ID}' has no flood shelters")
        assert "--" not in body["detail"] and str(home) not in body["detail"] and "/" not in body["detail"]
        assert client.get("/api/scenarios").json()["jobs"] == []  # nothing was queued
        flood_only = {k: v for k, v in EVACUATE.items() if k != "evacuation"}
        assert client.post("/api/scenarios", json=flood_only, headers=staff).status_code == 202
