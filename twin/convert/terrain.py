"""The terrain grid: measured sources first, then heights estimated from the buildings; never a flat plate.

Each cell takes the first source that has it (``twin.city.layout.TERRAIN_SOURCES``): the
dataset's TIN (rasterised exactly, linear inside each triangle), then the GSI DEM, then the
user's GeoTIFF/ASCII DEMs. A cell within one source spacing of measured cells takes the nearest
measured height (the edge of a DEM is as good as its resolution). Elsewhere the ground is
estimated: linear interpolation on a Delaunay triangulation of the buildings' ground heights (the
lowest LOD1/LOD2 vertex, at every footprint vertex), the vertices of roads and water bodies drawn
in 3D and the edge of the measured area, with each footprint burnt in at its own ground height so
that buildings stand on the grid; beyond all of them, the nearest known height. Each cell's
source is kept (``TerrainGrid.sources``) and counted in the provenance that goes into city.json.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numba
import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from scipy import ndimage
from scipy.spatial import Delaunay, QhullError

from twin.city.grids import ESTIMATED_SHARE_TOLERATED
from twin.city.layout import ESTIMATED_SOURCES, TERRAIN_SOURCES
from twin.convert.dem_rasters import MeasuredLayer
from twin.convert.grid_frame import Frame
from twin.lonlat import from_lonlat

CODES = {name: code for code, name in TERRAIN_SOURCES.items()}
#: At most this many points of the measured area's edge join the estimate (every k-th edge cell).
MAX_EDGE_POINTS = 200_000


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


def tin_layer(frame: Frame, tin: np.ndarray, files: list[str]) -> MeasuredLayer | None:
    """The dataset's TIN ((m, 3, 3) rows of lat, lon, h) rasterised on ``frame``; None if it misses it."""
    x, y = from_lonlat(frame.crs).transform(tin[..., 1].ravel(), tin[..., 0].ravel())
    xyz = np.stack([x, y, tin[..., 2].ravel()], axis=1).reshape(-1, 3, 3)
    heights = rasterise_tin(xyz, frame.transform, frame.shape).astype(np.float32)
    if not np.isfinite(heights).any():
        return None
    edges = np.linalg.norm(xyz[:, [1, 2, 0], :2] - xyz[:, :, :2], axis=2)
    return MeasuredLayer("dem", heights, float(np.median(edges)), [{"file": f} for f in files])


@dataclass
class TerrainGrid:
    """The terrain on the City's frame: heights (float32, no NaN), each cell's source code, and provenance."""

    heights: np.ndarray
    sources: np.ndarray  # uint8, TERRAIN_SOURCES codes
    frame: Frame
    layers: list[MeasuredLayer]
    estimate_points: int

    @property
    def estimated_share(self) -> float:
        return float(np.isin(self.sources, list(ESTIMATED_SOURCES)).mean())

    def provenance(self) -> dict:
        """city.json's ``terrain``: each source's kind, files, spacing and share of the cells."""
        counts = np.bincount(self.sources.ravel(), minlength=max(TERRAIN_SOURCES) + 1)
        total = self.sources.size
        by_kind = {layer.kind: layer for layer in self.layers}
        entries = []
        for code, kind in TERRAIN_SOURCES.items():
            if not counts[code]:
                continue
            entry: dict = {"code": code, "kind": kind, "cells": int(counts[code]), "share": round(counts[code] / total, 6)}
            if kind in by_kind:
                entry.update(spacing_m=round(by_kind[kind].spacing_m, 2), files=by_kind[kind].files)
            elif kind == "estimated":
                entry["points"] = self.estimate_points
            entries.append(entry)
        return {"sources": entries, "estimated_share": round(self.estimated_share, 6),
                "measured": any(code not in ESTIMATED_SOURCES for code in TERRAIN_SOURCES if counts[code]),
                "note": self.note()}

    def note(self) -> str | None:
        """A warning line when any of the grid is estimated: how much came from where."""
        if self.estimated_share == 0:
            return None
        counts = np.bincount(self.sources.ravel(), minlength=max(TERRAIN_SOURCES) + 1) / self.sources.size
        parts = [f"{_percent(counts[code])} {_SAID[kind]}" for code, kind in TERRAIN_SOURCES.items() if counts[code]]
        if self.estimated_share <= ESTIMATED_SHARE_TOLERATED:
            return "terrain: " + ", ".join(parts)
        return ("terrain: " + ", ".join(parts) + "; a flood on it needs --allow-estimated-terrain "
                "(add a DEM: twin city add CITY DEM)")


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.2%}"


_SAID = {"dem": "from the dataset's DEM", "gsi_dem": "from the GSI DEM", "raster_dem": "from the given DEM",
         "estimated": "estimated between the buildings' ground heights, roads and water",
         "extrapolated": "extrapolated from the nearest known height"}


