"""Every real PLATEAU and GSI sample converts, alone and combined with others of the same place;
what the City holds is checked against the files themselves (read with lxml, not with ``citygml``)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from lxml import etree
from pyproj import Transformer

from tests.conftest import PLATEAU, plateau_sample
from tests.twin.convert.plateau_xml import (
    lowest_solid_height,
    measured_height,
    members,
    part_counts,
    usage_code,
)
from twin.city.layout import FILES
from twin.convert.pipeline import convert
from twin.errors import TwinInputError

GSI = PLATEAU.parent / "gsi"
SAMPLES = sorted(p.name for p in PLATEAU.glob("*_op")) if PLATEAU.is_dir() else []
#: City part → the manifest's count of it.
COUNT_KEYS = {"buildings": "buildings", "roads": "roads", "hazards": "hazard_areas", "water": "water_bodies",
              "land_use": "land_use_areas", "bridges": "bridges", "features": "other_features"}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Each real sample converted once for the module: name → (dataset, City folder, manifest)."""
    root = tmp_path_factory.mktemp("real")
    cache: dict[str, tuple[Path, Path, dict]] = {}

    def get(name: str) -> tuple[Path, Path, dict]:
        if name not in cache:
            dataset = plateau_sample(name)
            manifest = convert(dataset, root / name)
            cache[name] = (dataset, root / name, manifest)
        return cache[name]

    return get


@pytest.mark.parametrize("name", SAMPLES or ["(no samples)"])
def test_every_real_sample_converts_with_every_feature_counted(name, converted):
    dataset, city, manifest = converted(name)
    expected = part_counts(dataset)
    for part, key in COUNT_KEYS.items():
        assert manifest["counts"][key] == expected.get(part, 0), part
    # Per PLATEAU type, what was read is what the files hold, and each went somewhere (nothing dropped here).
    read = sum(entry["read"] for entry in manifest["features"].values())
    assert read == len(members(dataset))
    assert all(not entry["dropped"] for entry in manifest["features"].values())
    for part in COUNT_KEYS:
        path = city / FILES[part]
        assert path.is_file() == bool(expected.get(part)), part
        if expected.get(part):
            assert len(gpd.read_parquet(path)) == expected[part]


@pytest.mark.parametrize("name", [n for n in SAMPLES if any((PLATEAU / n / "udx" / "bldg").glob("*.gml"))]
                         or ["(no samples)"])
def test_building_heights_usage_and_ground_match_the_files(name, converted):
    dataset, city, _ = converted(name)
    table = gpd.read_parquet(city / "buildings.parquet").set_index("gml_id")
    buildings = [m for m in members(dataset) if m.element == "Building"]
    assert len(buildings) == len(table)
    for m in buildings:
        row = table.loc[m.gml_id]
        height = measured_height(m.node)
        assert (np.isnan(row["height"]) if height is None else row["height"] == pytest.approx(height)), m.gml_id
        assert (row["usage_code"] if isinstance(row["usage_code"], str) else None) == usage_code(m.node)
        ground = lowest_solid_height(m.node)
        if ground is not None:
            assert row["ground_height"] == pytest.approx(ground, abs=1e-6), m.gml_id


def test_hazard_ranks_and_water_levels_match_the_files(converted):
    dataset, city, _ = converted("02321_ajigasawa")
    table = gpd.read_parquet(city / "hazards.parquet").set_index("gml_id")
    for m in members(dataset):
        row = table.loc[m.gml_id]
        rank = m.node.xpath(".//*[local-name()='rank' or local-name()='rankOrg']/text()")
        assert str(int(row["rank"])) == rank[0].strip()
        # The mean height of the surfaces' vertices, each ring's closing point (a repeat of its first) once.
        rings = [[float(v) for v in t.split()][2::3] for t in m.node.xpath(".//*[local-name()='posList']/text()")]
        assert row["water_level"] == pytest.approx(np.mean([h for ring in rings for h in ring[:-1]]), abs=1e-6)
        assert row["scale"] == ("L1" if "_l1_" in row["file"] else "L2")


