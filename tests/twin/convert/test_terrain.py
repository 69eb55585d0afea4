"""The terrain grid: measured sources first, estimated from the buildings elsewhere, each cell's source
kept; buildings stand on it; the terrain tiles are drawn from it; damaged DEMs are warnings."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.warp import calculate_default_transform, reproject
from scipy import ndimage

from tests.tools.tileset_rules import check_tileset
from twin.city.layout import TERRAIN_SOURCES
from twin.convert.dem_rasters import MeasuredLayer
from twin.convert.grid_frame import Frame
from twin.convert.pipeline import convert
from twin.convert.terrain import build_terrain
from twin.errors import TwinInputError
from twin.tiles.enu import ecef_to_geodetic
from twin.tiles.glb import accessor_array, read_glb

CODE = {name: code for code, name in TERRAIN_SOURCES.items()}


@pytest.fixture(scope="module")
def sample(gsi_sample) -> tuple[Path, Path]:
    return gsi_sample


@pytest.fixture(scope="module")
def cities(sample, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The sample converted three ways: on its own TIN, on the GSI DEM alone, and with no DEM at all."""
    full, bare = sample
    root = tmp_path_factory.mktemp("cities")
    inputs = {"tin": [full], "gsi": [bare, full / "gsi"], "estimated": [bare]}
    return {name: (root / name, convert(paths, root / name)) for name, paths in inputs.items()}


def footprint_agreement(city: Path, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per building: (lowest grid height under its footprint − its ground height, the grid's relief
    within one DEM spacing of the footprint)."""
    table = gpd.read_parquet(city / "buildings.parquet")
    with rasterio.open(city / "terrain.tif") as src:
        grid, transform, crs = src.read(1), src.transform, src.crs
    local = table.to_crs(crs)
    labels = rasterize([(g, i + 1) for i, g in enumerate(local.geometry)], out_shape=grid.shape,
                       transform=transform, fill=0, dtype="int32")
    reach = max(1, math.ceil(spacing_m / transform.a))
    diffs, reliefs = [], []
    for i, ground in enumerate(table["ground_height"]):
        under = labels == i + 1
        if not under.any():
            continue
        near = ndimage.binary_dilation(under, iterations=reach)
        diffs.append(grid[under].min() - ground)
        reliefs.append(grid[near].max() - grid[near].min())
    return np.array(diffs), np.array(reliefs)


@pytest.mark.parametrize("source", ["tin", "gsi", "estimated"])
def test_buildings_stand_on_the_terrain(source, cities):
    """The ground under each footprint agrees with the building's own lowest LOD1/LOD2 vertex within
    the DEM's resolution: by no more than the grid's relief within one DEM spacing of it (what a DEM
    of that spacing cannot tell apart), plus 1 mm of float32 storage."""
    city, manifest = cities[source]
    entry = manifest["terrain"]["sources"][0]
    assert entry["kind"] == {"tin": "dem", "gsi": "gsi_dem", "estimated": "estimated"}[source]
    assert entry["share"] > 0.99
    diffs, reliefs = footprint_agreement(city, entry.get("spacing_m", manifest["grid"]["resolution"]))
    assert len(diffs) == manifest["counts"]["buildings"]
    assert (np.abs(diffs) <= reliefs + 1e-3).all(), np.abs(diffs).max()
    if source == "estimated":  # the footprints are burnt in at their own ground height
        np.testing.assert_allclose(diffs, 0.0, atol=1e-3)


def test_the_terrain_tiles_are_the_grid(cities):
    """Every vertex of every terrain tile lies on the grid: at a cell centre, or on the grid's outer edge for
    the outermost cells (the ground covers the whole grid), with that cell's height."""
    city, manifest = cities["gsi"]
    report = check_tileset(city / "terrain" / "tileset.json")
    assert manifest["terrain_tiles"]["content_tiles"] == len(report.contents) >= 1
    with rasterio.open(city / "terrain.tif") as src:
        grid, transform, crs = src.read(1), src.transform, src.crs
    to_map = Transformer.from_crs("EPSG:6668", crs, always_xy=True)
    tileset = json.loads((city / "terrain" / "tileset.json").read_text())
    checked = on_edge = 0
    # Tile transforms compose down the tree; only the root has one (OGC 22-025r4 "Tile transforms").
    matrix = np.array(tileset["root"]["transform"]).reshape(4, 4, order="F")
    for tile, path in _content_tiles(tileset["root"], city / "terrain"):
        assert tile is tileset["root"] or "transform" not in tile
        document, binary = read_glb(path.read_bytes())
        (primitive,) = document["meshes"][0]["primitives"]
        gltf = accessor_array(document, binary, primitive["attributes"]["POSITION"]).astype(float)
        enu = np.column_stack([gltf[:, 0], -gltf[:, 2], gltf[:, 1]])  # glTF y-up → ENU
        lonlath = ecef_to_geodetic(enu @ matrix[:3, :3].T + matrix[:3, 3])
        x, y = to_map.transform(lonlath[:, 0], lonlath[:, 1])
        col, row = ~transform @ (np.asarray(x), np.asarray(y))
        for index, count in ((col, grid.shape[1]), (row, grid.shape[0])):
            centre = np.abs(index - np.floor(index) - 0.5) < 1e-3
            edge = (np.abs(index) < 1e-3) | (np.abs(index - count) < 1e-3)
            assert (centre | edge).all()
            on_edge += int(edge.sum())
        cells = (np.clip(np.floor(row).astype(int), 0, grid.shape[0] - 1),
                 np.clip(np.floor(col).astype(int), 0, grid.shape[1] - 1))
        np.testing.assert_allclose(lonlath[:, 2], grid[cells], atol=5e-3)  # float32 ENU metres within a tile: mm
        checked += len(lonlath)
    assert checked > 1000 and on_edge > 0


def _content_tiles(tile: dict, base: Path):
    if "content" in tile:
        yield tile, base / tile["content"]["uri"]
    for child in tile.get("children", []):
        yield from _content_tiles(child, base)


def test_estimated_terrain_is_exact_on_a_plane():
    """Linear interpolation on a triangulation reproduces a plane exactly: ground points on
    z = 5 + 0.01 x − 0.02 y give that plane at every cell centre inside their hull."""
    frame = Frame(Affine(2.0, 0, 0.0, 0, -2.0, 200.0), (100, 100), "EPSG:6677")
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 200, 400), rng.uniform(0, 200, 400)
    lon, lat = Transformer.from_crs("EPSG:6677", "EPSG:6668", always_xy=True).transform(x, y)
    points = np.column_stack([lat, lon, 5 + 0.01 * x - 0.02 * y])
    terrain = build_terrain(frame, [], None, points)
    assert terrain is not None
    cx, cy = np.meshgrid(np.arange(100) * 2.0 + 1, 200 - (np.arange(100) * 2.0 + 1))
    inside = terrain.sources == CODE["estimated"]
    assert inside.mean() > 0.9
    # float32 heights of a few metres: 1e-5 m; the lon/lat round trip of the points: below 1e-6 m.
    np.testing.assert_allclose(terrain.heights[inside], (5 + 0.01 * cx - 0.02 * cy)[inside], atol=1e-4)
    assert set(np.unique(terrain.sources)) <= {CODE["estimated"], CODE["extrapolated"]}


