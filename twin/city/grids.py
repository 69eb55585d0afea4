"""A City's grids as one object: terrain, blocked (building), road, water and bridge-deck fractions,
land-use roughness, where the terrain is estimated, and its buildings.

The flood and the evacuation run on these. ``load_grids`` reads them through the City's layout
on its own cells, or coarsened by whole blocks (block means of heights, fractions and roughness).
A flood needs measured terrain: ``require_measured_terrain`` refuses a City whose grid is partly
estimated (from its buildings' ground heights) unless the user allows it.
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

from twin.city.layout import ESTIMATED_SOURCES, CityFolder
from twin.errors import TwinInputError
from twin.files.rasters import Grid, read_grid
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
    water: np.ndarray | None = None  # water-body fraction 0..1 (rivers, ponds); None: the City has no band
    bridges: np.ndarray | None = None  # bridge-deck fraction 0..1 (passable over the water below)
    roughness: np.ndarray | None = None  # Manning's n from land use, NaN where none; None without land use
    estimated_share: float | None = None  # share of the terrain cells estimated, not measured (None: unknown)

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
    layers = {name: masks[name].astype(np.float64) for name in ("buildings", "roads", "water", "bridges")}
    if city.has("roughness"):
        layers["roughness"] = read_grid(city.require("roughness")).data
    crs = city.local_crs
    if cell_size is not None:
        terrain, layers = _coarsened(terrain, layers, cell_size, city.path)
    if not np.all(np.isfinite(terrain.data)):
        raise TwinInputError(f"{city.require('terrain')}: the terrain has nodata cells; a flood needs them filled")
    has = set(city.manifest.get("files") or {})
    return CityGrids(city=city, terrain=terrain, blocked=layers["buildings"], roads=layers["roads"],
                     buildings=_buildings(city, crs), crs=crs,
                     water=layers["water"], bridges=layers["bridges"], roughness=layers.get("roughness"),
                     estimated_share=_estimated_share(city) if "terrain_sources" in has else None)


def _buildings(city: CityFolder, crs: CRS) -> gpd.GeoDataFrame:
    """The City's buildings in ``crs``; an empty table for a City without buildings (hazard layers, a DEM)."""
    if city.has("buildings"):
        return city.buildings(crs)
    return gpd.GeoDataFrame({"gml_id": []}, geometry=gpd.GeoSeries([], crs=crs))


def _estimated_share(city: CityFolder) -> float | None:
    if not city.has("terrain_sources"):
        return None
    codes = read_grid(city.require("terrain_sources"), np.float32).data
    return float(np.isin(codes, list(ESTIMATED_SOURCES)).mean())


#: Share of the grid that may be estimated without --allow-estimated-terrain: the corners where a
#: DEM's lon/lat rectangle does not fill the plane grid, the fringe between a DEM and the buildings.
ESTIMATED_SHARE_TOLERATED = 0.01


def require_measured_terrain(city: CityGrids, allow_estimated: bool, *, api: bool = False) -> float:
    """The share of the City's terrain that is estimated; TwinInputError (one line) when it is over
    ``ESTIMATED_SHARE_TOLERATED`` and ``allow_estimated`` is False: a flood on ground guessed from
    buildings is not a flood map. ``api``: the line is for an HTTP caller, so it names the request's
    field and the admin import (``POST /api/cities`` with ``add``), not a flag or the server's folders."""
    allow = '"allow_estimated_terrain": true' if api else "--allow-estimated-terrain"
    share = city.estimated_share
    if share is None:
        if allow_estimated:
            return float("nan")
        raise TwinInputError(f"city {city.id!r}: its terrain has no recorded sources (converted before they were "
                             f"kept): convert it again, or pass {allow}")
    if share > ESTIMATED_SHARE_TOLERATED and not allow_estimated:
        add = (f"an administrator can add one with POST /api/cities (name {city.id!r}, add: true)" if api
               else f"twin city add {city.folder} DEM")
        raise TwinInputError(f"city {city.id!r}: {share:.0%} of the flood's terrain is estimated from building ground "
                             f"heights, not measured; add a DEM ({add}) or pass {allow}")
    return share


def _coarsened(terrain: Grid, layers: dict[str, np.ndarray], cell_size: float,
               folder: Path) -> tuple[Grid, dict[str, np.ndarray]]:
    """Block means over k × k cells (edge cells that do not fill a block are dropped; roughness is the
    mean of the cells that have one)."""
    k = cell_size / terrain.cell_size
    if not math.isfinite(k) or k < 1 or abs(k - round(k)) > 1e-6:
        raise TwinInputError(f"--cell-size {cell_size:g}: must be a whole multiple of the City's "
                             f"{terrain.cell_size:g} m cells ({folder})")
    k = int(round(k))
    if k > min(terrain.shape):
        raise TwinInputError(f"--cell-size {cell_size:g}: larger than the City's grid ({folder})")
    if k == 1:
        return terrain, layers
    rows, cols = terrain.shape[0] // k, terrain.shape[1] // k

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[:rows * k, :cols * k].reshape(rows, k, cols, k)

    def mean(a: np.ndarray) -> np.ndarray:
        return blocks(a).mean(axis=(1, 3))

    t = terrain.transform
    grid = Grid(mean(terrain.data), Affine(t.a * k, 0, t.c, 0, t.e * k, t.f), terrain.crs)
    out = {name: mean(a) for name, a in layers.items() if name != "roughness"}
    if "roughness" in layers:
        values = blocks(layers["roughness"])
        known = np.isfinite(values)
        count = known.sum(axis=(1, 3))
        total = np.where(known, values, 0.0).sum(axis=(1, 3))
        out["roughness"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return grid, out


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

