"""Manning friction acts on the whole discharge, whatever its direction on the grid."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim.flood import Boundaries, Boundary, FloodModel, Forcing, Rain, Series
from sim.flood.friction import inv_pow_7_3


@njit  # not cached: numba's cache would not see a change in the inlined friction module
def _powers(h):
    out = np.empty_like(h)
    for i in range(h.shape[0]):
        out[i] = inv_pow_7_3(h[i])
    return out


@pytest.mark.parametrize(("dtype", "tolerance"), [(np.float32, 2e-6), (np.float64, 3e-9)])
def test_the_friction_depth_power_is_exact_to_its_precision(dtype: type, tolerance: float) -> None:
    """h^(-7/3) by the bit-level inverse cube root, over depths from 10 µm to 100 m, against
    NumPy's power in float64: the cube root's relative error (measured 1.9e-7 in float32,
    3e-10 in float64 after three Newton steps) times 7 for the power, plus the rounding of its
    four products (4 ulp: 2.4e-7 in float32), bounds it; the kernels compute it in the grid's
    precision, so a float32 grid gets float32 lanes."""
    h = np.geomspace(1e-5, 100.0, 20001).astype(dtype)
    got = _powers(h)
    assert got.dtype == dtype
    exact = h.astype(np.float64) ** (-7 / 3)
    assert np.max(np.abs(got / exact - 1)) < tolerance


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["inertial", "full"])
@pytest.mark.parametrize("heading", [0.0, 45.0])
def test_rain_runoff_obeys_manning_along_any_heading(kind: str, heading: float) -> None:
    """100 mm/h for an hour on a 1 % plane tilted along a grid axis or along the diagonal: in
    the middle the runoff settles where friction balances the surface slope, so its discharge
    per unit width is Manning's for the local depth and surface gradient,
    |q| = h^(5/3) |∇η|^(1/2) / n, within 3 % (measured 0.99-0.997 for both schemes and both
    headings). Friction on one face component alone, as the inertial scheme had it, lets the
    diagonal flow run 2^(1/4) = 1.19 times too fast (measured 1.18)."""
    n, dx, slope, manning = 96, 2.0, 0.01, 0.03
    y, x = np.mgrid[0:n, 0:n] * dx
    t = np.radians(heading)
    dem = -slope * (x * np.cos(t) + y * np.sin(t))  # downhill to the east (and south)
    model = FloodModel(dem, dx, manning=manning, scheme=kind,
                       forcing=Forcing(rain=Rain(Series.constant(100.0)),
                                       boundaries=Boundaries(east=Boundary.open(), south=Boundary.open())))
    model.run(3600.0)
    qe, qs = model.solver.cell_discharges()
    eta = (model.z + model.h).astype(np.float64)
    gy, gx = np.gradient(eta, dx)
    mid = (slice(n // 2 - 6, n // 2 + 6),) * 2
    h = model.h[mid].astype(np.float64)
    ratio = np.hypot(qe[mid], qs[mid]) / (h ** (5 / 3) * np.sqrt(np.hypot(gx[mid], gy[mid])) / manning)
    assert abs(ratio.mean() - 1) < 0.03
    direction = np.degrees(np.arctan2(qs[mid].mean(), qe[mid].mean()))
    assert abs(direction - heading) < 1.0
