"""Walking distance to the nearest flood shelter over a City's walkable grid.

The walkable grid is the City's raster with building cells (``masks.tif`` band 1) as walls.
One fast-marching pass (``sim.evacuation.navigation.fast_marching``, Sethian 1996) from every
flood shelter gives the travel distance field to the nearest one; the steepest descent of that
field over the 8 neighbours leads from a place to the shelter, and is pulled taut (a corner is
kept only where the straight line to the next one would cross a building).

The distance shown is the length of the route drawn: the tapped point → its cell's centre →
the taut corners → the shelter's cell → the shelter itself. A shelter inside a building (a
school) is reached from the nearest street cell, up to ``SHELTER_SNAP_M`` away, and that last leg
counts; so does the first leg from a point tapped on a roof. Shelters join the streets, not the
pockets between buildings that lead nowhere (``twin.city.walkable``). A polyline from the point to the
shelter is never shorter than the straight line between them (the triangle inequality), so
the walk never is either.

A shelter outside the walkable grid (or in a solid block of buildings) has no walk; it is still
offered, with its straight-line distance, the lower bound of any walk to it. The default walking
speed is 1.0 m/s, the Japanese planning speed on foot (Miyagi tsunami evacuation guideline; see
REFERENCES.md "Evacuation").
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
from twin.city.walkable import entrance, streets
from twin.lonlat import from_lonlat, to_lonlat

WALKING_SPEED_M_S = 1.0
#: How far (m) a tapped point may be moved to the nearest open cell (off a roof into the street).
TAP_SNAP_M = 60.0
#: How far (m) a shelter point may lie from the street it is entered from (the middle of a school
#: 200 m long is 100 m from its walls).
SHELTER_SNAP_M = 100.0
#: How many shelters outside the walkable grid an answer lists at most.
OFF_GRID_LISTED = 3


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
    """A shelter as seen from a place: along the streets (``route`` and ``distance_m``) or, for a
    shelter outside the walkable grid, only as the crow flies (``route`` and ``distance_m`` None)."""

    shelter: Shelter
    distance_m: float | None
    straight_m: float
    route: list[tuple[float, float]] | None  # lon/lat from the point to the shelter

    @property
    def walked(self) -> bool:
        return self.route is not None


def shelters_of(table: pd.DataFrame) -> list[Shelter]:
    """Shelters from a shelter table (``twin.city.shelters``: flood shelters only)."""
    return [Shelter(id=str(r.shelter_id), name=str(r.name), name_en=r.name_en if isinstance(r.name_en, str) else None,
                    lon=float(r.lon), lat=float(r.lat),
                    capacity=int(r.capacity) if np.isfinite(r.capacity) else None)
            for r in table.itertuples(index=False)]


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
def line_is_open(walls: np.ndarray, r0: int, c0: int, r1: int, c1: int) -> bool:
    """Whether the segment between two cell centres touches only open cells (every cell it passes
    through; where it passes exactly through a corner, both cells beside the corner)."""
    dr, dc = r1 - r0, c1 - c0
    sr = 1 if dr > 0 else -1
    sc = 1 if dc > 0 else -1
    ar, ac = abs(dr), abs(dc)
    r, c = r0, c0
    # Walk cell to cell (Amanatides & Woo 1987) in integer arithmetic: ``err`` compares how far
    # the line is from crossing the next row boundary against the next column boundary.
    err = ac - ar
    while not (r == r1 and c == c1):
        if walls[r, c]:
            return False
        if err > 0:
            err -= 2 * ar
            c += sc
        elif err < 0:
            err += 2 * ac
            r += sr
        else:  # through a corner: both cells beside it must be open, then step diagonally
            if walls[r + sr, c] or walls[r, c + sc]:
                return False
            err += 2 * (ac - ar)
            r += sr
            c += sc
    return not walls[r1, c1]


@numba.njit(cache=True, nogil=True)
def pull_taut(walls: np.ndarray, path: np.ndarray) -> np.ndarray:
    """The corners of ``path`` a taut string keeps: from each kept cell, the farthest cell of the
    path still in a straight open line (greedy line-of-sight smoothing); first and last kept."""
    n = path.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    keep[0] = True
    keep[n - 1] = True
    anchor = 0
    j = 2
    while j < n:
        if not line_is_open(walls, path[anchor, 0], path[anchor, 1], path[j, 0], path[j, 1]):
            anchor = j - 1
            keep[anchor] = True
        j += 1
    return path[keep]


def travel_distance(walls: np.ndarray, sources: list[tuple[int, int]], cell_size: float) -> np.ndarray:
    """Distance (m) from the nearest source over open cells; inf in walls and cut-off pockets."""
    speed = np.where(walls, 0.0, 1.0)
    flat = np.array([r * walls.shape[1] + c for r, c in sources], dtype=np.int64)
    return fast_marching(speed, flat, float(cell_size))  # its kernel runs without the GIL: the server keeps serving


def polyline_length(xy: np.ndarray) -> float:
    """Length (m) of a polyline of map points."""
    return float(np.hypot(*np.diff(xy, axis=0).T).sum())


class ShelterWalk:
    """A City's travel-distance field from all its flood shelters, and nearest-shelter queries."""

    def __init__(self, walls: np.ndarray, transform: Affine, crs: CRS, shelters: list[Shelter]) -> None:
        self.walls = walls
        self.transform = transform
        self.cell_size = float(transform.a)
        self._to_map = from_lonlat(crs)
        self._to_lonlat = to_lonlat(crs)
        self.shelters = list(shelters)
        self.open = ~walls
        self.streets = streets(walls, self.cell_size)
        self._at: dict[tuple[int, int], list[Shelter]] = {}  # source cell → the shelters reached there
        self.off_grid: list[Shelter] = []
        shelter_snap = math.ceil(SHELTER_SNAP_M / self.cell_size)
        for shelter in shelters:
            cell = self.cell_of(shelter.lon, shelter.lat)
            snapped = entrance(self.streets, *cell, shelter_snap) if cell is not None else None
            if snapped is None:
                self.off_grid.append(shelter)
            else:
                self._at.setdefault(snapped, []).append(shelter)
        self.distance = (travel_distance(walls, list(self._at), self.cell_size) if self._at
                         else np.full(walls.shape, np.inf))

    @classmethod
    def of_city(cls, city: CityFolder) -> ShelterWalk:
        """From a City: its building mask as walls and its flood shelters (none when it has no list)."""
        transform, crs = city.mask_grid()
        shelters = shelters_of(city_shelters(city)) if city.has("shelters") else []
        return cls(city.masks()["buildings"], transform, crs, shelters)

    def map_xy(self, lon: float, lat: float) -> tuple[float, float] | None:
        """Map metres of lon/lat, or None where the projection is undefined (far outside its zone)."""
        x, y = self._to_map.transform(lon, lat)
        return (x, y) if math.isfinite(x) and math.isfinite(y) else None

    def cell_of(self, lon: float, lat: float) -> tuple[int, int] | None:
        """The grid cell holding lon/lat, or None outside the grid (or the projection)."""
        xy = self.map_xy(lon, lat)
        if xy is None:
            return None
        col, row = ~self.transform @ xy
        if not (math.isfinite(row) and math.isfinite(col)):
            return None
        r, c = math.floor(row), math.floor(col)
        return (r, c) if 0 <= r < self.walls.shape[0] and 0 <= c < self.walls.shape[1] else None

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north (degrees) of the grid's corners."""
        rows, cols = self.walls.shape
        xs, ys = self._centres(np.array([0, 0, rows, rows]) - 0.5, np.array([0, cols, 0, cols]) - 0.5)
        lons, lats = self._to_lonlat.transform(xs, ys)
        return float(min(lons)), float(min(lats)), float(max(lons)), float(max(lats))

    def start_cell(self, lon: float, lat: float) -> tuple[int, int] | None:
        """The open cell a walk from lon/lat starts at (off a roof, out of a pocket between
        buildings to the street), None when no shelter is reachable from there."""
        cell = self.cell_of(lon, lat)
        if cell is None:
            return None
        snap = math.ceil(TAP_SNAP_M / self.cell_size)
        start = entrance(self.open, *cell, snap)
        if start is None or not np.isfinite(self.distance[start]):  # a pocket between buildings:
            start = entrance(self.streets, *cell, snap)  # out through the nearest building to the street
        return start if start is not None and np.isfinite(self.distance[start]) else None

    def distances_to_each(self, starts: list[tuple[int, int] | None]) -> tuple[list[Shelter], np.ndarray]:
        """The walked shelters and the distance (m over the grid, inf: none) from each start cell
        to each of them, shape (starts, shelters): one fast-marching pass per shelter entrance."""
        shelters = [s for group in self._at.values() for s in group]
        out = np.full((len(starts), len(shelters)), np.inf)
        placed = [i for i, cell in enumerate(starts) if cell is not None]
        rows, cols = np.array([c for c in starts if c is not None], np.int64).reshape(-1, 2).T
        column = 0
        for source, group in self._at.items():
            field = travel_distance(self.walls, [source], self.cell_size)
            out[placed, column:column + len(group)] = field[rows, cols][:, None]
            column += len(group)
        return shelters, out

    def nearest(self, lon: float, lat: float) -> WalkAnswer | None:
        """The flood shelter nearest on foot from lon/lat, or None when none is reachable."""
        start = self.start_cell(lon, lat)
        if start is None:
            return None
        path = descend(self.distance, *start)
        end = (int(path[-1, 0]), int(path[-1, 1]))
        if end not in self._at:
            return None  # the descent stalled short of a source (cannot happen on a fast-marching field)
        corners = pull_taut(self.walls, path)
        cx, cy = self._centres(corners[:, 0], corners[:, 1])
        here = np.asarray(self.map_xy(lon, lat))
        shelter, there = self._closest(self._at[end], cx[-1], cy[-1])
        xy = np.vstack([here, np.column_stack([cx, cy]), there])
        lons, lats = self._to_lonlat.transform(xy[1:-1, 0], xy[1:-1, 1])
        route = [(lon, lat), *zip(np.round(lons, 7).tolist(), np.round(lats, 7).tolist()),
                 (shelter.lon, shelter.lat)]
        return WalkAnswer(shelter=shelter, distance_m=polyline_length(xy),
                          straight_m=float(np.hypot(*(there - here))),
                          route=[(float(a), float(b)) for a, b in route])

    def off_grid_nearer(self, lon: float, lat: float, than_m: float | None) -> list[WalkAnswer]:
        """Shelters outside the walkable grid closer in a straight line than ``than_m`` (any when
        None), nearest first, at most ``OFF_GRID_LISTED``."""
        here = self.map_xy(lon, lat)
        if here is None or not self.off_grid:
            return []
        answers = []
        for shelter in self.off_grid:
            there = self.map_xy(shelter.lon, shelter.lat)
            if there is None:
                continue
            straight = math.dist(here, there)
            if than_m is None or straight < than_m:
                answers.append(WalkAnswer(shelter=shelter, distance_m=None, straight_m=straight, route=None))
        return sorted(answers, key=lambda a: a.straight_m)[:OFF_GRID_LISTED]

    def _centres(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates of the centres of cells (rows, cols)."""
        t = self.transform
        c, r = cols + 0.5, rows + 0.5
        return t.a * c + t.b * r + t.c, t.d * c + t.e * r + t.f

    def _closest(self, shelters: list[Shelter], x: float, y: float) -> tuple[Shelter, np.ndarray]:
        """Of the shelters snapped to one cell, the one closest to (x, y), and its map point."""
        points = [np.asarray(self._to_map.transform(s.lon, s.lat)) for s in shelters]
        k = int(np.argmin([math.dist(p, (x, y)) for p in points]))
        return shelters[k], points[k]