def test_a_citygml3_conversion_gives_the_same_city_as_its_citygml2_source(converted):
    _, two, _ = converted("27100_osaka-shi_city_2024_citygml_1")
    _, three, _ = converted("27100_osaka-shi_city_2024_citygml3")
    a = gpd.read_parquet(two / "buildings.parquet").set_index("gml_id").sort_index()
    b = gpd.read_parquet(three / "buildings.parquet").set_index("gml_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) == 63
    for column in ("height", "storeys", "usage_code", "class_code", "ground_height", "max_flood_depth",
                   "max_flood_rank", "has_flood_risk"):
        assert a[column].tolist() == pytest.approx(b[column].tolist(), nan_ok=True) \
            if a[column].dtype.kind == "f" else a[column].tolist() == b[column].tolist(), column
    # Footprints: the 2.0 lod0FootPrint and the 3.0 lod0MultiSurface outline the same ground (to 1 cm²).
    local = a.to_crs(6674).geometry.symmetric_difference(b.to_crs(6674).geometry).area
    assert local.max() < 1e-2
    with rasterio.open(two / "terrain.tif") as x, rasterio.open(three / "terrain.tif") as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_both_generations_in_one_city_keep_each_building_once(tmp_path):
    two = plateau_sample("27100_osaka-shi_city_2024_citygml_1")
    three = plateau_sample("27100_osaka-shi_city_2024_citygml3")
    manifest = convert([two, three], tmp_path / "osaka")
    assert manifest["counts"]["buildings"] == 63 and manifest["tiles"]["features"] == 63
    assert manifest["features"]["bldg"] == {"read": 126, "kept": {"buildings": 63},
                                            "dropped": {"repeated: the same gml:id in another input": 63}}
    assert any("63 buildings appear in more than one input" in w for w in manifest["warnings"])


@pytest.mark.slow
def test_rivers_and_roads_of_one_ward_make_one_city(tmp_path):
    """Bunkyo's water bodies and Suginami's road lie in one 2nd-order mesh (533945): one City, both counted."""
    water, roads = plateau_sample("13105_bunkyo"), plateau_sample("13115_suginami")
    manifest = convert([water, roads], tmp_path / "tokyo")
    assert manifest["counts"]["water_bodies"] == part_counts(water)["water"] == 5
    assert manifest["counts"]["roads"] == part_counts(roads)["roads"] == 1
    assert {i["kind"] for i in manifest["inputs"]} == {"plateau"}
    # The rivers are drawn in 3D where their surfaces have heights: those heights, not 0, are their levels.
    table = gpd.read_parquet(tmp_path / "tokyo" / "water.parquet")
    assert (table["water_level"].dropna() > 1).all()


def test_inputs_of_different_places_are_a_clear_error(tmp_path):
    osaka, sapporo = plateau_sample("27100_osaka-shi_city_2024_citygml_1"), plateau_sample("01100_sapporo")
    with pytest.raises(TwinInputError, match="does not overlap .* different places"):
        convert([osaka, sapporo], tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists() and not list(tmp_path.glob(".nowhere*"))


def test_a_dem_that_misses_the_buildings_leaves_them_on_their_own_ground(converted):
    """Tokyo's 2020 sample: its DEM lies 3 km from its two buildings. The terrain under them is their
    own ground (estimated, said so), never a plate at the DEM's height."""
    dataset, city, manifest = converted("13100_tokyo23-ku")
    kinds = {s["kind"] for s in manifest["terrain"]["sources"]}
    assert "dem" not in kinds and "estimated" in kinds
    assert any("estimated" in w for w in manifest["warnings"])
    table = gpd.read_parquet(city / "buildings.parquet")
    with rasterio.open(city / "terrain.tif") as src:
        points = table.to_crs(src.crs).geometry.representative_point()
        under = np.array([v[0] for v in src.sample(zip(points.x, points.y))])
    np.testing.assert_allclose(under, table["ground_height"], atol=1e-3)  # float32 storage


# -- GSI DEM files --------------------------------------------------------------------------------------


def gsi_cells(path: Path) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The DEM's heights (rows north→south, NaN for −9999) and (west, south, east, north), with lxml."""
    tree = etree.parse(str(path))
    text = lambda name: tree.xpath(f"//*[local-name()='{name}']/text()")[0]  # noqa: E731
    south, west = (float(v) for v in text("lowerCorner").split())
    north, east = (float(v) for v in text("upperCorner").split())
    high = [int(v) for v in text("high").split()]
    cols, rows = high[0] + 1, high[1] + 1
    start = tree.xpath("//*[local-name()='startPoint']/text()")
    sx, sy = (int(v) for v in start[0].split()) if start else (0, 0)
    values = np.array([float(line.split(",")[1]) for line in text("tupleList").strip().splitlines()])
    grid = np.full(rows * cols, np.nan)
    grid[sy * cols + sx: sy * cols + sx + len(values)] = values
    grid[grid <= -9999] = np.nan
    return grid.reshape(rows, cols), (west, south, east, north)


@pytest.mark.parametrize("name", sorted(p.name for p in GSI.glob("*.xml")) if GSI.is_dir() else ["(none)"])
def test_each_gsi_dem_file_makes_a_city_whose_ground_is_the_dem(name, tmp_path):
    path = GSI / name
    if not path.is_file():
        pytest.skip(f"GSI samples not found under {GSI}")
    manifest = convert([path], tmp_path / "dem")
    heights, (west, south, east, north) = gsi_cells(path)
    rows, cols = heights.shape
    share = manifest["terrain"]["sources"][0]
    assert share["kind"] == "gsi_dem" and share["spacing_m"] == pytest.approx(5 if "DEM5" in name else 10, rel=0.3)
    assert manifest["grid"]["resolution"] == (5.0 if "DEM5" in name else 10.0)  # no buildings: the DEM's cell size
    assert manifest["counts"]["buildings"] == 0 and manifest["tiles"] is None
    with rasterio.open(tmp_path / "dem" / "terrain.tif") as src, \
            rasterio.open(tmp_path / "dem" / "terrain_sources.tif") as codes_src:
        grid, codes = src.read(1), codes_src.read(1)
        to_lonlat = Transformer.from_crs(src.crs, "EPSG:6668", always_xy=True)
        r, c = np.nonzero(codes == 2)
        pick = np.random.default_rng(0).choice(len(r), size=min(300, len(r)), replace=False)
        x, y = rasterio.transform.xy(src.transform, r[pick], c[pick])
    lon, lat = to_lonlat.transform(np.asarray(x), np.asarray(y))
    # Bilinear between the DEM's cell centres: each value lies within the cells around it (2 × 2; GDAL
    # widens the kernel where the City's cells are coarser than the DEM's, e.g. 10 m over 0.3″ = 9.3 m
    # north-south: so the 4 × 4 around it).
    fc = (np.asarray(lon) - west) / (east - west) * cols - 0.5
    fr = (north - np.asarray(lat)) / (north - south) * rows - 0.5
    c0, r0 = np.clip(np.floor(fc).astype(int), 1, cols - 3), np.clip(np.floor(fr).astype(int), 1, rows - 3)
    around = np.stack([heights[r0 + i, c0 + j] for i in (-1, 0, 1, 2) for j in (-1, 0, 1, 2)])
    value = grid[r[pick], c[pick]]
    full = np.isfinite(around).all(axis=0)
    assert full.sum() > 50
    assert (value[full] >= around[:, full].min(axis=0) - 1e-3).all()
    assert (value[full] <= around[:, full].max(axis=0) + 1e-3).all()
    if manifest["terrain"]["estimated_share"] > 0:  # the mesh's sea (−9999) and the plane grid's corners
        assert any(w.startswith("terrain:") and "estimated" in w for w in manifest["warnings"])


def test_the_city_manifest_lists_where_its_inputs_lie(converted):
    _, city, manifest = converted("14201_yokosuka")
    assert json.loads((city / "city.json").read_text(encoding="utf-8"))["inputs"] == manifest["inputs"]
    (entry,) = manifest["inputs"]
    assert entry["kind"] == "plateau" and entry["bbox"][0] < 139.69 < entry["bbox"][2]


def test_roads_keep_every_lod_they_are_drawn_in(converted):
    """Suginami's road has LOD1 surfaces and LOD2 traffic areas: the roads table says both."""
    dataset, city, _ = converted("13115_suginami")
    table = gpd.read_parquet(city / "roads.parquet").set_index("gml_id")
    for m in members(dataset):
        names = {etree.QName(e).localname for e in m.node.iter() if isinstance(e.tag, str)}
        lods = sorted({int(n[3]) for n in names if n.startswith("lod") and n[3].isdigit()
                       and (n.endswith("MultiSurface") or n.endswith("Solid"))})
        assert list(table.loc[m.gml_id, "lods"]) == lods and len(lods) >= 2
