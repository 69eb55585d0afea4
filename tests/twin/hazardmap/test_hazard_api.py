"""The public hazard API: official areas as GeoJSON, and depth class, simulation and nearest shelter at a point."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.depth_classes import rank_of_label
from twin.files.rasters import Grid, write_grid
from twin.hazardmap.shelter_walk import Shelter, ShelterWalk
from twin.server import Settings, create_app

PROBLEM = "application/problem+json"
#: MLIT standard inundation-depth colours (水害ハザードマップ作成の手引き, 2016), classes < 0.5 … ≥ 20 m.
MLIT = ["#F7F5A9", "#FFD8C0", "#FFB7B7", "#FF9191", "#F285C9", "#DC7ADC"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(converted_sample_city(), home / CITY_ID)
    return home


@pytest.fixture(scope="module")
def client(data_dir) -> TestClient:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


@pytest.fixture(scope="module")
def official(data_dir) -> gpd.GeoDataFrame:
    return gpd.read_parquet(data_dir / CITY_ID / "hazards.parquet")


def test_hazard_geojson_has_every_area_of_the_table_with_its_mlit_colour(client, official):
    response = client.get(f"/api/cities/{CITY_ID}/hazards", params={"layer": "fld"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    body = response.json()
    expected = official[official["layer"] == "fld"]
    assert len(expected) > 10
    assert body["numberMatched"] == len(body["features"]) == len(expected)
    by_id = {f["id"]: f for f in body["features"]}
    assert set(by_id) == set(expected["gml_id"])
    for row in expected.itertuples():
        props = by_id[row.gml_id]["properties"]
        assert props["rank_code"] == row.rank and props["rank_label"] == row.rank_label
        assert props["depth_class"] == row.rank - 1  # the sample writes the standard codelist 1–6
        assert props["colour"] == MLIT[row.rank - 1]
        assert props["scale"] == row.scale and props["description"] == row.source
        geometry = shapely.geometry.shape(by_id[row.gml_id]["geometry"])
        assert geometry.is_valid
        # simplified by about 1 m: areas agree within a 2 m wide band along the outline
        band = row.geometry.length * 2e-5
        assert abs(geometry.area - row.geometry.area) <= band + 1e-9
    assert [entry["colour"] for entry in body["legend"]] == MLIT
    assert body["legend"][0]["label_ja"] == "0.5m未満" and body["legend"][5]["label_en"] == "≥ 20 m"


def test_bbox_keeps_only_the_areas_that_meet_it(client, official):
    target = official.iloc[0]
    w, s, e, n = target.geometry.bounds
    body = client.get(f"/api/cities/{CITY_ID}/hazards", params={"bbox": f"{w},{s},{e},{n}"}).json()
    expected = official[official.intersects(shapely.box(w, s, e, n))]
    assert {f["id"] for f in body["features"]} == set(expected["gml_id"])
    far = client.get(f"/api/cities/{CITY_ID}/hazards", params={"bbox": "130,30,130.01,30.01"}).json()
    assert far["features"] == []


@pytest.mark.parametrize(("label", "expected"), [
    ("0.5m未満", 1), ("0.5m以上3m未満", 2), ("3m以上5m未満", 3), ("5m以上10m未満", 4),
    ("10m以上20m未満", 5), ("20m以上", 6),  # i-UR 2.0–3.x *RiskAttribute_rank.xml
    ("0.01m以上0.3m未満", 1), ("0.3m以上1.0m未満", 2), ("1.0m以上2.0m未満", 2),
    ("3.0m以上4.0m未満", 3), ("5.0m以上10.0m未満", 4), ("20.0m以上", 6),  # Yokosuka 2021's nine classes
    (None, None), ("浸水なし", None),  # a rank that states no depth has no class: its code alone says nothing
])
def test_rank_labels_map_to_the_deepest_mlit_rank_they_reach(label, expected):
    assert rank_of_label(label) == expected


def test_depth_class_at_a_point_inside_known_polygons(client, official):
    deepest = official.sort_values("rank").iloc[-1]
    point = deepest.geometry.representative_point()
    body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": point.x, "lat": point.y}).json()
    holding = official[official.contains(point)]
    assert deepest.gml_id in set(holding["gml_id"])
    assert {a["gml_id"] for a in body["official"]} == set(holding["gml_id"])
    assert body["deepest_by_layer"]["fld"]["depth_class"] == int(holding["rank"].max()) - 1
    assert body["deepest_by_layer"]["fld"]["colour"] == MLIT[int(holding["rank"].max()) - 1]


def test_nearest_shelter_is_reached_on_foot_no_shorter_than_a_straight_line(client, data_dir):
    shelters = json.loads((data_dir / CITY_ID / "shelters.geojson").read_text())["features"]
    manifest = json.loads((data_dir / CITY_ID / "city.json").read_text())
    lon0, lat0 = manifest["center"][:2]
    to_map = Transformer.from_crs("EPSG:6668", manifest["crs"]["local"], always_xy=True)
    for dx, dy in [(0, 0), (120, -80), (-150, 60)]:
        x0, y0 = to_map.transform(lon0, lat0)
        lon, lat = to_map.transform(x0 + dx, y0 + dy, direction="INVERSE")
        body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat}).json()
        shelter = body["shelter"]
        straight = {s["properties"]["id"]: math.dist(to_map.transform(lon, lat), to_map.transform(*s["geometry"]["coordinates"]))
                    for s in shelters}
        # the walk is never shorter than the straight line (the route drawn runs from the place to the shelter)
        assert shelter["distance_m"] >= shelter["straight_m"]
        assert shelter["straight_m"] == pytest.approx(straight[shelter["id"]], abs=0.1)
        assert shelter["walking_speed_m_s"] == 1.0
        assert shelter["walk_time_s"] == pytest.approx(shelter["distance_m"] / 1.0, abs=0.1)
        route = shelter["route"]["coordinates"]
        assert route[0] == pytest.approx([lon, lat]) and route[-1] == pytest.approx([shelter["lon"], shelter["lat"]])
    faster = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat, "speed": 0.5}).json()
    assert faster["shelter"]["walk_time_s"] == pytest.approx(2 * shelter["walk_time_s"], abs=0.2)


def _grid_dijkstra(walls: np.ndarray, sources: list[tuple[int, int]], h: float) -> np.ndarray:
    """Shortest 8-connected path lengths over open cells (no corner cutting), by scipy's Dijkstra."""
    ny, nx = walls.shape
    index = np.arange(ny * nx).reshape(ny, nx)
    rows, cols, weights = [], [], []
    for dr, dc in [(0, 1), (1, 0), (1, 1), (1, -1)]:
        r0, r1 = max(0, -dr), ny - max(0, dr)
        c0, c1 = max(0, -dc), nx - max(0, dc)
        a = index[r0:r1, c0:c1]
        b = index[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        ok = ~walls[r0:r1, c0:c1] & ~walls[r0 + dr:r1 + dr, c0 + dc:c1 + dc]
        if dr and dc:  # both side cells open, like a person squeezing past a corner cannot
            ok &= ~walls[r0 + dr:r1 + dr, c0:c1] & ~walls[r0:r1, c0 + dc:c1 + dc]
        rows += [a[ok], b[ok]]
        cols += [b[ok], a[ok]]
        weights += [np.full(ok.sum() * 2, h * math.hypot(dr, dc))]
    graph = coo_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
                       shape=(ny * nx, ny * nx)).tocsr()
    starts = [r * nx + c for r, c in sources]
    return dijkstra(graph, indices=starts, min_only=True).reshape(ny, nx)


