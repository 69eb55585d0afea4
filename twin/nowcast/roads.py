"""Roads cut and when: each of the City's road features (``roads.parquet``) on the cycle's grid,
and per forecast, the first valid time its deepest cell reaches ``ROAD_CUT_M``, its maximum
depth and the area under that depth at the peak.

A road's cells are those its footprint touches (``all_touched``: thin roads keep their cells),
open ones only (building walls out, as the cycle's ``blocked``); a cell two roads share goes to
the one drawn last.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from rasterio.features import rasterize

from twin.lonlat import LONLAT
from twin.sensors.times import iso

#: Depth (m) at which a road is cut: cars stall at 0.3–0.5 m.
ROAD_CUT_M = 0.3

#: Columns kept from the City's roads when it has them (class, function, name).
DESCRIBING = ("class_label", "function_label", "name")


class RoadCells:
    """Each road's open cells on a grid, as flat cell ids sorted by road."""

    def __init__(self, roads: gpd.GeoDataFrame, transform: Affine, shape: tuple[int, int], blocked: np.ndarray) -> None:
        self.roads = roads
        self.count = len(roads)
        shapes = [(g, i + 1) for i, g in enumerate(roads.geometry) if g is not None and not g.is_empty]
        labels = (rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32", all_touched=True)
                  if shapes else np.zeros(shape, np.int32)).ravel()
        cells = np.flatnonzero((labels > 0) & (blocked.ravel() < 1.0))
        owners = labels[cells] - 1
        order = np.argsort(owners, kind="stable")
        self.cells, self.owners = cells[order], owners[order]
        self.sizes = np.bincount(self.owners, minlength=self.count)
        self.has = self.sizes > 0
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])[self.has]

    def maximum(self, grid: np.ndarray) -> np.ndarray:
        """Per road, the largest value of ``grid`` over its cells (NaN when it has none)."""
        out = np.full(self.count, np.nan)
        if len(self.cells):
            out[self.has] = np.maximum.reduceat(np.nan_to_num(grid.ravel()[self.cells], nan=0.0), self.starts)
        return out

    def cut_cells(self, depth: np.ndarray) -> np.ndarray:
        """Per road, how many of its cells are at or over ``ROAD_CUT_M``."""
        return np.bincount(self.owners, weights=depth.ravel()[self.cells] >= ROAD_CUT_M,
                           minlength=self.count).astype(np.int64)


def road_forecast(cells: RoadCells, valid: list[datetime], maxima: np.ndarray, cut_counts: np.ndarray,
                  cell_size: float) -> gpd.GeoDataFrame:
    """Per road (``maxima`` and ``cut_counts``: output times × roads): ``gml_id``, the describing
    columns the City has, ``cut_at`` (ISO valid time its deepest cell first reaches ``ROAD_CUT_M``,
    None if never), ``max_depth_m``, ``area_cut_m2`` (its area under that depth at the peak) and
    the geometry in lon/lat (``LONLAT``)."""
    roads = cells.roads
    n = cells.count
    if len(valid) and n:
        above = np.nan_to_num(maxima, nan=0.0) >= ROAD_CUT_M
        first = np.argmax(above, axis=0)
        hit = above.any(axis=0)
        cut_at = [iso(valid[k]) if h else None for k, h in zip(first, hit)]
        deepest = np.nanmax(np.where(np.isnan(maxima), -np.inf, maxima), axis=0)
        area = cut_counts.max(axis=0) * cell_size ** 2
    else:
        cut_at, deepest, area = [None] * n, np.full(n, np.nan), np.zeros(n)
    table = {"gml_id": roads["gml_id"].astype(str).to_numpy() if "gml_id" in roads else np.arange(n).astype(str)}
    table.update({c: roads[c].to_numpy() for c in DESCRIBING if c in roads})
    table.update({"cut_at": cut_at,
                  "max_depth_m": np.where(np.isfinite(deepest), np.round(deepest, 3), np.nan).astype(np.float32),
                  "area_cut_m2": np.asarray(area, float)})
    return gpd.GeoDataFrame(pd.DataFrame(table), geometry=roads.geometry.to_crs(LONLAT).to_numpy(), crs=LONLAT)
