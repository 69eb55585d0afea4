"""``/api/cities/{id}/map-layers``: the roads, water bodies and bridges of the City as drawn on the public
map, water bodies named by their own name or, when unnamed, by the one river whose official areas meet
them; the rivers the hazard layers name; nothing (not a 404) for a City without those layers."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_real_city, converted_sample_city
from twin.server import Settings, create_app


def _client(home: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=home)))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(converted_sample_city(), home / CITY_ID)
    return home


def test_every_road_water_body_and_bridge_is_drawn_where_the_city_has_it(home):
    city = home / CITY_ID
    with _client(home) as client:
        response = client.get(f"/api/cities/{CITY_ID}/map-layers", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    assert response.headers["content-encoding"] == "gzip"  # compressed once; the client decodes it
    body = response.json()
    assert body["layers"] == ["road", "water", "bridge"]
    for kind, name in (("road", "roads"), ("water", "water"), ("bridge", "bridges")):
        table = gpd.read_parquet(city / f"{name}.parquet")
        drawn = {f["id"]: f for f in body["features"] if f["properties"]["kind"] == kind}
        assert set(drawn) == set(table["gml_id"]) and len(table) > 0
        for row in table.itertuples():
            shape = shapely.geometry.shape(drawn[row.gml_id]["geometry"])
            # simplified by about 1 m (1e-5°): the drawn outline stays within 2 m of the real one
            assert shape.hausdorff_distance(row.geometry) < 2e-5
    water = next(f for f in body["features"] if f["properties"]["kind"] == "water")
    table = gpd.read_parquet(city / "water.parquet")
    assert water["properties"]["name"] == table["name"].iloc[0] == "新河岸川"
    assert water["properties"]["name_source"] == "water-body"
    assert table.geometry.iloc[0].contains(shapely.Point(water["properties"]["label_point"]))
    hazards = gpd.read_parquet(city / "hazards.parquet")
    rivers = hazards[hazards["layer"] == "fld"]
    assert [r["name"] for r in body["rivers"]] == sorted(rivers["source"].unique())
    assert all(r["scales"] == ["L1", "L2"] for r in body["rivers"])  # the sample writes both scales


def test_an_unnamed_water_body_takes_the_one_river_whose_areas_meet_it(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(converted_sample_city(), home / CITY_ID)
    city = home / CITY_ID
    water = gpd.read_parquet(city / "water.parquet").assign(name=None)
    water.to_parquet(city / "water.parquet")
    hazards = gpd.read_parquet(city / "hazards.parquet")
    # the sample's two rivers flood the same plain: both meet the channel, neither clearly: no name
    with _client(home) as client:
        body = client.get(f"/api/cities/{CITY_ID}/map-layers").json()
    unnamed = next(f for f in body["features"] if f["properties"]["kind"] == "water")["properties"]
    assert unnamed["name"] is None and unnamed["name_source"] is None
    # one river left in the hazard layers: the channel is named by it, and says so
    hazards[hazards["source"] != "荒川水系荒川"].to_parquet(city / "hazards.parquet")
    with _client(home) as client:
        body = client.get(f"/api/cities/{CITY_ID}/map-layers").json()
    named = next(f for f in body["features"] if f["properties"]["kind"] == "water")["properties"]
    assert named["name"] == "荒川水系新河岸川" and named["name_source"] == "hazard-layer"


def test_a_city_of_buildings_only_has_no_map_layers_and_no_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "koshigaya").symlink_to(converted_real_city("11222_koshigaya"), target_is_directory=True)
    with _client(home) as client:
        response = client.get("/api/cities/koshigaya/map-layers")
    assert response.status_code == 200
    assert response.json() == {"type": "FeatureCollection", "features": [], "layers": [], "rivers": []}


def test_real_roads_and_rivers_are_served(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for sample in ("13115_suginami", "13105_bunkyo"):
        city = converted_real_city(sample)
        (home / city.name).symlink_to(city, target_is_directory=True)
    with _client(home) as client:
        roads = client.get("/api/cities/suginami/map-layers").json()
        rivers = client.get("/api/cities/bunkyo/map-layers").json()
    table = gpd.read_parquet(converted_real_city("13115_suginami") / "roads.parquet")
    assert len(table) > 0 and sum(f["properties"]["kind"] == "road" for f in roads["features"]) == len(table)
    water = gpd.read_parquet(converted_real_city("13105_bunkyo") / "water.parquet")
    drawn = [f["properties"] for f in rivers["features"] if f["properties"]["kind"] == "water"]
    assert len(drawn) == len(water) == 5
    assert sorted(str(p["name"]) for p in drawn) == sorted(str(n) for n in water["name"])
