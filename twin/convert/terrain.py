"""The terrain grid: a DEM TIN rasterised exactly (linear inside each triangle) on a raster."""

from __future__ import annotations

import numba
import numpy as np
from affine import Affine
from scipy import ndimage


@numba.njit(cache=True)
def _rasterise(tri: np.ndarray, x0: float, y0: float, cell: float, out: np.ndarray) -> None:
    """Heights at cell centres inside each triangle (tri: (m, 3, 3) x, y, z in map units)."""
    rows, cols = out.shape
    for k in range(tri.shape[0]):
        ax, ay, az = tri[k, 0, 0], tri[k, 0, 1], tri[k, 0, 2]
        bx, by, bz = tri[k, 1, 0], tri[k, 1, 1], tri[k, 1, 2]
        cx, cy, cz = tri[k, 2, 0], tri[k, 2, 1], tri[k, 2, 2]
        det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(det) < 1e-12:
            continue
        c0 = max(int(np.floor((min(ax, bx, cx) - x0) / cell - 0.5)), 0)
        c1 = min(int(np.ceil((max(ax, bx, cx) - x0) / cell - 0.5)), cols - 1)
        r0 = max(int(np.floor((y0 - max(ay, by, cy)) / cell - 0.5)), 0)
        r1 = min(int(np.ceil((y0 - min(ay, by, cy)) / cell - 0.5)), rows - 1)
        for r in range(r0, r1 + 1):
            py = y0 - (r + 0.5) * cell
            for c in range(c0, c1 + 1):
                px = x0 + (c + 0.5) * cell
                l1 = ((by - cy) * (px - cx) + (cx - bx) * (py - cy)) / det
                l2 = ((cy - ay) * (px - cx) + (ax - cx) * (py - cy)) / det
                l3 = 1.0 - l1 - l2
                if l1 >= -1e-9 and l2 >= -1e-9 and l3 >= -1e-9:
                    out[r, c] = l1 * az + l2 * bz + l3 * cz


def rasterise_tin(triangles_xyz: np.ndarray, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Grid of TIN heights at cell centres; NaN where no triangle covers a centre.

    ``triangles_xyz`` is (m, 3, 3) in the grid's map coordinates (x east, y north, z).
    """
    out = np.full(shape, np.nan)
    _rasterise(np.ascontiguousarray(triangles_xyz, dtype=np.float64), transform.c, transform.f, transform.a, out)
    return out


def fill_gaps(grid: np.ndarray) -> tuple[np.ndarray, int]:
    """Fill NaN cells with the nearest known height; returns the grid and how many were filled."""
    missing = np.isnan(grid)
    count = int(missing.sum())
    if count == 0 or count == grid.size:
        return grid, count
    _, (rows, cols) = ndimage.distance_transform_edt(missing, return_indices=True)
    return grid[rows, cols], count
