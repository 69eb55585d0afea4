"""Water under the walkers: a flood result's depth over time, or the official areas as a fixed depth.

A flood result's ``depth.nc`` is checked once (``open_depth``) for both evacuation modes. On
a City it is resampled to the walking grid by nearest cell and interpolated linearly in
time; the official PLATEAU flood areas give a static depth: an area's recorded depth, else
the middle of its rank's MLIT class (``twin.depth_classes``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.features import rasterize

from twin import depth_classes
from twin.city.grids import CityGrids
from twin.city.hazard_areas import area_ranks
from twin.errors import TwinInputError
from twin.evacuation.placement import Walkway
from twin.files.rasters import Grid

#: The flood's depth is interpolated in time at most this often: water rises about 2–3 cm/min
#: in pluvial and river floods, so 10 s is a few millimetres.
DEPTH_STEP_S = 10.0


def open_depth(path: Path) -> xr.Dataset:
    """A flood result's ``depth.nc``, checked: ``depth`` over ``(time, y, x)`` and times that
    increase."""
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as exc:
        raise TwinInputError(f"{path}: not a readable NetCDF file ({exc})") from None
    if "depth" not in ds or ds["depth"].dims != ("time", "y", "x"):
        raise TwinInputError(f"{path}: needs a variable depth over (time, y, x)")
    times = np.asarray(ds["time"].to_numpy(), dtype=float)
    if times.size == 0 or np.any(np.diff(times) <= 0):
        raise TwinInputError(f"{path}: time must be non-empty and increasing")
    return ds


class FloodDepth:
    """Depth at any time from a ``depth.nc`` (``depth`` over ``time, y, x``), linear in time
    between frames, held before the first and after the last; NaN counts as dry."""

    def __init__(self, path: Path, walls: Grid) -> None:
        ds = open_depth(path)
        depth = ds["depth"]
        rows, cols = walls.shape
        if depth.shape[1:] != (rows, cols):
            raise TwinInputError(f"{path}: depth grid is {depth.shape[1]} x {depth.shape[2]} cells, "
                                 f"the walls grid has {rows} x {cols}")
        xs, ys = walls.cell_centres()
        tol = 1e-3 * walls.cell_size
        x, y = ds["x"].to_numpy(), ds["y"].to_numpy()
        if np.allclose(y, ys[::-1], atol=tol):
            depth = depth.isel(y=slice(None, None, -1))
        elif not np.allclose(y, ys, atol=tol):
            raise TwinInputError(f"{path}: y cell centres do not match the walls grid")
        if not np.allclose(x, xs, atol=tol):
            raise TwinInputError(f"{path}: x cell centres do not match the walls grid")
        self.times = np.asarray(ds["time"].to_numpy(), dtype=float)
        self.path = path
        self._depth = depth
        self._cache: dict[int, np.ndarray] = {}

    def _frame(self, k: int) -> np.ndarray:
        if k not in self._cache:
            if len(self._cache) > 2:
                self._cache.pop(min(self._cache))
            self._cache[k] = np.nan_to_num(self._depth.isel(time=k).to_numpy().astype(np.float32), nan=0.0)
        return self._cache[k]

    def __call__(self, t: float) -> np.ndarray:
        k = int(np.searchsorted(self.times, t, side="right")) - 1
        if k < 0:
            return self._frame(0)
        if k >= len(self.times) - 1:
            return self._frame(len(self.times) - 1)
        w = np.float32((t - self.times[k]) / (self.times[k + 1] - self.times[k]))
        return (1 - w) * self._frame(k) + w * self._frame(k + 1)


def hazard_depth(city: CityGrids, way: Walkway, flood_result: Path | None,
                 official_hazard: str | None) -> tuple[Callable[[float], np.ndarray] | None, dict]:
    """Depth on the walking grid as a function of time (None: no water), and its description."""
    if flood_result is not None:
        return _flood_depth(city, way, flood_result)
    if official_hazard is not None:
        depth = official_depth(city, way.transform, way.walls.shape, official_hazard)
        return (lambda t: depth), {"kind": "official", "layer": official_hazard,
                                   "max_depth_m": float(depth.max()) if depth.size else 0.0,
                                   "rank_depth_m": {c.rank: c.middle_m for c in depth_classes.CLASSES}}
    return None, {"kind": "none"}


def official_depth(city: CityGrids, transform: Affine, shape: tuple[int, int], which: str) -> np.ndarray:
    """The deepest official flood area over each cell (``LAYER`` or ``LAYER:SCALE``, e.g. ``fld:L2``);
    an area's ``depth_m`` where recorded, else the middle of its rank's class."""
    layer, _, scale = which.partition(":")
    areas = city.city.hazards()
    chosen = areas[(areas["layer"] == layer) & ((areas["scale"] == scale) if scale else True)]
    if len(chosen) == 0:
        known = sorted({f"{a}:{b}" for a, b in zip(areas["layer"], areas["scale"])})
        raise TwinInputError(f"{city.folder}: no official hazard areas {which!r} (the City has {', '.join(known)})")
    depth = pd.to_numeric(chosen["depth_m"], errors="coerce").to_numpy(float)
    by_rank = np.array([depth_classes.of_rank(r).middle_m if r else np.nan for r in area_ranks(chosen)], float)
    depth = np.where(np.isfinite(depth), depth, by_rank)
    geoms = chosen.to_crs(city.crs).geometry.to_numpy()
    keep = np.isfinite(depth)
    out = np.zeros(shape, np.float32)
    for d in np.unique(depth[keep]):  # deepest wins: burn shallow classes first, deeper over them
        shapes = [(g, 1) for g in geoms[keep & (depth == d)] if g is not None and not g.is_empty]
        if shapes:
            mask = rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8").astype(bool)
            out[mask] = np.maximum(out[mask], d)
    return out


def _flood_depth(city: CityGrids, way: Walkway, result: Path) -> tuple[Callable, dict]:
    """Depth of a flood result on the walking grid: linear in time, nearest flood cell in space."""
    path = Path(result) / "depth.nc" if Path(result).is_dir() else Path(result)
    if not path.is_file():
        raise TwinInputError(f"{result}: no depth.nc (give the folder of a 'twin flood run --city' result)")
    ds = open_depth(path)
    times = np.asarray(ds["time"].to_numpy(), float)
    fx, fy = np.asarray(ds["x"], float), np.asarray(ds["y"], float)
    rows, cols = way.walls.shape
    cx, cy = way.centre(np.arange(rows)[:, None], np.arange(cols)[None, :])
    ix = _nearest_index(fx, np.broadcast_to(cx, (rows, cols)))
    iy = _nearest_index(fy, np.broadcast_to(cy, (rows, cols)))
    covered = (ix >= 0) & (iy >= 0)
    if not covered.any():
        raise TwinInputError(f"{path}: the flood grid does not overlap city {city.id!r} near its buildings")
    frames = np.nan_to_num(ds["depth"].to_numpy().astype(np.float32), nan=0.0)
    ds.close()
    on_grid = np.where(covered[None], frames[:, np.maximum(iy, 0), np.maximum(ix, 0)], 0.0).astype(np.float32)

    cache: dict[float, np.ndarray] = {}

    def depth(t: float) -> np.ndarray:
        t = float(np.floor(t / DEPTH_STEP_S) * DEPTH_STEP_S)
        if t not in cache:
            cache.clear()
            cache[t] = interpolated(t)
        return cache[t]

    def interpolated(t: float) -> np.ndarray:
        k = int(np.searchsorted(times, t, side="right")) - 1
        if k < 0:
            return on_grid[0]
        if k >= len(times) - 1:
            return on_grid[-1]
        w = np.float32((t - times[k]) / (times[k + 1] - times[k]))
        return (1 - w) * on_grid[k] + w * on_grid[k + 1]

    return depth, {"kind": "flood", "times_s": [float(times[0]), float(times[-1])],
                   "max_depth_m": float(on_grid.max())}


def _nearest_index(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the cell (centres evenly spaced, either direction) holding each value; -1 outside."""
    if centres.size == 1:
        return np.zeros(values.shape, np.int64)
    step = centres[1] - centres[0]
    k = np.floor((values - centres[0]) / step + 0.5).astype(np.int64)
    return np.where((k >= 0) & (k < centres.size), k, -1)
