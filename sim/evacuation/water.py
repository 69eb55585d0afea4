"""Walking in water: the hazard of a depth and a flow speed for a profile, and the speed kept.

Two limits per profile make water impassable: a depth d_lim (still water) and a depth ×
velocity product (d·v)_lim (flowing water, where people are swept off their feet before the
water is deep). The hazard index is H = max(d / d_lim, d·v / (d·v)_lim); at H ≥ 1 a person
cannot walk there. The speed kept is 1 − H, linear in each: an adult (d_lim 0.5 m) walks at
half speed in 0.25 m of still water.

Depth limits follow Japanese guidance: Tokyo's disaster guidance takes knee depth (about
0.5 m) as the limit for walking; the Isewan typhoon survey found adults struggled above
0.3 m, the limit used for the elderly and people needing help. Depth × velocity limits:
Jonkman & Penning-Rowsell (2008, J. Am. Water Resour. Assoc. 44: 1208–1222) saw their adult
test subject lose his footing near d·v = 0.6 m²/s, at the low end of the adults tested in
Japan by Takahashi, Endoh & Muro (1992; 0.6–1.3 m²/s) and in the USA by Abt et al. (1989;
0.7–2.1 m²/s), as collected by Cox, Shand & Blacka (2010, Australian Rainfall & Runoff
Revision Project 10); the Australian floodway design limit of 0.4 m²/s, which Cox et al.
(2004) found does not keep small children or frail older people safe, is the default for
the elderly and people needing help.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.threading_layer import kernel_launch


@numba.njit(cache=True, inline="always")
def hazard(depth: float, speed: float, depth_limit: float, dv_limit: float) -> float:
    """H = max(d / d_lim, d·v / (d·v)_lim); impassable at H ≥ 1. NaN counts as dry and still."""
    if not depth > 0.0:
        return 0.0
    hz = depth / depth_limit
    if speed > 0.0:
        hz = max(hz, depth * speed / dv_limit)
    return hz


@numba.njit(cache=True, inline="always")
def water_factor(depth: float, speed: float, depth_limit: float, dv_limit: float) -> float:
    """Fraction of the free speed kept: 1 − H, 0 at or beyond the limit."""
    return max(1.0 - hazard(depth, speed, depth_limit, dv_limit), 0.0)


def water_factor_grid(depth: np.ndarray, depth_limit: float, speed: np.ndarray | None = None,
                      dv_limit: float = np.inf) -> np.ndarray:
    """``water_factor`` over grids (float32); NaN counts as dry and still."""
    d = np.nan_to_num(np.asarray(depth, dtype=np.float32), nan=0.0)
    h = d / np.float32(depth_limit)
    if speed is not None and np.isfinite(dv_limit):
        v = np.nan_to_num(np.asarray(speed, dtype=np.float32), nan=0.0)
        h = np.maximum(h, d * v / np.float32(dv_limit))
    return np.clip(1.0 - h, 0.0, 1.0).astype(np.float32)


@numba.njit(cache=True, parallel=True)
def blend_frames(a: np.ndarray, b: np.ndarray, w: float | np.floating) -> np.ndarray:
    """(1 − w)·a + w·b over two float32 grids of one shape, row by row on all threads: water
    read between two frames of a flood (numpy's three passes and two temporaries cost a city's
    25 M-cell grid about ten times as long)."""
    rows, cols = a.shape
    out = np.empty((rows, cols), dtype=np.float32)
    wa = np.float32(1.0 - w)
    wb = np.float32(w)
    for r in numba.prange(rows):
        for c in range(cols):
            out[r, c] = wa * a[r, c] + wb * b[r, c]
    return out


@numba.njit(cache=True, parallel=True)
def _unclean_cells(grid: np.ndarray, magnitude: bool) -> int:
    """How many cells of a float32 grid are NaN (or, for a ``magnitude``, negative)."""
    rows, cols = grid.shape
    bad = 0
    for r in numba.prange(rows):
        for c in range(cols):
            x = grid[r, c]
            if x != x or (magnitude and x < 0.0):
                bad += 1
    return bad


@numba.njit(cache=True, parallel=True)
def _cleaned(grid: np.ndarray, magnitude: bool) -> np.ndarray:
    rows, cols = grid.shape
    out = np.empty((rows, cols), dtype=np.float32)
    for r in numba.prange(rows):
        for c in range(cols):
            x = grid[r, c]
            out[r, c] = 0.0 if x != x else (abs(x) if magnitude else x)
    return out


def clean_grid(grid: np.ndarray, magnitude: bool = False) -> np.ndarray:
    """A contiguous float32 2-D grid with NaN as 0 (and, for a ``magnitude`` such as a flow
    speed, absolute values), copied only when it has to be: checked and copied row by row on
    all threads (numpy's NaN test and absolute value cost a city's 25 M-cell grid about 0.2 s
    a read)."""
    grid = np.ascontiguousarray(grid, dtype=np.float32)
    with kernel_launch():
        return _cleaned(grid, magnitude) if _unclean_cells(grid, magnitude) else grid


@numba.njit(cache=True, parallel=True)
def hazard_grid(depth: np.ndarray, flow: np.ndarray, depth_limit: float, dv_limit: float) -> np.ndarray:
    """``hazard`` over a float32 grid of depth without NaN (and of flow speed, or an empty
    grid for still water), in float32, row by row on all threads."""
    rows, cols = depth.shape
    out = np.empty((rows, cols), dtype=np.float32)
    ld = np.float32(depth_limit)
    lv = np.float32(dv_limit)
    moving = flow.size > 0
    for r in numba.prange(rows):
        for c in range(cols):
            d = depth[r, c]
            hz = d / ld
            if moving:
                hz = max(hz, d * flow[r, c] / lv)
            out[r, c] = hz
    return out
