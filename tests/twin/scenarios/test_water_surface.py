"""The water surface the console draws a flood frame at: block means of the wet cells' surface elevation,
nothing where dry, and the grid's corners in lon/lat."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS

from sim.flood import Snapshot
from twin.files.rasters import Grid
from twin.flood.grid_run import DepthWriter
from twin.scenarios.frames import water_surface

CRS_9 = CRS.from_epsg(6677)  # JGD2011 plane rectangular zone IX (Tokyo)


@pytest.fixture
def lake(tmp_path):
    """A 40 × 60 grid of 2 m cells on a slope rising east, 0.05 m per cell; still water at 5.0 m T.P. over the
    western part (a lake at rest: one flat surface), dry where the ground is above it; written as a run's
    depth.nc at two times, the first dry everywhere."""
    rows, cols = 40, 60
    ground = np.tile(3.0 + 0.05 * np.arange(cols, dtype=np.float32), (rows, 1))
    depth = np.maximum(5.0 - ground, 0).astype(np.float32)
    wse = np.where(depth > 0, 5.0, np.nan).astype(np.float32)
    grid = Grid(ground, Affine(2.0, 0, -8000.0, 0, -2.0, -30000.0), CRS_9)
    path = tmp_path / "depth.nc"
    writer = DepthWriter(path, grid, "inertial")
    zero = np.zeros((rows, cols), np.float32)
    writer.write(Snapshot(0.0, zero, np.full((rows, cols), np.nan, np.float32), zero, zero))
    writer.write(Snapshot(600.0, depth, wse, zero, zero))
    writer.close()
    return path, depth


def test_a_lake_at_rest_is_one_flat_surface_in_blocks_and_nothing_where_dry(lake):
    path, depth = lake
    surface = water_surface(path, 1, wet_m=0.1, max_blocks=20)  # 60 columns in at most 20 blocks: 3 × 3 cells
    assert (surface["block"], surface["rows"], surface["cols"], surface["time_s"]) == (3, 14, 20, 600.0)
    heights = np.array([np.nan if h is None else h for h in surface["wse_m"]]).reshape(14, 20)
    # every block with a cell at least 0.1 m deep lies at the lake's level (5.0 m, stored to the mm)
    assert np.allclose(heights[np.isfinite(heights)], 5.0, atol=1e-3)
    # depth ≥ 0.1 m where the ground is ≤ 4.9 m: columns 0-37, so blocks 0-12 (block 12 holds columns 36-38)
    wet_columns = np.flatnonzero(np.isfinite(heights).all(axis=0))
    assert wet_columns.tolist() == list(range(13)) and not np.isfinite(heights[:, 13:]).any()
    assert (depth[:, :38] >= 0.1).all() and (depth[:, 38:] < 0.1).all()  # the fixture is as described
    # the corners are the grid's outer edges, NW NE SW SE, padded to whole blocks (42 rows of 2 m)
    to_lonlat = Transformer.from_crs("EPSG:6677", "EPSG:6668", always_xy=True)
    expected = [to_lonlat.transform(x, y) for x, y in ((-8000, -30000), (-7880, -30000), (-8000, -30084),
                                                       (-7880, -30084))]
    assert np.allclose(surface["corners"], expected, atol=1e-9)


def test_a_dry_time_has_no_water_and_a_missing_time_is_an_index_error(lake):
    path, _ = lake
    assert all(h is None for h in water_surface(path, 0)["wse_m"])
    with pytest.raises(IndexError, match="no output time 2: the run has 2"):
        water_surface(path, 2)
