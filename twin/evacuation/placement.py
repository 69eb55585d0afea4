"""Where a City's people start and where they walk: the walking grid, doors, shelters' cells.

The walking grid is the City's grid (``masks.tif`` band 1 as walls) cropped to the buildings
and the shelters near them plus a margin. Shelters snap to the nearest open cell; people
start at a random reachable cell next to their building's footprint.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage

from sim.evacuation.navigation import exit_fields
from twin.city.grids import CityGrids
from twin.city.walkable import streets
from twin.errors import TwinInputError


@dataclass
class Walkway:
    """The cropped walking grid: walls, transform, and the City it came from."""

    city: CityGrids
    walls: np.ndarray
    transform: Affine
    window: tuple[slice, slice]

    @property
    def cell(self) -> float:
        return float(self.transform.a)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = ~self.transform
        x, y = np.asarray(x, float), np.asarray(y, float)
        col, row = t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f
        return np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)

    def centre(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, c, r = self.transform, np.asarray(cols) + 0.5, np.asarray(rows) + 0.5
        return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f


def walkway(city: CityGrids, buildings: gpd.GeoDataFrame, sx: np.ndarray, sy: np.ndarray,
             margin: float) -> Walkway:
    """The City's grid cut to the buildings' extent plus ``margin`` (shelters nearby included)."""
    w, s, e, n = buildings.total_bounds if len(buildings) else (np.inf, np.inf, -np.inf, -np.inf)
    near = (sx >= w - margin) & (sx <= e + margin) & (sy >= s - margin) & (sy <= n + margin)
    if near.any():
        w, s = min(w, sx[near].min()), min(s, sy[near].min())
        e, n = max(e, sx[near].max()), max(n, sy[near].max())
    if not np.isfinite([w, s, e, n]).all():
        raise TwinInputError(f"{city.folder}: the City has no buildings to evacuate")
    t = city.terrain.transform
    rows, cols = city.terrain.shape
    r0, c0 = city.terrain.cell_of(w - margin, n + margin)
    r1, c1 = city.terrain.cell_of(e + margin, s - margin)
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1 + 1, rows), min(c1 + 1, cols)
    if r1 <= r0 or c1 <= c0:
        raise TwinInputError(f"{city.folder}: the buildings lie outside the City's terrain grid")
    window = (slice(r0, r1), slice(c0, c1))
    walls = city.blocked[window] >= 0.5
    return Walkway(city, np.ascontiguousarray(walls), t @ Affine.translation(c0, r0), window)


def inside(way: Walkway, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r, c = way.cell_of(x, y)
    return (r >= 0) & (r < way.walls.shape[0]) & (c >= 0) & (c < way.walls.shape[1])


def snap_exits(way: Walkway, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells people can reach (connected to a shelter) and each shelter's cell: the nearest street
    cell (``twin.city.walkable``: not a pocket between buildings) when its point is not on one."""
    open_ = ~way.walls
    if not open_.any():
        raise TwinInputError(f"{way.city.folder}: no walkable cell near the buildings")
    r, c = way.cell_of(x, y)
    _, (near_r, near_c) = ndimage.distance_transform_edt(~streets(way.walls, way.cell), return_indices=True)
    r, c = near_r[r, c], near_c[r, c]
    labels, _ = ndimage.label(open_)
    reach = np.isin(labels, labels[r, c]) & open_
    return reach, r, c


def doors(way: Walkway, buildings: gpd.GeoDataFrame, reach: np.ndarray, building_of: np.ndarray,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A start cell per agent: a random reachable cell next to its building's footprint, else the
    reachable cell nearest to the footprint's centroid; ``placed`` is False when even that fails."""
    shape = way.walls.shape
    shapes = [(g, i + 1) for i, g in enumerate(buildings.geometry) if g is not None and not g.is_empty]
    labels = rasterize(shapes, out_shape=shape, transform=way.transform, fill=0, dtype="int32") \
        if shapes else np.zeros(shape, np.int32)
    ring = np.zeros(shape, np.int32)
    padded = np.pad(labels, 1)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            ring = np.maximum(ring, padded[1 + dr:1 + dr + shape[0], 1 + dc:1 + dc + shape[1]])
    ring = np.where(reach, ring, 0)
    flat = np.flatnonzero(ring)
    order = flat[np.argsort(ring.ravel()[flat], kind="stable")]
    count = np.bincount(ring.ravel()[order], minlength=len(buildings) + 1)
    start = np.concatenate([[0], np.cumsum(count)])
    label = building_of + 1
    has_ring = count[label] > 0
    pick = start[label] + np.floor(rng.random(len(label)) * np.maximum(count[label], 1)).astype(np.int64)
    cells = np.where(has_ring, order[np.minimum(pick, max(len(order) - 1, 0))] if len(order) else 0, -1)
    rows, cols = np.divmod(cells, shape[1])
    if (~has_ring).any():
        centroids = buildings.geometry.centroid
        _, (near_r, near_c) = ndimage.distance_transform_edt(~reach, return_indices=True)
        cr, cc = way.cell_of(centroids.x.to_numpy()[building_of[~has_ring]], centroids.y.to_numpy()[building_of[~has_ring]])
        ok = (cr >= 0) & (cr < shape[0]) & (cc >= 0) & (cc < shape[1])
        fr = np.where(ok, near_r[np.clip(cr, 0, shape[0] - 1), np.clip(cc, 0, shape[1] - 1)], -1)
        fc = np.where(ok, near_c[np.clip(cr, 0, shape[0] - 1), np.clip(cc, 0, shape[1] - 1)], -1)
        rows[~has_ring], cols[~has_ring] = fr, fc
    placed = rows >= 0
    placed[placed] = reach[rows[placed], cols[placed]]
    return rows[placed], cols[placed], placed


def nearest_exit(way: Walkway, rows: np.ndarray, cols: np.ndarray, ex_rows: np.ndarray,
                  ex_cols: np.ndarray) -> np.ndarray:
    """Index of the shelter nearest (walking over dry ground) to each start cell."""
    nx = way.walls.shape[1]
    fields = exit_fields((~way.walls).astype(np.float64), [np.array([r * nx + c]) for r, c in zip(ex_rows, ex_cols)],
                         way.cell)
    return np.argmin(fields[:, rows, cols], axis=0) if len(rows) else np.zeros(0, np.int64)