def test_measured_sources_take_their_cells_by_priority():
    """The TIN's cells stay its own; the GSI DEM fills the rest; one spacing beyond both, the nearest
    measured height; further out, the estimate; each cell says which."""
    frame = Frame(Affine(1.0, 0, 0.0, 0, -1.0, 50.0), (50, 50), "EPSG:6677")
    tin = np.full(frame.shape, np.nan, np.float32)
    tin[:, :20] = 1.0
    gsi = np.full(frame.shape, np.nan, np.float32)
    gsi[:, 10:40] = 2.0
    terrain = build_terrain(frame, [MeasuredLayer("dem", tin, 1.0), MeasuredLayer("gsi_dem", gsi, 3.0)], None, None)
    assert terrain is not None
    assert (terrain.sources[:, :20] == CODE["dem"]).all() and (terrain.heights[:, :20] == 1.0).all()
    assert (terrain.sources[:, 20:40] == CODE["gsi_dem"]).all() and (terrain.heights[:, 20:40] == 2.0).all()
    assert (terrain.sources[:, 40:43] == CODE["gsi_dem"]).all()  # within the GSI DEM's 3 m spacing
    assert (terrain.sources[:, 44:] == CODE["extrapolated"]).all()  # nothing to estimate from out there
    provenance = terrain.provenance()
    assert [s["kind"] for s in provenance["sources"]] == ["dem", "gsi_dem", "extrapolated"]
    assert sum(s["cells"] for s in provenance["sources"]) == 2500
    assert provenance["estimated_share"] == pytest.approx((terrain.sources == CODE["extrapolated"]).mean())


def test_nothing_to_take_a_height_from_means_no_terrain():
    frame = Frame(Affine(1.0, 0, 0.0, 0, -1.0, 10.0), (10, 10), "EPSG:6677")
    assert build_terrain(frame, [], None, None) is None


# -- DEMs from elsewhere, damaged DEMs ------------------------------------------------------------------


