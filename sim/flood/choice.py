"""Which scheme a run needs: the full shallow water equations where the flow is fast, the local
inertial ones where it is slow.

The local inertial equations drop advection; de Almeida & Bates (2013, Water Resour. Res.
49:4833-4844) find them accurate up to a Froude number of about 0.5. Above it, and on fronts
running over dry ground (where the Froude number grows without bound), they lag: our Ritter
test's inertial front runs at a third of the true speed. So ``auto`` picks the full scheme
when the run starts with water that is not at rest (a dam break) or feeds water in fast
enough to make such flow (a breach), and the inertial scheme (several times faster per
cell-step) for rain and gentle inflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sim.errors import SimInputError
from sim.flood.analytic import stoker_plateau_celerity
from sim.flood.forcing import Forcing

SchemeKind = Literal["inertial", "full"]

FROUDE_LIMIT = 0.5  # de Almeida & Bates (2013): the local inertial equations hold below it
FAST_UNIT_DISCHARGE = 1.0  # m²/s: an inflow this strong sends a front over dry ground (a breach)
FILM_DEPTH = 0.01  # m: thinner water does not count as a dam break
SLOPE_FLOOR = 1e-3  # the terrain slope assumed around an inflow on flat ground
SLOPE_WINDOW = 5  # cells each side of an inflow over which the terrain slope is averaged


@dataclass(frozen=True)
class SchemeChoice:
    """The scheme ``auto`` picked and why, in one line."""

    kind: SchemeKind
    reason: str


def choose_scheme(dem: np.ndarray, cell_size: float, forcing: Forcing, *, manning: float | np.ndarray = 0.03,
                  initial_depth: float | np.ndarray | None = None, initial_wse: float | np.ndarray | None = None,
                  walls: np.ndarray | None = None, gravity: float = 9.81) -> SchemeChoice:
    """The scheme for a run on ``dem`` (row 0 north, square cells of ``cell_size`` m, ``walls``
    a mask of cells water cannot enter): ``full`` for a dam break (initial water whose surface
    steps into a wave of Froude number >= 0.5, or onto dry ground) or a fast inflow (unit
    discharge >= 1 m²/s, or normal flow of Froude number >= 0.5 on the terrain around it);
    ``inertial`` otherwise."""
    dem = np.asarray(dem, dtype=np.float64)
    if dem.ndim != 2 or not np.all(np.isfinite(dem)):
        raise SimInputError("the DEM must be a finite 2D grid")
    depth = _initial_depth(dem, initial_depth, initial_wse)
    if depth is not None:
        open_ = np.ones(dem.shape, bool) if walls is None else ~np.asarray(walls, bool)
        dam = _dam_break(dem, depth, open_, gravity)
        if dam is not None:
            return dam
    n = np.broadcast_to(np.asarray(manning, dtype=np.float64), dem.shape)
    fastest: tuple[float, str] | None = None
    for inflow in forcing.inflows:
        q = float(np.max(inflow.m3_per_s.values)) / (inflow.rows.size * cell_size)
        if q <= 0:
            continue
        if q >= FAST_UNIT_DISCHARGE:
            return SchemeChoice("full", f"full: inflow {inflow.name!r} peaks at {q:.2g} m²/s per metre of its "
                                        f"width, a front racing over dry ground (a breach)")
        froude = _normal_froude(q, _slope_around(dem, cell_size, inflow.rows, inflow.cols),
                                float(np.mean(n[inflow.rows, inflow.cols])), gravity)
        if fastest is None or froude > fastest[0]:
            fastest = (froude, inflow.name)
    if fastest is not None and fastest[0] >= FROUDE_LIMIT:
        return SchemeChoice("full", f"full: inflow {fastest[1]!r} makes flow at Froude {fastest[0]:.2f} on the "
                                    f"terrain around it, beyond the local inertial limit of {FROUDE_LIMIT}")
    if fastest is not None:
        return SchemeChoice("inertial", f"inertial: the fastest inflow ({fastest[1]!r}) makes slow flow "
                                        f"(Froude {fastest[0]:.2f} < {FROUDE_LIMIT}), which the local inertial "
                                        f"scheme resolves several times faster")
    what = "rain only" if forcing.rain is not None else "no inflow and no dam break"
    return SchemeChoice("inertial", f"inertial: {what}: slow, friction-dominated flow that the local inertial "
                                    f"scheme resolves several times faster")


def _initial_depth(dem: np.ndarray, depth: float | np.ndarray | None,
                   wse: float | np.ndarray | None) -> np.ndarray | None:
    if depth is not None:
        return np.broadcast_to(np.asarray(depth, dtype=np.float64), dem.shape)
    if wse is not None:
        return np.maximum(np.broadcast_to(np.asarray(wse, dtype=np.float64), dem.shape) - dem, 0.0)
    return None


def _dam_break(dem: np.ndarray, depth: np.ndarray, open_: np.ndarray, g: float) -> SchemeChoice | None:
    """The full scheme if some face between open cells has water on one side standing higher
    than the other's surface, deep enough to flow (> 1 cm over the higher bed), making a fast
    wave."""
    eta = dem + depth
    worst: tuple[float, float, float, tuple[int, int]] | None = None
    for axis in (0, 1):
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        lo[axis] = slice(None, -1)
        hi[axis] = slice(1, None)
        e1, e2 = eta[tuple(lo)], eta[tuple(hi)]
        z_top = np.maximum(dem[tuple(lo)], dem[tuple(hi)])
        h_up = np.maximum(e1, e2) - z_top  # the water that can flow over the face
        h_down = np.maximum(np.minimum(e1, e2) - z_top, 0.0)
        steps = np.where((h_up > FILM_DEPTH) & open_[tuple(lo)] & open_[tuple(hi)], h_up - h_down, 0.0)
        k = int(np.argmax(steps))
        if steps.flat[k] > 0 and (worst is None or steps.flat[k] > worst[0]):
            worst = (float(steps.flat[k]), float(h_up.flat[k]), float(h_down.flat[k]),
                     (int(k // steps.shape[1]), int(k % steps.shape[1])))
    if worst is None:
        return None
    step, up, down, (row, col) = worst
    if down <= 0:
        return SchemeChoice("full", f"full: the initial water stands {step:.2g} m above dry ground at row {row}, "
                                    f"col {col} (a dam break: its front runs at Froude → ∞)")
    cm = stoker_plateau_celerity(up, down, g)
    froude = 2 * (np.sqrt(g * up) - cm) / cm  # Stoker's plateau: u = 2 (c_up - c_m), c = c_m
    if froude < FROUDE_LIMIT:
        return None
    return SchemeChoice("full", f"full: the initial water steps {step:.2g} m at row {row}, col {col} (a dam break "
                                f"whose wave runs at Froude {froude:.2f})")


def _slope_around(dem: np.ndarray, cell_size: float, rows: np.ndarray, cols: np.ndarray) -> float:
    """Mean terrain gradient magnitude within ``SLOPE_WINDOW`` cells of the given cells."""
    r0, r1 = max(int(rows.min()) - SLOPE_WINDOW, 0), int(rows.max()) + SLOPE_WINDOW + 1
    c0, c1 = max(int(cols.min()) - SLOPE_WINDOW, 0), int(cols.max()) + SLOPE_WINDOW + 1
    window = dem[r0:r1, c0:c1]
    if min(window.shape) < 2:
        return SLOPE_FLOOR
    gy, gx = np.gradient(window, cell_size)
    return max(float(np.mean(np.hypot(gx, gy))), SLOPE_FLOOR)


def _normal_froude(q: float, slope: float, n: float, g: float) -> float:
    """Froude number of uniform (Manning) flow of unit discharge ``q`` down ``slope``:
    h = (q n / sqrt(S))^(3/5), Fr = q / (h sqrt(g h)); no friction means no normal depth (∞)."""
    if n <= 0:
        return np.inf
    h = (q * n / np.sqrt(slope)) ** 0.6
    return q / (h * np.sqrt(g * h))