def test_walking_distance_matches_an_independent_dijkstra_around_a_wall():
    crs = CRS.from_epsg(6677)
    h = 2.0
    transform = Affine(h, 0, -34000.0, 0, -h, -6000.0)
    walls = np.zeros((60, 80), bool)
    walls[10:50, 40] = True  # a long building with streets round both ends
    walls[20:30, 10:20] = True
    to_lonlat = Transformer.from_crs(crs, "EPSG:6668", always_xy=True)

    def lonlat(r: int, c: int) -> tuple[float, float]:
        return to_lonlat.transform(*(transform @ (c + 0.5, r + 0.5)))

    shelters = [Shelter("east", "東", None, *lonlat(30, 70), None), Shelter("north", "北", None, *lonlat(2, 5), None)]
    walk = ShelterWalk(walls, transform, crs, shelters)
    reference = _grid_dijkstra(walls, [(30, 70), (2, 5)], h)
    open_cells = ~walls
    assert np.all(np.isinf(walk.distance[walls]))
    # First-order fast marching and 8-neighbour Dijkstra both approximate the Euclidean geodesic:
    # octile paths are at most 8.2 % long (1/cos 22.5°), and both are off by up to a cell near a source.
    error = np.abs(walk.distance[open_cells] - reference[open_cells])
    assert np.all(error <= 0.082 * reference[open_cells] + h)
    assert np.median(error / np.maximum(reference[open_cells], h)) < 0.05
    for r, c in [(30, 30), (45, 38), (12, 60), (55, 5)]:
        answer = walk.nearest(*lonlat(r, c))
        best = "east" if _grid_dijkstra(walls, [(30, 70)], h)[r, c] < _grid_dijkstra(walls, [(2, 5)], h)[r, c] \
            else "north"
        assert answer.shelter.id == best
        assert answer.distance_m == pytest.approx(reference[r, c], rel=0.09)
        assert answer.distance_m >= answer.straight_m  # a straight line is the lower bound
        for lon, lat in answer.route[1:-1]:  # the route never crosses a building
            cell = walk.cell_of(lon, lat)
            assert cell is not None and not walls[cell]
    # west of the long wall the walk has to go round it: much longer than the straight line
    east_only = ShelterWalk(walls, transform, crs, shelters[:1])
    detour = east_only.nearest(*lonlat(30, 36))
    reference = _grid_dijkstra(walls, [(30, 70)], h)[30, 36]
    assert detour.distance_m == pytest.approx(reference, rel=0.09)
    assert detour.distance_m > detour.straight_m + 30  # 68 m straight, about 116 m round the wall


