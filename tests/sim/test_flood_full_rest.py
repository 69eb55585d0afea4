"""The full scheme keeps a lake at rest: uneven bed, dry islands, submerged bumps, walls,
raised and partly blocked cells (the hydrostatic reconstruction's well-balancing)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.flood import FloodModel, Scheme


def _bed(ny: int = 40, nx: int = 50) -> np.ndarray:
    y, x = np.mgrid[0:ny, 0:nx]
    return 2.0 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.01 * x  # bumps above the lake (islands) and below it


def _buildings(shape: tuple[int, int]) -> np.ndarray:
    blocked = np.zeros(shape)
    blocked[10:15, 10:20] = 1.0  # a building standing in the water
    blocked[25:28, 30:33] = 0.4  # partly blocked cells (porosity 0.6)
    return blocked


@pytest.mark.parametrize("buildings", ["walls", "raised"])
def test_lake_at_rest_stays_at_rest_float64(buildings: str) -> None:
    """Over 1,600 steps levels stay within 1e-12 m and speeds below 1e-10 m/s (measured
    8.9e-16 m and 3e-13 m/s: η = z + (η0 − z) differs from η0 by an ulp, so the scheme sees
    surface slopes of ~1e-16; an unbalanced bed-slope term would drive metres per second)."""
    dem = _bed()
    model = FloodModel(dem, 2.0, blocked=_buildings(dem.shape), buildings=buildings, initial_wse=1.0,
                       manning=0.03, scheme="full")
    open_ = model.raster.phi > 0
    island = (model.z > 1.0) & open_
    submerged = (model.z > 0.5) & (model.z < 1.0) & open_
    assert island.sum() > 50 and submerged.sum() > 50
    h0 = model.h.copy()
    result = model.run(300.0)
    assert result.steps > 1000
    assert np.abs(model.h - h0).max() < 1e-12
    assert np.nanmax(result.max_velocity) < 1e-10
    assert (model.h[island] == 0).all()
    assert result.mass.error_rel < 1e-13


def test_lake_at_rest_float32() -> None:
    """In float32 the depths are stored to ~1e-7 m (one ulp of 1-3 m): levels stay within
    1e-6 m and speeds below 1e-5 m/s (measured 2.4e-7 m, 1.3e-6 m/s)."""
    dem = _bed()
    model = FloodModel(dem, 2.0, blocked=_buildings(dem.shape), initial_wse=1.0,
                       scheme=Scheme(kind="full", dtype=np.float32))
    h0 = model.h.astype(np.float64)
    result = model.run(300.0)
    assert np.abs(model.h - h0).max() < 1e-6
    assert np.nanmax(result.max_velocity) < 1e-5


def test_unbalanced_bed_is_detected_by_the_rest_test() -> None:
    """The test above can fail: a surface 1 cm out of level on the same bed moves water at
    centimetres per second within a minute."""
    dem = _bed()
    wse = 1.0 + 0.01 * (np.arange(dem.shape[1]) > 25)
    model = FloodModel(dem, 2.0, initial_wse=np.broadcast_to(wse, dem.shape), scheme="full")
    result = model.run(60.0)
    assert np.nanmax(result.max_velocity) > 1e-2