def test_a_geotiff_dem_in_another_crs_lands_where_it_belongs(cities, sample, tmp_path):
    """The TIN-made terrain written as a lon/lat (EPSG:6668) GeoTIFF, then used as the only DEM:
    the ground comes back (to the interpolation of a 2 m grid through ~2 m lon/lat cells)."""
    city, _ = cities["tin"]
    _, bare = sample
    with rasterio.open(city / "terrain.tif") as src:
        transform, width, height = calculate_default_transform(src.crs, "EPSG:6668", src.width, src.height,
                                                               *src.bounds)
        data = np.full((height, width), np.nan, np.float32)
        reproject(rasterio.band(src, 1), data, dst_transform=transform, dst_crs="EPSG:6668", dst_nodata=np.nan)
    tif = tmp_path / "dem_lonlat.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
                       crs="EPSG:6668", transform=transform, nodata=np.nan) as dst:
        dst.write(data, 1)
    manifest = convert([bare], tmp_path / "city", dems=[tif])
    assert manifest["terrain"]["sources"][0]["kind"] == "raster_dem"
    assert manifest["terrain"]["sources"][0]["share"] > 0.99
    diffs, reliefs = footprint_agreement(tmp_path / "city", 2.0 * 2)
    assert (np.abs(diffs) <= reliefs + 1e-3).all()


def test_a_dem_without_a_crs_is_refused_before_the_work(sample, tmp_path):
    _, bare = sample
    tif = tmp_path / "nocrs.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=Affine(1, 0, 0, 0, -1, 4)) as dst:
        dst.write(np.ones((4, 4), np.float32), 1)
    with pytest.raises(TwinInputError, match="no CRS"):
        convert([bare], tmp_path / "city", dems=[tif])
    assert not (tmp_path / "city").exists()


def test_a_dem_of_another_place_is_refused(sample, tmp_path):
    _, bare = sample
    tif = tmp_path / "elsewhere.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:6668",
                       transform=Affine(0.001, 0, 135.0, 0, -0.001, 34.6)) as dst:  # Osaka, not Kawagoe
        dst.write(np.ones((4, 4), np.float32), 1)
    with pytest.raises(TwinInputError, match="does not overlap"):
        convert([bare], tmp_path / "city", dems=[tif])


def gsi_members(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_damaged_gsi_files_are_warnings_and_the_rest_is_used(sample, tmp_path):
    """One GSI mesh with a mesh code that is not its envelope's, one with no data at all: each is a
    warning naming the file; the good meshes still give the terrain."""
    full, bare = sample
    (zip_path,) = (full / "gsi").glob("*.zip")
    members = gsi_members(zip_path)
    names = sorted(members)
    assert len(names) >= 3
    wrong, empty = names[0], names[1]
    text = members[wrong].decode("utf-8")
    mesh = text.split("<mesh>")[1].split("</mesh>")[0]
    members[wrong] = text.replace(f"<mesh>{mesh}</mesh>", f"<mesh>{mesh[:-1]}{(int(mesh[-1]) + 1) % 10}</mesh>"
                                  ).encode("utf-8")
    text = members[empty].decode("utf-8")
    head, rest = text.split("<gml:tupleList>")
    body, tail = rest.split("</gml:tupleList>")
    members[empty] = (head + "<gml:tupleList>" + "\n".join("データなし,-9999." for _ in body.strip().splitlines())
                      + "</gml:tupleList>" + tail).encode("utf-8")
    damaged = tmp_path / zip_path.name
    with zipfile.ZipFile(damaged, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    manifest = convert([bare, damaged], tmp_path / "city")
    warnings = "\n".join(manifest["warnings"])
    assert f"{wrong}" in warnings and "mesh code" in warnings
    assert f"{empty}" in warnings and "no data" in warnings
    gsi = next(s for s in manifest["terrain"]["sources"] if s["kind"] == "gsi_dem")
    used = {f["file"].rsplit(":", 1)[-1] for f in gsi["files"]}  # the meshes that meet the City's grid
    assert gsi["share"] > 0.5 and used and not used & {wrong, empty}


def test_a_damaged_zip_member_is_a_warning_and_the_rest_converts(sample, tmp_path):
    """A dataset zip whose one road file has a CRC error: that member is named in a warning, the
    others convert."""
    _, bare = sample
    zipped = tmp_path / "dataset.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(bare.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(bare.parent).as_posix())
    roads = sorted(n for n in zipfile.ZipFile(zipped).namelist() if "/tran/" in n and n.endswith(".gml"))
    assert len(roads) >= 2
    raw = bytearray(zipped.read_bytes())
    with zipfile.ZipFile(zipped) as archive:
        info = archive.getinfo(roads[0])
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 100] ^= 0xFF  # one flipped byte in the stored data: the CRC no longer matches
    zipped.write_bytes(bytes(raw))
    manifest = convert([zipped], tmp_path / "city")
    assert any(roads[0] in w and "damaged" in w for w in manifest["warnings"])
    whole = convert([bare], tmp_path / "whole")
    assert 0 < manifest["counts"]["roads"] < whole["counts"]["roads"]
    assert manifest["counts"]["buildings"] == whole["counts"]["buildings"]
