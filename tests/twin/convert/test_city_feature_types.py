"""Every feature type becomes part of the City: bridges (tiles, deck band), water bodies (tiles, water
band), land use (table, roughness with cited values), missing textures said, counts in city.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import shapely.ops

from tests.tools.tileset_rules import check_tileset
from tests.twin.convert.plateau_xml import members
from twin.city.grids import load_grids
from twin.convert.pipeline import convert
from twin.flood.city_run import flood_run
from twin.flood.scenario import parse_scenario


def xml_count(dataset: Path, folder: str, element: str) -> int:
    return sum(1 for m in members(dataset) if m.folder == folder and m.element == element)


def test_bridges_are_tiled_and_marked_as_decks(sample_city, converted_city):
    manifest = json.loads((converted_city / "city.json").read_text())
    expected = xml_count(sample_city, "brid", "Bridge")
    assert expected > 0 and manifest["counts"]["bridges"] == expected
    report = check_tileset(converted_city / "bridges" / "tileset.json")
    table = gpd.read_parquet(converted_city / "bridges.parquet")
    assert sorted(f["gml_id"] for f in report.features) == sorted(table["gml_id"])
    assert {f["usage"] for f in report.features} <= {"桁橋", "トラス橋", "アーチ橋"}  # Bridge_class labels
    with rasterio.open(converted_city / "masks.tif") as src:
        bands = dict(zip(src.descriptions, src.read()))
        centres = table.to_crs(src.crs).geometry.representative_point()
        rows, cols = rasterio.transform.rowcol(src.transform, centres.x, centres.y)
    assert (bands["bridges"][rows, cols] == 1).all()
    assert (bands["buildings"][rows, cols] == 0).all()  # a deck is no wall: water passes under it
    assert (bands["water"][rows, cols] == 1).mean() > 0.5  # the decks span the river


def test_water_bodies_are_tiled_and_form_the_water_band(sample_city, converted_city):
    table = gpd.read_parquet(converted_city / "water.parquet")
    assert len(table) == xml_count(sample_city, "wtr", "WaterBody") > 0
    report = check_tileset(converted_city / "water" / "tileset.json")
    assert {f["gml_id"] for f in report.features} == set(table["gml_id"])
    grids = load_grids(converted_city)
    local = table.to_crs(grids.crs).geometry.union_all()
    # Cell centres inside the river's polygons are water; cells a cell away outside are not.
    x, y = grids.terrain.cell_centres()
    xx, yy = np.meshgrid(x, y)
    inside = shapely.contains_xy(local, xx, yy)
    assert inside.sum() > 100
    np.testing.assert_array_equal(grids.water[inside], 1.0)
    outside = ~shapely.contains_xy(local.buffer(grids.terrain.cell_size), xx, yy)
    assert grids.water[outside].max() == 0.0


def test_land_use_gives_the_cited_roughness(sample_city, converted_city):
    table = gpd.read_parquet(converted_city / "land_use.parquet")
    assert len(table) == xml_count(sample_city, "luse", "LandUse")
    # Chow (1959) Table 5-6 normal values and REFERENCES.md's urban figures (twin.convert.roughness).
    cited = {"201": 0.040, "202": 0.035, "203": 0.060, "204": 0.030, "205": 0.035, "211": 0.040,
             "212": 0.040, "213": 0.040, "214": 0.040, "215": 0.015, "216": 0.040, "217": 0.030, "219": 0.040}
    present = set(table["class_code"])
    assert {"201", "204", "211", "215"} <= present
    for code in present:
        assert table.loc[table["class_code"] == code, "manning_n"].iloc[0] == pytest.approx(cited[code]), code
    grids = load_grids(converted_city)
    # At land-use polygons' inner points the roughness grid holds their class's n.
    # Land-use areas tile the site without overlapping: the cell whose centre lies deepest inside each
    # area (its pole of inaccessibility, when that is over a cell from the edge) has the area's n.
    local = table.to_crs(grids.crs)
    cell = grids.terrain.cell_size
    poles = [shapely.ops.polylabel(g if g.geom_type == "Polygon" else max(g.geoms, key=lambda p: p.area), 0.1)
             for g in local.geometry]
    deep = np.array([local.geometry.iloc[i].exterior.distance(pt) > 1.5 * cell
                     if local.geometry.iloc[i].geom_type == "Polygon" else False for i, pt in enumerate(poles)])
    cols, rows = ~grids.terrain.transform @ (np.array([p.x for p in poles]), np.array([p.y for p in poles]))
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    keep = deep & (rows >= 0) & (rows < grids.terrain.shape[0]) & (cols >= 0) & (cols < grids.terrain.shape[1])
    assert keep.sum() > 100
    np.testing.assert_allclose(grids.roughness[rows[keep], cols[keep]], local["manning_n"].to_numpy(float)[keep])


def test_a_scenario_without_a_manning_value_takes_the_land_use(converted_city):
    grids = load_grids(converted_city, 8.0)
    scenario = parse_scenario({"name": "rain", "duration_s": 60, "rain": {"mm_per_h": 50},
                               "manning": {"roads": 0.015}}, "test")
    assert scenario.manning is None
    run = flood_run(grids, scenario)
    roads = grids.roads >= 0.5
    np.testing.assert_array_equal(run.manning[roads], 0.015)
    with_use = ~roads & np.isfinite(grids.roughness)
    np.testing.assert_allclose(run.manning[with_use], grids.roughness[with_use])
    stated = flood_run(grids, parse_scenario({"name": "rain", "duration_s": 60, "manning": {"default": 0.05}}, "t"))
    assert set(np.unique(stated.manning)) == {0.015, 0.05}


def test_manifest_counts_every_type_and_the_cli_says_so(sample_city, tmp_path, twin):
    done = twin("convert", str(sample_city), "-o", str(tmp_path / "city"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "city" / "city.json").read_text())
    by_type = manifest["features"]
    for folder in ("bldg", "tran", "brid", "wtr", "luse", "fld", "dem"):
        assert by_type[folder]["read"] == sum(1 for m in members(sample_city) if m.folder == folder), folder
        assert f"{folder}: {by_type[folder]['read']} read" in done.stderr.replace("\n", " ")


def test_missing_texture_images_are_a_warning(sample_city, tmp_path):
    copy = tmp_path / "dataset"
    shutil.copytree(sample_city, copy)
    images = sorted(copy.rglob("*_appearance/*.png"))
    assert images
    images[0].unlink()
    manifest = convert([copy], tmp_path / "city")
    assert manifest["mesh"]["missing_textures"] == 1
    assert any("texture image(s) missing" in w and images[0].parent.name.replace("_appearance", "") in w
               for w in manifest["warnings"])
