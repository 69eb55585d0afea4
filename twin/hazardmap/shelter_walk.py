"""Walking distance to the nearest flood shelter over a City's walkable grid.

The walkable grid is the City's raster with building cells (``masks.tif`` band 1) as walls.
One fast-marching pass (``sim.evacuation.navigation.fast_marching``, Sethian 1996) from every
flood shelter gives the travel distance field to the nearest one; a route is the steepest
descent of that field over the 8 neighbours, which ends at the shelter it leads to. The
default walking speed is 1.0 m/s, the Japanese planning speed on foot (Miyagi tsunami
evacuation guideline; see REFERENCES.md "Evacuation").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import CRS

from sim.evacuation.navigation import fast_marching
from twin.city.layout import CityFolder
from twin.city.shelters import city_shelters
from twin.lonlat import from_lonlat, to_lonlat

WALKING_SPEED_M_S = 1.0
#: How far (cells) a shelter or a tapped point may be snapped to the nearest open cell.
SNAP_CELLS = 30


@dataclass(frozen=True)
class Shelter:
    id: str
    name: str
    name_en: str | None
    lon: float
    lat: float
    capacity: int | None


@dataclass(frozen=True)
class WalkAnswer:
    shelter: Shelter
    distance_m: float
    straight_m: float
    route: list[tuple[float, float]]  # lon/lat from the point to the shelter


def shelters_of(table: pd.DataFrame) -> list[Shelter]:
    """Shelters from a shelter table (``twin.city.shelters``: flood shelters only)."""
    return [Shelter(id=str(r.shelter_id), name=str(r.name), name_en=r.name_en if isinstance(r.name_en, str) else None,
                    lon=float(r.lon), lat=float(r.lat),
                    capacity=int(r.capacity) if np.isfinite(r.capacity) else None)
            for r in table.itertuples(index=False)]


def nearest_open(walls: np.ndarray, r: int, c: int, radius: int = SNAP_CELLS) -> tuple[int, int] | None:
    """The open cell nearest to (r, c) within ``radius`` cells, or None."""
    if not walls[r, c]:
        return r, c
    r0, c0 = max(r - radius, 0), max(c - radius, 0)
    window = walls[r0:r + radius + 1, c0:c + radius + 1]
    rows, cols = np.nonzero(~window)
    if rows.size == 0:
        return None
    k = int(np.argmin((rows + r0 - r) ** 2 + (cols + c0 - c) ** 2))
    return int(rows[k] + r0), int(cols[k] + c0)


@numba.njit(cache=True, nogil=True)
def descend(t: np.ndarray, r: int, c: int) -> np.ndarray:
    """Cells (row, col) from (r, c) down ``t`` to a zero (a source), never cutting a wall corner."""
    ny, nx = t.shape
    path = np.empty((ny * nx, 2), dtype=np.int64)
    n = 0
    path[n, 0], path[n, 1] = r, c
    n += 1
    while t[r, c] > 0.0 and n < ny * nx:
        best, br, bc = t[r, c], -1, -1
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                rr, cc = r + dr, c + dc
                if (dr == 0 and dc == 0) or rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                    continue
                if dr != 0 and dc != 0 and not (np.isfinite(t[r, cc]) and np.isfinite(t[rr, c])):
                    continue
                if t[rr, cc] < best:
                    best, br, bc = t[rr, cc], rr, cc
        if br < 0:
            break
        r, c = br, bc
        path[n, 0], path[n, 1] = r, c
        n += 1
    return path[:n]


@numba.njit(cache=True, nogil=True)
def _fast_marching_nogil(speed: np.ndarray, sources: np.ndarray, cell_size: float) -> np.ndarray:
    # The same kernel without the GIL, so that a server thread computing a field keeps serving.
    return fast_marching(speed, sources, cell_size)


def travel_distance(walls: np.ndarray, sources: list[tuple[int, int]], cell_size: float) -> np.ndarray:
    """Distance (m) from the nearest source over open cells; inf in walls and cut-off pockets."""
    speed = np.where(walls, 0.0, 1.0)
    flat = np.array([r * walls.shape[1] + c for r, c in sources], dtype=np.int64)
    return _fast_marching_nogil(speed, flat, float(cell_size))


class ShelterWalk:
    """A City's travel-distance field from all its flood shelters, and nearest-shelter queries."""

    def __init__(self, walls: np.ndarray, transform: Affine, crs: CRS, shelters: list[Shelter]) -> None:
        self.walls = walls
        self.transform = transform
        self.cell_size = float(transform.a)
        self._to_map = from_lonlat(crs)
        self._to_lonlat = to_lonlat(crs)
        self.shelters: list[Shelter] = []
        self._cells: dict[tuple[int, int], Shelter] = {}
        for shelter in shelters:
            cell = self.cell_of(shelter.lon, shelter.lat)
            snapped = nearest_open(walls, *cell) if cell is not None else None
            if snapped is not None and snapped not in self._cells:
                self._cells[snapped] = shelter
                self.shelters.append(shelter)
        self.distance = (travel_distance(walls, list(self._cells), self.cell_size) if self._cells
                         else np.full(walls.shape, np.inf))

    @classmethod
    def of_city(cls, city: CityFolder) -> ShelterWalk:
        """From a City: its building mask as walls and its flood shelters (none when it has no list)."""
        transform, crs = city.mask_grid()
        shelters = shelters_of(city_shelters(city)) if city.has("shelters") else []
        return cls(city.masks()["buildings"], transform, crs, shelters)

    def cell_of(self, lon: float, lat: float) -> tuple[int, int] | None:
        """The grid cell holding lon/lat, or None outside the grid."""
        x, y = self._to_map.transform(lon, lat)
        col, row = ~self.transform @ (x, y)
        r, c = math.floor(row), math.floor(col)
        return (r, c) if 0 <= r < self.walls.shape[0] and 0 <= c < self.walls.shape[1] else None

    def nearest(self, lon: float, lat: float) -> WalkAnswer | None:
        """The flood shelter nearest on foot from lon/lat, or None when none is reachable."""
        cell = self.cell_of(lon, lat)
        start = nearest_open(self.walls, *cell) if cell is not None else None
        if start is None or not np.isfinite(self.distance[start]):
            return None
        path = descend(self.distance, *start)
        shelter = self._cells.get((int(path[-1, 0]), int(path[-1, 1])))
        if shelter is None:
            return None
        x, y = self._to_map.transform(lon, lat)
        cx, cy = self.transform @ (start[1] + 0.5, start[0] + 0.5)
        sx, sy = self._to_map.transform(shelter.lon, shelter.lat)
        distance = float(self.distance[start]) + math.hypot(x - cx, y - cy)
        return WalkAnswer(shelter=shelter, distance_m=distance, straight_m=math.hypot(sx - x, sy - y),
                          route=self._route(lon, lat, path, shelter))

    def _route(self, lon: float, lat: float, path: np.ndarray, shelter: Shelter) -> list[tuple[float, float]]:
        """The descent path as lon/lat, straight runs merged (a few dozen points, not every cell)."""
        keep = np.ones(len(path), bool)
        if len(path) > 2:
            step = np.diff(path, axis=0)
            keep[1:-1] = np.any(step[1:] != step[:-1], axis=1)  # only where the direction changes
        xs, ys = self.transform @ (path[keep, 1] + 0.5, path[keep, 0] + 0.5)
        lons, lats = self._to_lonlat.transform(xs, ys)
        points = [(lon, lat), *zip(np.round(lons, 7).tolist(), np.round(lats, 7).tolist()), (shelter.lon, shelter.lat)]
        return [(float(a), float(b)) for a, b in points]
