"""The console's shelter layer applies the evacuation's one rule for which shelters take floods."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.city.shelters import read_shelters
from twin.server import Settings, create_app


def point(props: dict) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [139.4, 35.9]}, "properties": props}


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """A copy of the sample city whose shelter list flags floods in each way a list may."""
    folder = tmp_path_factory.mktemp("home") / CITY_ID
    shutil.copytree(converted_sample_city(), folder, ignore=shutil.ignore_patterns("content", "terrain", "*.tif"))
    (folder / "shelters.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        point({"id": "a", "hazards": {"flood": True}}), point({"id": "b", "hazards": {"flood": False}}),
        point({"id": "c", "洪水": "1"}), point({"id": "d", "洪水": "0"}), point({"id": "e", "災害種別_洪水": "○"}),
        point({"id": "f", "災害種別_洪水": ""}), point({"id": "g"})]}, ensure_ascii=False), encoding="utf-8")
    return folder


def test_the_console_layer_lists_the_shelters_the_evacuation_uses(city: Path) -> None:
    with TestClient(create_app(Settings(data_dir=city.parent))) as client:
        answer = client.get(f"/api/cities/{CITY_ID}/shelters")
    assert answer.status_code == 200
    shown = [f["properties"]["id"] for f in answer.json()["features"]]
    assert shown == read_shelters(city / "shelters.geojson")["shelter_id"].tolist() == ["a", "c", "e", "g"]
