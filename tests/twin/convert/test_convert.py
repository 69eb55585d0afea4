"""``twin convert``: the City folder agrees with what the reader reads from the dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from matplotlib.tri import LinearTriInterpolator, Triangulation
from pyproj import Transformer

from citygml import open_dataset
from tests.tools.tileset_rules import check_tileset
from twin.convert.pipeline import ConvertOptions, convert
from twin.errors import TwinInputError

TWIN = [str(Path(sys.executable).with_name("twin"))]


def read_buildings(dataset_path: Path):
    with open_dataset(dataset_path) as dataset:
        return list(dataset.features(types=["bldg"]))


def test_counts_and_ids_match_the_reader(sample_city, converted_city):
    buildings = read_buildings(sample_city)
    manifest = json.loads((converted_city / "city.json").read_text())
    table = gpd.read_parquet(converted_city / "buildings.parquet")
    assert manifest["counts"]["buildings"] == len(buildings) == len(table)
    assert set(table["gml_id"]) == {b.gml_id for b in buildings}
    assert manifest["counts"]["buildings_with_flood_risk"] == sum(bool(b.flood_risks) for b in buildings)
    assert manifest["id"] == "sample"
    assert manifest["crs"]["local"].startswith("EPSG:66")


def test_attribute_values_survive(sample_city, converted_city):
    table = gpd.read_parquet(converted_city / "buildings.parquet").set_index("gml_id")
    for building in read_buildings(sample_city)[:50]:
        row = table.loc[building.gml_id]
        assert row["usage_label"] == (building.usage.label if building.usage else None)
        if building.measured_height is None:
            assert np.isnan(row["height"])
        else:
            assert row["height"] == pytest.approx(building.measured_height)
        depths = [r.depth_m for r in building.flood_risks if r.depth_m is not None]
        if depths:
            assert row["max_flood_depth"] == pytest.approx(max(depths))
        attributes = json.loads(row["attributes"])
        assert attributes["usage"]["code"] == building.usage.code


def test_footprints_lie_around_centroids(converted_city):
    table = gpd.read_parquet(converted_city / "buildings.parquet")
    assert table.crs.to_epsg() == 6668
    local = table.to_crs(table.estimate_utm_crs())
    assert local.geometry.notna().all() and (local.geometry.area > 4).all()
    centroids = gpd.GeoSeries(gpd.points_from_xy(table.centroid_lon, table.centroid_lat), index=table.index, crs=6668)
    assert table.geometry.contains(centroids).mean() > 0.95


def test_tiles_hold_every_building_once(converted_city):
    report = check_tileset(converted_city / "tileset.json")
    table = gpd.read_parquet(converted_city / "buildings.parquet")
    ids = [f["gml_id"] for f in report.features]
    assert len(ids) == len(set(ids)) == len(table)


def test_terrain_grid_equals_the_tin_at_cell_centres(sample_city, converted_city):
    with open_dataset(sample_city) as dataset:
        tin = np.concatenate([g.triangles for f in dataset.features(types=["dem"]) for g in f.geometries])
    manifest = json.loads((converted_city / "city.json").read_text())
    to_local = Transformer.from_crs("EPSG:6668", manifest["crs"]["local"], always_xy=True)
    vertices, corners = np.unique(tin.reshape(-1, 3), axis=0, return_inverse=True)
    x, y = to_local.transform(vertices[:, 1], vertices[:, 0])
    # An independent linear interpolator over the very same triangles (matplotlib).
    triangulation = Triangulation(x, y, corners.reshape(-1, 3))
    interpolate = LinearTriInterpolator(triangulation, vertices[:, 2])
    with rasterio.open(converted_city / "terrain.tif") as src:
        grid = src.read(1)
        rng = np.random.default_rng(3)
        rows = rng.integers(0, src.height, 400)
        cols = rng.integers(0, src.width, 400)
        cx, cy = src.xy(rows, cols)  # cell centres
    expected = interpolate(np.asarray(cx), np.asarray(cy))
    inside = ~np.ma.getmaskarray(expected)
    assert inside.sum() > 300
    # float32 storage of heights of tens of metres: about 1e-5 m of rounding.
    np.testing.assert_allclose(grid[rows, cols][inside], expected[inside].data, atol=1e-3)


def test_masks_mark_buildings_and_roads(converted_city):
    table = gpd.read_parquet(converted_city / "buildings.parquet")
    manifest = json.loads((converted_city / "city.json").read_text())
    with rasterio.open(converted_city / "masks.tif") as src:
        assert src.descriptions == ("buildings", "roads", "water", "bridges")
        buildings, roads = src.read(1), src.read(2)
        points = table.set_geometry(gpd.points_from_xy(table.centroid_lon, table.centroid_lat), crs=6668)
        points = points.to_crs(manifest["crs"]["local"])
        rows, cols = rasterio.transform.rowcol(src.transform, points.geometry.x, points.geometry.y)
    cell_area = manifest["grid"]["resolution"] ** 2
    assert buildings[rows, cols].mean() > 0.9
    assert 0 < roads.sum() and not (buildings.astype(bool) & roads.astype(bool)).mean() > 0.01
    assert buildings.sum() * cell_area == pytest.approx(table.to_crs(manifest["crs"]["local"]).area.sum(), rel=0.15)


def test_yokosuka_keeps_textured_lod2(yokosuka, tmp_path):
    manifest = convert(yokosuka, tmp_path / "yokosuka")
    assert manifest["counts"]["buildings"] == 13
    assert manifest["counts"]["textured_buildings"] == 2
    assert manifest["mesh"]["lods"] == {"1": 11, "2": 2}
    report = check_tileset(tmp_path / "yokosuka" / "tileset.json")
    assert len(report.features) == 13
    # The sample's DEM lies beside the buildings: their ground is estimated from them, and said so.
    assert any("DEM (udx/dem) does not reach" in w for w in manifest["warnings"])
    assert any(w.startswith("terrain:") and "estimated" in w for w in manifest["warnings"])
    assert manifest["terrain"]["estimated_share"] == 1.0


def test_dask_cluster_gives_the_same_city(sample_city, converted_city, tmp_path):
    from twin.convert.runners import dask_runner

    with dask_runner(2) as runner:
        convert(sample_city, tmp_path / "dask", runner=runner)
    inline = gpd.read_parquet(converted_city / "buildings.parquet").sort_values("gml_id")
    distributed = gpd.read_parquet(tmp_path / "dask" / "buildings.parquet").sort_values("gml_id")
    assert list(inline["gml_id"]) == list(distributed["gml_id"])
    with rasterio.open(converted_city / "terrain.tif") as a, rasterio.open(tmp_path / "dask" / "terrain.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    # Tiles written by the workers are the same bytes as those written inline.
    glbs = sorted(p.relative_to(converted_city) for p in converted_city.glob("content/*.glb"))
    assert glbs
    assert glbs == sorted(p.relative_to(tmp_path / "dask") for p in (tmp_path / "dask").glob("content/*.glb"))
    assert all((converted_city / p).read_bytes() == (tmp_path / "dask" / p).read_bytes() for p in glbs)


def test_bbox_keeps_only_buildings_inside(sample_city, converted_city, tmp_path):
    west, south, east, north = json.loads((converted_city / "city.json").read_text())["bbox"]
    box = (west, south, (west + east) / 2, (south + north) / 2)
    manifest = convert(sample_city, tmp_path / "part", ConvertOptions(bbox=box))
    table = gpd.read_parquet(tmp_path / "part" / "buildings.parquet")
    full = gpd.read_parquet(converted_city / "buildings.parquet")
    assert 0 < len(table) < len(full) == json.loads((converted_city / "city.json").read_text())["counts"]["buildings"]
    assert manifest["counts"]["buildings"] == len(table)


def test_empty_dataset_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "udx").mkdir(parents=True)
    with pytest.raises(TwinInputError, match="not a PLATEAU dataset"):
        convert(tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_broken_dataset_exits_2_and_leaves_nothing(tmp_path):
    broken = tmp_path / "broken" / "udx" / "bldg"
    broken.mkdir(parents=True)
    (broken / "53394500_bldg_6697_op.gml").write_text("<not-citygml/>")
    run = subprocess.run(TWIN + ["convert", str(tmp_path / "broken"), "-o", str(tmp_path / "city")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twin: error:")
    assert "nothing could be read" in run.stderr and "not a CityGML file" in run.stderr
    assert not (tmp_path / "city").exists() and not list(tmp_path.glob(".city*"))
