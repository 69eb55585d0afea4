"""The walk to the nearest shelter: never shorter than the straight line, as long as the route drawn,
round buildings, into a shelter that stands inside one; shelters off the walkable grid still offered."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import shapely
from affine import Affine
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.hazardmap.shelter_walk import Shelter, ShelterWalk, line_is_open
from twin.server import Settings, create_app

CRS_ = CRS.from_epsg(6677)
H = 2.0
TRANSFORM = Affine(H, 0, -34000.0, 0, -H, -6000.0)
TO_LONLAT = Transformer.from_crs(CRS_, "EPSG:6668", always_xy=True)
TO_MAP = Transformer.from_crs("EPSG:6668", CRS_, always_xy=True)


def lonlat(r: float, c: float) -> tuple[float, float]:
    """Lon/lat of a point given in (fractional) cell coordinates."""
    return TO_LONLAT.transform(*(TRANSFORM @ (c, r)))


def route_length_m(route: list[tuple[float, float]]) -> float:
    xy = np.array([TO_MAP.transform(lon, lat) for lon, lat in route])
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


def test_a_shelter_inside_a_school_is_walked_to_including_the_last_leg():
    # The cause of "584.7 m on foot, 588.8 m straight": a shelter inside a building was snapped to the
    # nearest open cell (here 40 m away) and the walk stopped there, so the walk from the far side came
    # out up to 36 m shorter than the straight line (362.4 m against 398.5 m before the fix).
    walls = np.zeros((400, 400), bool)
    walls[180:220, 300:360] = True  # a school 120 m × 80 m, the shelter point in its middle
    school = Shelter("school", "小学校", None, *lonlat(200.5, 330.5), 800)
    walk = ShelterWalk(walls, TRANSFORM, CRS_, [school])
    for r, c in [(390.2, 390.7), (200.5, 10.5), (100.1, 50.9), (200.5, 250.5), (5.5, 395.5)]:
        answer = walk.nearest(*lonlat(r, c))
        assert answer.shelter == school
        straight = math.dist(TRANSFORM @ (c, r), TRANSFORM @ (330.5, 200.5))
        assert answer.straight_m == pytest.approx(straight, abs=1e-6)
        assert answer.distance_m >= answer.straight_m
        assert answer.route[0] == pytest.approx(lonlat(r, c)) and answer.route[-1] == (school.lon, school.lat)
        # the distance is the drawn line; its corners are rounded to 1e-7° (at most 1.2 cm each)
        assert route_length_m(answer.route) == pytest.approx(answer.distance_m, abs=0.012 * len(answer.route))
        # every corner but the last leg's end (inside the school) is in the open
        for lon, lat in answer.route[1:-1]:
            assert not walls[walk.cell_of(lon, lat)]
    # in the open the route is pulled straight: within two cells' diagonals (end legs to cell centres)
    # of the straight line, not the octile zig-zag of the 8-neighbour descent (up to 8 % longer)
    open_walk = ShelterWalk(np.zeros((400, 400), bool), TRANSFORM, CRS_, [school])
    answer = open_walk.nearest(*lonlat(20.3, 30.8))
    assert answer.straight_m <= answer.distance_m <= answer.straight_m + 2 * H * math.sqrt(2)
    assert len(answer.route) <= 4


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 11), st.integers(0, 11), st.integers(0, 11), st.integers(0, 11),
       st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=25))
def test_line_of_sight_is_blocked_by_exactly_the_cells_the_segment_touches(r0, c0, r1, c1, blocked):
    walls = np.zeros((12, 12), bool)
    for r, c in blocked:
        walls[r, c] = True
    segment = shapely.LineString([(c0 + 0.5, r0 + 0.5), (c1 + 0.5, r1 + 0.5)]) if (r0, c0) != (r1, c1) \
        else shapely.Point(c0 + 0.5, r0 + 0.5)
    # every cell whose closed square the segment touches (passing exactly through a corner touches
    # all four cells round it: a person cannot squeeze between two buildings that meet at a corner)
    touched = any(segment.intersects(shapely.box(c, r, c + 1, r + 1)) for r, c in zip(*np.nonzero(walls)))
    assert line_is_open(walls, r0, c0, r1, c1) == (not touched)


@pytest.fixture(scope="module")
def sample_walk_client(tmp_path_factory):
    home = data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city())
    with TestClient(create_app(Settings(data_dir=home))) as client:
        yield client


def test_on_the_sample_city_every_walk_is_at_least_the_straight_line_and_is_the_route_drawn(sample_walk_client):
    manifest = json.loads((converted_sample_city() / "city.json").read_text())
    to_map = Transformer.from_crs("EPSG:6668", manifest["crs"]["local"], always_xy=True)
    grid = manifest["grid"]
    west, north, cell = grid["transform"][2], grid["transform"][5], grid["transform"][0]
    rng = np.random.default_rng(15)
    answered = 0
    for u, v in rng.uniform(0, 1, (60, 2)):
        x, y = west + u * grid["width"] * cell, north - v * grid["height"] * cell
        lon, lat = to_map.transform(x, y, direction="INVERSE")
        response = sample_walk_client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat})
        assert response.status_code == 200, response.text
        body = response.json()
        shelter = body["shelter"]
        if shelter is None:
            continue
        answered += 1
        assert shelter["basis"] == "walk" and body["shelter_status"] == "walk"
        assert shelter["distance_m"] >= shelter["straight_m"]
        xy = np.array([to_map.transform(*p) for p in shelter["route"]["coordinates"]])
        # rounded to 0.1 m in the answer, corners to 1e-7° (1 cm) in the route
        assert float(np.hypot(*np.diff(xy, axis=0).T).sum()) == pytest.approx(shelter["distance_m"], abs=0.1)
        assert shelter["walk_time_s"] == pytest.approx(shelter["distance_m"] / shelter["walking_speed_m_s"], abs=0.1)
    assert answered > 40


def _city_with_shelters(tmp_path, features: list[dict]):
    home = tmp_path / "home"
    shutil.copytree(converted_sample_city(), home / CITY_ID, ignore=shutil.ignore_patterns("content", "terrain"))
    (home / CITY_ID / "shelters.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return home


def _point(shelter_id: str, lon: float, lat: float) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"id": shelter_id, "name": f"避難所 {shelter_id}", "capacity": 300}}


def test_a_shelter_outside_the_walkable_grid_is_offered_with_its_straight_line_distance(tmp_path):
    manifest = json.loads((converted_sample_city() / "city.json").read_text())
    grid = manifest["grid"]
    west, north = grid["transform"][2], grid["transform"][5]
    to_lonlat = Transformer.from_crs(manifest["crs"]["local"], "EPSG:6668", always_xy=True)
    beyond = to_lonlat.transform(west - 60, north - 100)  # 60 m west of the grid
    place = to_lonlat.transform(west + 40, north - 100)  # 100 m from it, inside the grid
    far_inside = to_lonlat.transform(west + 2000, north - 1000)
    home = _city_with_shelters(tmp_path, [_point("beyond", *beyond), _point("inside", *far_inside)])
    with TestClient(create_app(Settings(data_dir=home))) as client:
        body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params=dict(zip(("lon", "lat"), place))).json()
    assert body["shelter"]["id"] == "inside" and body["shelter"]["basis"] == "walk"
    (off,) = body["shelters_off_grid"]
    assert off["id"] == "beyond" and off["basis"] == "straight-line" and off["note"] == "outside-walkable-grid"
    assert off["straight_m"] == pytest.approx(100.0, abs=0.1)
    assert off["distance_m"] is None and off["route"] is None and off["walk_time_s"] is None
    assert off["capacity"] == 300

    home = _city_with_shelters(tmp_path / "only", [_point("beyond", *beyond)])
    with TestClient(create_app(Settings(data_dir=home))) as client:
        body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params=dict(zip(("lon", "lat"), place))).json()
    assert body["shelter_status"] == "straight-line" and body["shelters_off_grid"] == []
    assert body["shelter"]["id"] == "beyond" and body["shelter"]["straight_m"] == pytest.approx(100.0, abs=0.1)


def test_a_shelter_next_to_a_closed_courtyard_is_entered_from_the_street():
    walls = np.zeros((200, 200), bool)
    walls[80:120, 80:120] = True  # a school 80 m square ...
    walls[98:102, 98:102] = False  # ... round a closed courtyard 8 m square, next to the shelter point
    school = Shelter("school", "小学校", None, *lonlat(100.5, 103.5), 500)
    walk = ShelterWalk(walls, TRANSFORM, CRS_, [school])
    answer = walk.nearest(*lonlat(20.5, 100.5))  # 160 m north, in the street
    assert answer is not None and answer.shelter == school
    *_, last_corner, end = answer.route
    r, c = walk.cell_of(*last_corner)
    assert not walls[r, c] and not (98 <= r < 102 and 98 <= c < 102)  # the street, not the courtyard
    assert answer.distance_m >= answer.straight_m
    # the nearest street cell is east of the point (17 cells) rather than north (21): round the north-east
    # corner, down the east side, 34 m in (the path through cell centres: within a cell either way)
    path = [(100.5, 20.5), (120.5, 79.5), (120.5, 100.5), (103.5, 100.5)]
    expected = sum(math.dist(TRANSFORM @ a, TRANSFORM @ b) for a, b in zip(path, path[1:]))
    assert expected - H <= answer.distance_m <= expected + 2 * H * math.sqrt(2)


def test_the_distance_to_each_shelter_on_open_ground_is_the_straight_line_and_its_least_the_nearest():
    """Two shelters 300 m apart in the open: from a start cell, each one's distance is the straight
    line between the cells (fast marching within 2 %), the nearer equals the all-shelter field's;
    a start with no cell gets inf."""
    walls = np.zeros((200, 200), bool)
    west, east = Shelter("w", "西", None, *lonlat(100.5, 25.5), None), Shelter("e", "東", None, *lonlat(100.5, 175.5), None)
    walk = ShelterWalk(walls, TRANSFORM, CRS_, [west, east])
    start = walk.start_cell(*lonlat(40.5, 60.5))
    shelters, distance = walk.distances_to_each([start, None])
    assert [s.id for s in shelters] == ["w", "e"] and start == (40, 60)
    assert distance[0] == pytest.approx([H * math.hypot(60, 35), H * math.hypot(60, 115)], rel=0.02)
    assert distance[0].min() == pytest.approx(walk.distance[start], rel=1e-6)
    assert np.isinf(distance[1]).all()
