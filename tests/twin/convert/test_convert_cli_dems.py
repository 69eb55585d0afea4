"""``twin convert --dem FILE`` through the command line: an ESRI ASCII grid (``.asc`` with its ``.prj``)
and a GeoTIFF become the City's terrain, said so in ``city.json``, with the grid's own heights.

The DEM is a tilted plane written by hand in JGD2011 plane IX (EPSG:6677) over the sample city:
bilinear resampling reproduces a plane exactly, so every measured cell of the City's terrain must
be the plane's height at that cell's centre, and at the DEM's own cell centres the terrain is the
DEM's value there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from pyproj.enums import WktVersion

DEM_CRS = "EPSG:6677"
CELL = 10.0  # m
#: The plane: h = BASE + SLOPE_X·(x − x0) + SLOPE_Y·(y − y0), x0, y0 the DEM's north-west corner.
BASE, SLOPE_X, SLOPE_Y = 20.0, 0.002, -0.003
RASTER_DEM = 3  # terrain_sources.tif code of a GeoTIFF/ASCII DEM (twin.city.layout.TERRAIN_SOURCES)


def _plane_grid() -> tuple[np.ndarray, Affine]:
    """The plane over the sample city's 2nd-order mesh 533973 (35.9167–36.0 N, 139.375–139.5 E; its
    files are named after it) with 300 m to spare, NW corner on whole metres."""
    to_plane = Transformer.from_crs("EPSG:6668", DEM_CRS, always_xy=True)
    xs, ys = to_plane.transform([139.375, 139.5, 139.375, 139.5], [35.9167, 35.9167, 36.0, 36.0])
    west, north = np.floor(min(xs)) - 300, np.ceil(max(ys)) + 300
    cols = int(np.ceil((max(xs) + 300 - west) / CELL))
    rows = int(np.ceil((north - (min(ys) - 300)) / CELL))
    transform = Affine(CELL, 0, west, 0, -CELL, north)
    cx = (np.arange(cols) + 0.5) * CELL  # cell centres from the NW corner
    cy = -(np.arange(rows) + 0.5) * CELL
    heights = BASE + SLOPE_X * cx[None, :] + SLOPE_Y * cy[:, None]
    return heights.astype(np.float32), transform


def plane_at(x: np.ndarray, y: np.ndarray, transform: Affine) -> np.ndarray:
    return BASE + SLOPE_X * (np.asarray(x) - transform.c) + SLOPE_Y * (np.asarray(y) - transform.f)


def write_asc(path: Path, heights: np.ndarray, transform: Affine) -> None:
    """ESRI ASCII grid (lower-left corner header, rows north → south) and its ``.prj`` (ESRI WKT)."""
    rows, cols = heights.shape
    lines = [f"ncols {cols}", f"nrows {rows}", f"xllcorner {transform.c:.3f}",
             f"yllcorner {transform.f - rows * CELL:.3f}", f"cellsize {CELL:g}", "NODATA_value -9999"]
    lines += [" ".join(f"{v:.4f}" for v in row) for row in heights]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    path.with_suffix(".prj").write_text(CRS(DEM_CRS).to_wkt(WktVersion.WKT1_ESRI), encoding="ascii")


def write_tif(path: Path, heights: np.ndarray, transform: Affine) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=heights.shape[1], height=heights.shape[0], count=1,
                       dtype="float32", crs=DEM_CRS, transform=transform, nodata=-9999) as dst:
        dst.write(heights, 1)


@pytest.mark.parametrize("suffix", [".asc", ".tif"])
def test_convert_with_a_dem_flag_stands_the_city_on_that_dem(suffix, gsi_sample, tmp_path, twin):
    _, bare = gsi_sample
    heights, transform = _plane_grid()
    dem = tmp_path / f"plane{suffix}"
    (write_asc if suffix == ".asc" else write_tif)(dem, heights, transform)
    out = tmp_path / "town"
    done = twin("convert", str(bare), "--dem", str(dem), "-o", str(out), "--workers", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    # Provenance: city.json says the terrain is this file, nearly all of it.
    manifest = json.loads((out / "city.json").read_text(encoding="utf-8"))
    assert json.loads(done.stdout)["terrain"] == manifest["terrain"]
    (source, *rest) = manifest["terrain"]["sources"]
    assert source["kind"] == "raster_dem" and source["share"] > 0.99
    assert [f["file"] for f in source["files"]] == [str(dem)]
    assert source["spacing_m"] == pytest.approx(CELL)
    assert sum(s["share"] for s in rest) < 0.01
    assert manifest["terrain"]["estimated_share"] < 0.01
    assert any(i["kind"] == "raster_dem" for i in manifest["inputs"])

    with rasterio.open(out / "terrain.tif") as src, rasterio.open(out / "terrain_sources.tif") as codes_src:
        grid, codes, city_transform, city_crs = src.read(1), codes_src.read(1), src.transform, src.crs
        to_city = Transformer.from_crs(DEM_CRS, src.crs, always_xy=True)
        # Known points: the DEM's own cell centres inside the City's grid; the terrain there is the DEM's value.
        r, c = np.mgrid[0:heights.shape[0], 0:heights.shape[1]]
        x, y = transform @ (c.ravel() + 0.5, r.ravel() + 0.5)
        gx, gy = to_city.transform(x, y)
        left, bottom, right, top = src.bounds
        inside = (gx > left + 3 * CELL) & (gx < right - 3 * CELL) & (gy > bottom + 3 * CELL) & (gy < top - 3 * CELL)
        assert inside.sum() > 1000
        pick = np.random.default_rng(1).choice(np.nonzero(inside)[0], size=300, replace=False)
        sampled = np.array([v[0] for v in src.sample(zip(gx[pick], gy[pick]))])
    np.testing.assert_allclose(sampled, heights.ravel()[pick], atol=0.01)
    # Every cell the DEM measured is the plane at that cell's centre (float32 and the DEM's 4 decimals: 1 cm).
    rows, cols = np.nonzero(codes == RASTER_DEM)
    assert len(rows) > 0.99 * codes.size
    cx, cy = rasterio.transform.xy(city_transform, rows, cols)
    px, py = Transformer.from_crs(city_crs, DEM_CRS, always_xy=True).transform(np.asarray(cx), np.asarray(cy))
    np.testing.assert_allclose(grid[rows, cols], plane_at(px, py, transform), atol=0.01)