def build_terrain(frame: Frame, layers: list[MeasuredLayer], buildings: gpd.GeoDataFrame | None,
                  ground_points: np.ndarray | None) -> TerrainGrid | None:
    """The terrain on ``frame`` from measured ``layers`` (best first) and, where they have nothing,
    the buildings' ground heights and roads' and water bodies' ``ground_points`` (lat, lon, h);
    None when there is nothing to take a height from."""
    heights = np.full(frame.shape, np.nan, np.float32)
    sources = np.zeros(frame.shape, np.uint8)
    for layer in layers:
        take = np.isnan(heights) & np.isfinite(layer.heights)
        heights[take] = layer.heights[take]
        sources[take] = CODES[layer.kind]
        layer.heights = np.zeros((0, 0), np.float32)  # keep no second copy of the grid
    used = [layer for layer in layers if (sources == CODES[layer.kind]).any()]
    if used and np.isnan(heights).any():
        reach = max(layer.spacing_m for layer in used) / frame.resolution
        _nearest(heights, sources, within=max(reach, 1.5))
    points = 0
    if np.isnan(heights).any():
        points = _estimate(heights, sources, frame, buildings, ground_points)
    if np.isnan(heights).all():
        return None
    if np.isnan(heights).any():
        _nearest(heights, sources, within=None, code=CODES["extrapolated"])
    return TerrainGrid(heights, sources, frame, used, points)


def _nearest(heights: np.ndarray, sources: np.ndarray, within: float | None, code: int | None = None) -> None:
    """Fill NaN cells from the nearest known cell (within ``within`` cells, if given), in place; the
    filled cell takes that cell's source, or ``code``."""
    missing = np.isnan(heights)
    distances, (rows, cols) = ndimage.distance_transform_edt(missing, return_distances=True, return_indices=True)
    fill = missing if within is None else missing & (distances <= within)
    del distances
    heights[fill] = heights[rows[fill], cols[fill]]
    sources[fill] = sources[rows[fill], cols[fill]] if code is None else code


def _estimate(heights: np.ndarray, sources: np.ndarray, frame: Frame, buildings: gpd.GeoDataFrame | None,
              ground_points: np.ndarray | None) -> int:
    """Fill NaN cells inside the triangulation of the known ground points (``estimated``); the count of points."""
    xyz = _estimate_points(heights, frame, buildings, ground_points)
    if len(xyz) < 3:
        return len(xyz)
    try:
        triangles = Delaunay(xyz[:, :2]).simplices
    except QhullError:  # all points on one line
        return len(xyz)
    estimate = rasterise_tin(xyz[triangles], frame.transform, frame.shape)
    footprints = _footprint_grounds(buildings, frame)
    if footprints is not None:
        estimate = np.where(np.isfinite(footprints), footprints, estimate)
    take = np.isnan(heights) & np.isfinite(estimate)
    heights[take] = estimate[take]
    sources[take] = CODES["estimated"]
    return len(xyz)


def _estimate_points(heights: np.ndarray, frame: Frame, buildings: gpd.GeoDataFrame | None,
                     ground_points: np.ndarray | None) -> np.ndarray:
    """(n, 3) x, y, z in the frame's CRS: footprint vertices at their building's ground height, the
    road and water points, and the edge of the measured cells."""
    to_local = from_lonlat(frame.crs)
    parts = []
    if buildings is not None and len(buildings):
        known = _own_grounds(buildings)
        if len(known):
            coords, owner = shapely.get_coordinates(known.geometry.to_numpy(), return_index=True)
            x, y = to_local.transform(coords[:, 0], coords[:, 1])
            parts.append(np.column_stack([x, y, known["ground_height"].to_numpy(float)[owner]]))
    if ground_points is not None and len(ground_points):
        x, y = to_local.transform(ground_points[:, 1], ground_points[:, 0])
        parts.append(np.column_stack([x, y, ground_points[:, 2]]))
    known_cells = np.isfinite(heights)
    if known_cells.any():
        edge = known_cells & ~ndimage.binary_erosion(known_cells, border_value=1)
        rows, cols = np.nonzero(edge)
        step = max(1, len(rows) // MAX_EDGE_POINTS)
        rows, cols = rows[::step], cols[::step]
        t = frame.transform
        x, y = t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)
        parts.append(np.column_stack([x, y, heights[rows, cols]]))
    if not parts:
        return np.zeros((0, 3))
    xyz = np.concatenate(parts)
    return xyz[np.isfinite(xyz).all(axis=1)]


def _footprint_grounds(buildings: gpd.GeoDataFrame | None, frame: Frame) -> np.ndarray | None:
    """Each footprint's own ground height on its cells (NaN elsewhere); the lowest where two overlap."""
    if buildings is None or not len(buildings):
        return None
    known = _own_grounds(buildings)
    if not len(known):
        return None
    local = known.geometry.to_crs(frame.crs)
    order = np.argsort(-known["ground_height"].to_numpy(float))  # the lowest is burnt last and wins
    shapes = ((geometry, float(h)) for geometry, h in zip(local.to_numpy()[order],
                                                          known["ground_height"].to_numpy(float)[order]))
    return rasterize(shapes, out_shape=frame.shape, transform=frame.transform, fill=np.nan, dtype="float32")


def _own_grounds(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings whose ground height is their own (LOD1/LOD2), not one taken from an earlier terrain."""
    own = buildings["ground_height"].notna() & buildings.geometry.notna()
    if "ground_from_terrain" in buildings:
        own &= ~buildings["ground_from_terrain"].fillna(False).astype(bool)
    return buildings[own]
