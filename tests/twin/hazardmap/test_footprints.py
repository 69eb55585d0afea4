"""Building footprints for the flat hazard map: every building's outer ring and height, compact and exact to 5 cm."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.city.heights import DEFAULT_HEIGHT_M, STOREY_HEIGHT_M
from twin.hazardmap.footprints import Footprints
from twin.server import Settings, create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("home") / "data", converted_sample_city())
    with TestClient(create_app(Settings(data_dir=home))) as client:
        yield client


@pytest.fixture(scope="module")
def table() -> gpd.GeoDataFrame:
    return gpd.read_parquet(converted_sample_city() / "buildings.parquet")


def decode(body: dict) -> list[np.ndarray]:
    """The rings back in lon/lat, as a client does (steps summed within each ring)."""
    steps = np.asarray(body["steps"], float).reshape(-1, 2)
    starts = body["starts"]
    scale = np.asarray(body["metres_per_degree"]) / body["unit_m"]
    return [np.asarray(body["centre"]) + np.cumsum(steps[a:b], axis=0) / scale for a, b in itertools.pairwise(starts)]


def test_every_building_ring_comes_back_within_five_centimetres(table):
    body = Footprints.of_table(table).as_json()
    assert body["count"] == len(table) == len(body["heights"])  # the sample's footprints are single polygons
    rings = decode(body)
    metres = np.array(body["metres_per_degree"])
    for ring, polygon in zip(rings, table.geometry):
        expected = np.asarray(polygon.exterior.coords)[:-1]
        assert ring.shape == expected.shape
        assert np.abs((ring - expected) * metres).max() <= 0.05 + 1e-9


def test_heights_are_measured_else_three_metres_a_storey_else_six(table):
    frame = table.iloc[:3].copy()
    frame["height"] = [12.34, np.nan, np.nan]
    frame["storeys"] = [4, 5, np.nan]
    heights = Footprints.of_table(frame).as_json()["heights"]
    assert heights == [123, round(5 * STOREY_HEIGHT_M * 10), round(DEFAULT_HEIGHT_M * 10)]


def test_every_part_of_a_multipolygon_is_a_ring_with_the_buildings_height(table):
    frame = table.iloc[:2].copy()
    a, b = frame.geometry.iloc[0], frame.geometry.iloc[1]
    frame.loc[frame.index[0], "geometry"] = shapely.MultiPolygon([a, b])
    frame["height"] = [20.0, 8.0]
    footprints = Footprints.of_table(frame)
    assert len(footprints.starts) - 1 == 3
    assert footprints.heights.tolist() == [200, 200, 80]


def test_the_route_serves_the_city_and_refuses_unknown_cities(client, table):
    response = client.get(f"/api/cities/{CITY_ID}/footprints")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["count"] == len(table)
    centre = client.get(f"/api/cities/{CITY_ID}").json()["center"]
    assert body["centre"] == pytest.approx(centre[:2])
    first = decode(body)[0]
    assert np.abs(first - np.asarray(table.geometry.iloc[0].exterior.coords)[:-1]).max() < 1e-6
    missing = client.get("/api/cities/nowhere/footprints")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
