"""A City's grids as one object: terrain, blocked (building) and road fractions, and its buildings.

The flood and the evacuation run on these. ``load_grids`` reads them through the City's layout
on its own cells, or coarsened by whole blocks (block means of heights and fractions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from pyproj import CRS
from rasterio.features import rasterize

from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.files.rasters import Grid
from twin.lonlat import from_lonlat, to_lonlat


@dataclass
class CityGrids:
    """A City's grids for a simulation: terrain, blocked fraction, road fraction, buildings (local CRS)."""

    city: CityFolder
    terrain: Grid
    blocked: np.ndarray  # blocked fraction 0..1 (1 = wall)
    roads: np.ndarray  # road fraction 0..1
    buildings: gpd.GeoDataFrame  # footprints in the local CRS
    crs: CRS

    @property
    def folder(self) -> Path:
        return self.city.path

    @property
    def id(self) -> str:
        return self.city.id

    def lonlat_to_map(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return from_lonlat(self.crs).transform(lon, lat)

    def map_to_lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return to_lonlat(self.crs).transform(x, y)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.terrain.shape
        t = self.terrain.transform
        xs = [t.c, t.c + cols * t.a]
        ys = [t.f + rows * t.e, t.f]
        lon, lat = self.map_to_lonlat(np.array([xs[0], xs[1], xs[0], xs[1]]), np.array([ys[0], ys[0], ys[1], ys[1]]))
        return min(lon), min(lat), max(lon), max(lat)


def load_grids(folder: Path | CityFolder, cell_size: float | None = None) -> CityGrids:
    """The City at ``folder`` on its own grid, or coarsened by whole blocks to ``cell_size``."""
    city = folder if isinstance(folder, CityFolder) else CityFolder.open(folder)
    terrain = city.terrain()
    masks = city.masks()
    blocked = masks["buildings"].astype(np.float64)
    roads = masks["roads"].astype(np.float64)
    crs = city.local_crs
    if cell_size is not None:
        terrain, blocked, roads = _coarsened(terrain, blocked, roads, cell_size, city.path)
    if not np.all(np.isfinite(terrain.data)):
        raise TwinInputError(f"{city.require('terrain')}: the terrain has nodata cells; a flood needs them filled")
    return CityGrids(city=city, terrain=terrain, blocked=blocked, roads=roads, buildings=city.buildings(crs), crs=crs)


def _coarsened(terrain: Grid, blocked: np.ndarray, roads: np.ndarray, cell_size: float,
               folder: Path) -> tuple[Grid, np.ndarray, np.ndarray]:
    """Block means over k × k cells (edge cells that do not fill a block are dropped)."""
    k = cell_size / terrain.cell_size
    if not math.isfinite(k) or k < 1 or abs(k - round(k)) > 1e-6:
        raise TwinInputError(f"--cell-size {cell_size:g}: must be a whole multiple of the City's "
                             f"{terrain.cell_size:g} m cells ({folder})")
    k = int(round(k))
    if k > min(terrain.shape):
        raise TwinInputError(f"--cell-size {cell_size:g}: larger than the City's grid ({folder})")
    if k == 1:
        return terrain, blocked, roads
    rows, cols = terrain.shape[0] // k, terrain.shape[1] // k

    def mean(a: np.ndarray) -> np.ndarray:
        return a[:rows * k, :cols * k].reshape(rows, k, cols, k).mean(axis=(1, 3))

    t = terrain.transform
    grid = Grid(mean(terrain.data), Affine(t.a * k, 0, t.c, 0, t.e * k, t.f), terrain.crs)
    return grid, mean(blocked), mean(roads)


def footprint_labels(buildings: gpd.GeoDataFrame, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """Per cell, 1 + the row of the building whose footprint covers its centre (0: none); a building
    too small to cover a centre gets the cell under its centroid when that is on the grid."""
    rows, cols = shape
    geoms = buildings.geometry
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    labels = (rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")
              if shapes else np.zeros(shape, np.int32))
    present = np.zeros(len(geoms) + 1, bool)
    present[np.unique(labels)] = True
    for i in np.flatnonzero(~present[1:]):
        g = geoms.iloc[i]
        if g is None or g.is_empty:
            continue
        c = g.centroid
        col, row = ~transform @ (c.x, c.y)
        r, k = math.floor(row), math.floor(col)
        if 0 <= r < rows and 0 <= k < cols:
            labels[r, k] = i + 1
    return labels