def _fake_job(data_dir: Path, job_id: str, finished: str, depth_m: float, title: str | dict) -> None:
    """A finished scenario job as the runner leaves it: job.json and result/max_depth.tif."""
    with rasterio.open(data_dir / CITY_ID / "terrain.tif") as src:
        transform, crs, shape = src.transform, src.crs, src.shape
    depth = np.zeros(shape, np.float32)
    depth[shape[0] // 2 - 5:shape[0] // 2 + 5, shape[1] // 2 - 5:shape[1] // 2 + 5] = depth_m
    folder = data_dir / "scenarios" / job_id
    (folder / "result").mkdir(parents=True)
    write_grid(folder / "result" / "max_depth.tif", Grid(depth, transform, crs))
    (folder / "job.json").write_text(json.dumps({
        "id": job_id, "city": CITY_ID, "scenario": {"name": "test", "title": title}, "status": "done",
        "progress": 1.0, "created": finished, "finished": finished}))


def test_hazard_at_reports_the_latest_finished_simulation_labelled_as_such(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / CITY_ID).symlink_to(converted_sample_city(), target_is_directory=True)
    _fake_job(home, "aaaaaaaaaaaa", "2026-01-01T00:00:00Z", 0.8, "older")
    _fake_job(home, "bbbbbbbbbbbb", "2026-02-01T00:00:00Z", 3.4, {"ja": "新しい方", "en": "newer"})
    with rasterio.open(home / CITY_ID / "terrain.tif") as src:
        x, y = src.transform @ (src.width // 2 + 0.5, src.height // 2 + 0.5)
        crs = src.crs.to_wkt()
    lon, lat = Transformer.from_crs(crs, "EPSG:6668", always_xy=True).transform(x, y)
    with TestClient(create_app(Settings(data_dir=home))) as client:
        sim = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat}).json()["simulation"]
        # the title in each language, as an object (not a Python dict printed as text)
        assert sim["kind"] == "simulation" and sim["id"] == "bbbbbbbbbbbb"
        assert sim["title"] == {"ja": "新しい方", "en": "newer"}
        assert sim["max_depth_m"] == pytest.approx(3.4, abs=1e-3)
        assert sim["depth_class"] == 2 and sim["colour"] == MLIT[2]
        lon_dry, lat_dry = Transformer.from_crs(crs, "EPSG:6668", always_xy=True).transform(x + 100, y)
        dry = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon_dry, "lat": lat_dry}).json()
        assert dry["simulation"]["max_depth_m"] == 0 and dry["simulation"]["depth_class"] is None
        info = client.get(f"/api/cities/{CITY_ID}/hazard-simulation").json()["simulation"]
        assert info["kind"] == "simulation" and info["id"] == "bbbbbbbbbbbb"
        assert info["title"] == {"ja": "新しい方", "en": "newer"}
        picture = client.get(info["image"])
        assert picture.headers["content-type"] == "image/png"
        image = np.asarray(Image.open(io.BytesIO(picture.content)).convert("RGBA"))
        west, south, east, north = info["rectangle"]
        row = int((north - lat) / (north - south) * image.shape[0])
        col = int((lon - west) / (east - west) * image.shape[1])
        assert "#{:02X}{:02X}{:02X}".format(*image[row, col, :3]) == MLIT[2] and image[row, col, 3] > 0
        assert image[0, 0, 3] == 0  # dry is transparent
    with TestClient(create_app(Settings(data_dir=tmp_path / "empty"))) as client:
        (tmp_path / "empty" / CITY_ID).symlink_to(converted_sample_city(), target_is_directory=True)
        assert client.get(f"/api/cities/{CITY_ID}/hazard-simulation").json() == {"simulation": None}
        none = client.get(f"/api/cities/{CITY_ID}/hazard-simulation/bbbbbbbbbbbb.png")
        assert none.status_code == 404 and none.json()["type"] == "/problems/no-simulation"


@pytest.mark.parametrize(("path", "params", "status", "slug"), [
    ("hazard-at", {"lon": 139.0, "lat": 35.0}, 404, "outside-city"),
    ("hazard-at", {"lon": 139.47}, 422, "validation"),
    ("hazard-at", {"lon": "east", "lat": 35.9}, 422, "validation"),
    ("hazard-at", {"lon": 139.47, "lat": 95}, 422, "validation"),
    ("hazard-at", {"lon": 139.4716, "lat": 35.9266, "speed": 0}, 422, "validation"),
    ("hazards", {"layer": "quake"}, 422, "validation"),
    ("hazards", {"bbox": "1,2,3"}, 422, "validation"),
])
def test_bad_input_is_a_problem(client, path, params, status, slug):
    response = client.get(f"/api/cities/{CITY_ID}/{path}", params=params)
    assert response.status_code == status and response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == f"/problems/{slug}"


def test_unknown_city_is_404(client):
    for path in ("hazards", "hazard-at?lon=139.47&lat=35.92"):
        response = client.get(f"/api/cities/nowhere/{path}")
        assert response.status_code == 404 and response.json()["type"] == "/problems/unknown-city"
