"""A lake at rest stays at rest: uneven bed, dry islands, walls, raised and partly blocked cells."""

from __future__ import annotations

import numpy as np
import pytest

from sim.flood import FloodModel, Scheme


def _bed(ny: int = 40, nx: int = 50) -> np.ndarray:
    y, x = np.mgrid[0:ny, 0:nx]
    return 2.0 * np.sin(x / 5.0) * np.cos(y / 7.0) + 0.01 * x  # peaks above the lake: islands


def _buildings(shape: tuple[int, int]) -> np.ndarray:
    blocked = np.zeros(shape)
    blocked[10:15, 10:20] = 1.0  # a building standing in the water
    blocked[25:28, 30:33] = 0.4  # partly blocked cells (porosity 0.6)
    return blocked


@pytest.mark.parametrize("buildings", ["walls", "raised"])
def test_lake_at_rest_stays_at_rest_float64(buildings: str) -> None:
    """Over 1,000+ steps levels and fluxes stay at round-off (float64: 1e-12 m, 1e-12 m²/s).

    η = z + (η0 − z) differs from η0 by an ulp, so the surface slope the scheme sees is ~1e-16
    and a stable scheme keeps it there; an unstable one grows it to metres within 100 steps.
    """
    dem = _bed()
    model = FloodModel(dem, 2.0, blocked=_buildings(dem.shape), buildings=buildings, initial_wse=1.0,
                       manning=0.03)
    island = (model.z > 1.0) & (model.raster.phi > 0)
    assert island.sum() > 50 and (model.h[~island & (model.raster.phi > 0)] > 0).all()
    h0 = model.h.copy()
    result = model.run(300.0)
    assert result.steps > 1000
    assert np.abs(model.h - h0).max() < 1e-12
    assert np.abs(model.solver.qx).max() < 1e-12 and np.abs(model.solver.qy).max() < 1e-12
    assert np.nanmax(result.max_velocity) < 1e-10
    assert (model.h[island] == 0).all()
    assert result.mass.error_rel < 1e-13


def test_lake_at_rest_float32() -> None:
    """In float32 the round-off of η is ~1e-7 m on 1-3 m; levels stay within 1e-5 m."""
    dem = _bed()
    model = FloodModel(dem, 2.0, blocked=_buildings(dem.shape), initial_wse=1.0,
                       scheme=Scheme(dtype=np.float32))
    h0 = model.h.astype(np.float64)
    model.run(300.0)
    assert np.abs(model.h - h0).max() < 1e-5


def test_unstable_step_is_detected_by_the_rest_test() -> None:
    """The test above can fail: α = 0.9 with θ = 0.7 is beyond the 2-D stability limit and the
    round-off grows to visible motion."""
    dem = np.zeros((30, 30))
    model = FloodModel(dem, 2.0, initial_wse=1.0 + 1e-9 * np.random.default_rng(0).standard_normal((30, 30)),
                       manning=0.0, scheme=Scheme(theta=0.7, cfl=0.9))
    model.run(200.0)
    assert np.abs(model.h - 1.0).max() > 1e-3
