"""Water under the walkers: a flood result's depth over time, or the official areas as a fixed depth.

A flood result's ``depth.nc`` is checked once (``open_depth``) for both evacuation modes. On
a City it is resampled to the walking grid by nearest cell and interpolated linearly in
time; where the result carries the velocity (``u``, ``v``, as the full scheme writes), the
water is given with its flow speed, so that walking also stops where it flows too fast. A
flood result is known in advance: its frame times go to the engine (``forecast_times``) for
routes planned on the water at the time people get there. The official PLATEAU flood areas
give a static depth: an area's recorded depth, else the middle of its rank's MLIT class
(``twin.depth_classes``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.features import rasterize

from sim.evacuation import Water, blend_frames
from twin import depth_classes
from twin.city.grids import CityGrids
from twin.city.hazard_areas import area_ranks
from twin.errors import TwinInputError
from twin.evacuation.placement import Walkway
from twin.files.rasters import Grid

#: The flood's depth is interpolated in time at most this often: water rises about 2–3 cm/min
#: in pluvial and river floods, so 10 s is a few millimetres.
DEPTH_STEP_S = 10.0


#: The water on the walking grid at a time: depth alone, or depth with its flow speed.
WaterAt = Callable[[float], "np.ndarray | Water"]


def open_depth(path: Path) -> xr.Dataset:
    """A flood result's ``depth.nc``, checked: ``depth`` over ``(time, y, x)`` and times that
    increase; the velocity ``u``, ``v`` beside it is optional (both or neither, same dims)."""
    try:
        ds = xr.open_dataset(path)
    except (OSError, ValueError) as exc:
        raise TwinInputError(f"{path}: not a readable NetCDF file ({exc})") from None
    if "depth" not in ds or ds["depth"].dims != ("time", "y", "x"):
        raise TwinInputError(f"{path}: needs a variable depth over (time, y, x)")
    if ("u" in ds) != ("v" in ds) or any(ds[c].dims != ("time", "y", "x") for c in ("u", "v") if c in ds):
        raise TwinInputError(f"{path}: the velocity needs both u and v over (time, y, x)")
    times = np.asarray(ds["time"].to_numpy(), dtype=float)
    if times.size == 0 or np.any(np.diff(times) <= 0):
        raise TwinInputError(f"{path}: time must be non-empty and increasing")
    return ds


class FloodDepth:
    """Water at any time from a ``depth.nc`` (``depth`` over ``time, y, x``, and the flow speed
    when it has ``u``, ``v``), linear in time between frames, held before the first and after
    the last; NaN counts as dry and still. ``times`` are its frames (the flood is known in
    advance)."""

    def __init__(self, path: Path, walls: Grid) -> None:
        ds = open_depth(path)
        depth = ds["depth"]
        rows, cols = walls.shape
        if depth.shape[1:] != (rows, cols):
            raise TwinInputError(f"{path}: depth grid is {depth.shape[1]} x {depth.shape[2]} cells, "
                                 f"the walls grid has {rows} x {cols}")
        layers = [depth] + [ds[c] for c in ("u", "v") if c in ds]
        xs, ys = walls.cell_centres()
        tol = 1e-3 * walls.cell_size
        x, y = ds["x"].to_numpy(), ds["y"].to_numpy()
        if np.allclose(y, ys[::-1], atol=tol):
            layers = [a.isel(y=slice(None, None, -1)) for a in layers]
        elif not np.allclose(y, ys, atol=tol):
            raise TwinInputError(f"{path}: y cell centres do not match the walls grid")
        if not np.allclose(x, xs, atol=tol):
            raise TwinInputError(f"{path}: x cell centres do not match the walls grid")
        self.times = np.asarray(ds["time"].to_numpy(), dtype=float)
        self.path = path
        self._layers = layers
        self._cache: dict[int, list[np.ndarray]] = {}

    def _frame(self, k: int) -> list[np.ndarray]:
        """Depth (and flow speed) of frame ``k``, read once."""
        if k not in self._cache:
            if len(self._cache) > 2:
                self._cache.pop(min(self._cache))
            grids = [a.isel(time=k).to_numpy().astype(np.float32) for a in self._layers]
            if len(grids) == 3:
                grids = [grids[0], np.hypot(grids[1], grids[2])]
            self._cache[k] = [np.nan_to_num(g, nan=0.0) for g in grids]
        return self._cache[k]

    def __call__(self, t: float) -> np.ndarray | Water:
        k = int(np.searchsorted(self.times, t, side="right")) - 1
        if k < 0:
            layers = self._frame(0)
        elif k >= len(self.times) - 1:
            layers = self._frame(len(self.times) - 1)
        else:
            w = np.float32((t - self.times[k]) / (self.times[k + 1] - self.times[k]))
            layers = [blend_frames(a, b, w) for a, b in zip(self._frame(k), self._frame(k + 1))]
        return layers[0] if len(layers) == 1 else Water(layers[0], layers[1])


def hazard_depth(city: CityGrids, way: Walkway, flood_result: Path | None,
                 official_hazard: str | None) -> tuple[WaterAt | None, list[float] | None, dict]:
    """The water on the walking grid as a function of time (None: no water), the times it is
    known ahead of the clock (a flood result's frames; None for a fixed depth or no water) and
    its description."""
    if flood_result is not None:
        return _flood_depth(city, way, flood_result)
    if official_hazard is not None:
        depth = official_depth(city, way.transform, way.walls.shape, official_hazard)
        return (lambda t: depth), None, {"kind": "official", "layer": official_hazard,
                                         "max_depth_m": float(depth.max()) if depth.size else 0.0,
                                         "rank_depth_m": {c.rank: c.middle_m for c in depth_classes.CLASSES}}
    return None, None, {"kind": "none"}


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


def _flood_depth(city: CityGrids, way: Walkway, result: Path) -> tuple[WaterAt, list[float], dict]:
    """The water of a flood result on the walking grid (depth, and flow speed when it has one):
    linear in time, nearest flood cell in space; with its frame times."""
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
    speed = np.hypot(ds["u"].to_numpy(), ds["v"].to_numpy()) if "u" in ds else None
    layers = [ds["depth"].to_numpy()] if speed is None else [ds["depth"].to_numpy(), speed]
    on_grid = [np.where(covered[None], np.nan_to_num(a.astype(np.float32), nan=0.0)
                        [:, np.maximum(iy, 0), np.maximum(ix, 0)], 0.0).astype(np.float32) for a in layers]
    ds.close()

    cache: dict[float, np.ndarray | Water] = {}

    def water(t: float) -> np.ndarray | Water:
        t = float(np.floor(t / DEPTH_STEP_S) * DEPTH_STEP_S)
        if t not in cache:
            cache.clear()
            now = interpolated(t)
            cache[t] = now[0] if len(now) == 1 else Water(now[0], now[1])
        return cache[t]

    def interpolated(t: float) -> list[np.ndarray]:
        k = int(np.searchsorted(times, t, side="right")) - 1
        if k < 0:
            return [a[0] for a in on_grid]
        if k >= len(times) - 1:
            return [a[-1] for a in on_grid]
        w = np.float32((t - times[k]) / (times[k + 1] - times[k]))
        return [blend_frames(a[k], a[k + 1], w) for a in on_grid]

    description = {"kind": "flood", "times_s": [float(times[0]), float(times[-1])],
                   "max_depth_m": float(on_grid[0].max()), "velocity": speed is not None}
    if speed is not None:
        description["max_flow_speed_m_s"] = float(on_grid[1].max())
    return water, [float(x) for x in times], description


def _nearest_index(centres: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the cell (centres evenly spaced, either direction) holding each value; -1 outside."""
    if centres.size == 1:
        return np.zeros(values.shape, np.int64)
    step = centres[1] - centres[0]
    k = np.floor((values - centres[0]) / step + 0.5).astype(np.int64)
    return np.where((k >= 0) & (k < centres.size), k, -1)
