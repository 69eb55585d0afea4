"""An evacuation on a City: people from its buildings walk to its shelters while water rises.

``run_city_evacuation`` puts people (``twin.evacuation.population``) at the doors of their buildings on
the City's walkable grid (masks.tif band 1 as walls, cropped to the buildings and shelters
plus a margin), shelters (``twin.city.shelters``) as exits, and a hazard as depth — a flood
result's ``depth.nc`` over time (resampled to the walking grid by nearest cell) or the
dataset's official PLATEAU flood areas as a static depth — runs ``sim.evacuation`` and writes
the output folder described in docs/evacuation.md. ``agents_at`` reads a finished folder
back as positions and states at one time, for the viewer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from scipy import ndimage

from sim.errors import SimInputError
from sim.evacuation import DEFAULT_PROFILES, EvacuationConfig, simulate
from sim.evacuation.navigation import exit_fields
from sim.evacuation.profiles import Distribution
from twin.flood.city_run import LONLAT, CityGrids, load_city
from twin.errors import TwinInputError
from twin.evacuation.grid_run import open_depth, summarise
from twin.evacuation.population import (
    ELDERLY_SHARE,
    NEEDS_HELP_SHARE,
    TIMES_OF_DAY,
    Occupancy,
    building_people,
    default_occupancy,
    profile_shares,
    sample_agents,
    storeys,
)
from twin.city.shelters import read_geojson, read_shelters, vertical_shelters

#: Depth (m) standing for each PLATEAU/MLIT rank 1–6 when an area records no depth: the middle
#: of the class (< 0.5, 0.5–3, 3–5, 5–10, 10–20, ≥ 20 m; the last taken as 20 m).
RANK_DEPTH_M = {1: 0.25, 2: 1.75, 3: 4.0, 4: 7.5, 5: 15.0, 6: 20.0}
#: Night-time walking speeds are 0.8 × the daytime ones (Cabinet Office, Nankai Trough damage estimate).
NIGHT_SPEED_FACTOR = 0.8
#: Mean pre-evacuation delay (s) after the order: 5 min by day, 10 min at night (the same
#: estimate's "quick evacuees"); the spread is half the mean, truncated at zero.
DELAY_MEAN_S = {"day": 300.0, "night": 600.0}
SHELTER_RADIUS_M = 10.0
#: The flood's depth is interpolated in time at most this often: water rises about 2–3 cm/min
#: in pluvial and river floods, so 10 s is a few millimetres.
DEPTH_STEP_S = 10.0
STATES = ("waiting", "walking", "arrived", "stranded")
#: The result files a client may read from an evacuation folder.
EVACUATION_FILES = ("summary.json", "clearance.csv", "shelters.csv", "stranded.csv", "buildings.csv", "arrivals.csv",
                    "occupancy.csv")


@dataclass(frozen=True)
class CityEvacuation:
    """What to run: the people, the shelters, the hazard and the engine's steps."""

    time_of_day: str = "night"
    people_per_agent: float = 1.0
    elderly_share: float = ELDERLY_SHARE
    needs_help_share: float = NEEDS_HELP_SHARE
    occupancy: Occupancy | None = None
    shelters: Path | None = None
    vertical: int = 0  # how many tall, sturdy buildings take vertical evacuees (0: none)
    flood_result: Path | None = None
    official_hazard: str | None = None  # "fld" (every scale) or "fld:L2"
    cell_size: float | None = None
    margin_m: float = 100.0
    duration_s: float = 3600.0
    dt_s: float = 0.5
    record_interval_s: float = 30.0
    navigation_interval_s: float = 60.0  # routes follow the water at most this often (flood frames are minutes apart)
    seed: int = 0

    def checked(self) -> CityEvacuation:
        if self.time_of_day not in TIMES_OF_DAY:
            raise TwinInputError(f"time of day must be 'day' or 'night', got {self.time_of_day!r}")
        if self.flood_result is not None and self.official_hazard is not None:
            raise TwinInputError("give a flood result or an official hazard, not both")
        for name in ("duration_s", "dt_s", "record_interval_s", "navigation_interval_s"):
            if not getattr(self, name) > 0:
                raise TwinInputError(f"{name} must be positive, got {getattr(self, name):g}")
        if self.margin_m < 0 or self.vertical < 0:
            raise TwinInputError("the margin and the number of vertical shelters cannot be negative")
        profile_shares(self.elderly_share, self.needs_help_share)
        return self


@dataclass
class _Walkway:
    """The cropped walking grid: walls, transform, and the City it came from."""

    city: CityGrids
    walls: np.ndarray
    transform: Affine
    window: tuple[slice, slice]

    @property
    def cell(self) -> float:
        return float(self.transform.a)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        col, row = ~self.transform @ (np.asarray(x, float), np.asarray(y, float))
        return np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)

    def centre(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.transform @ (cols + 0.5, rows + 0.5)


#: Options of an evacuation inside a scenario job (the JSON of POST /api/scenarios' ``evacuation``).
JOB_OPTIONS = ("time_of_day", "people_per_agent", "vertical", "duration_s", "dt_s", "record_interval_s", "seed",
               "cell_size", "elderly_share", "needs_help_share", "margin_m")


def evacuation_spec(options: dict, flood_result: Path | None, flood_cell_size: float | None) -> CityEvacuation:
    """A checked run from a scenario job's options, on ``flood_result`` (its ``depth.nc``); the
    walking grid is the flood's unless the options give a ``cell_size``."""
    unknown = sorted(set(options) - set(JOB_OPTIONS))
    if unknown:
        raise TwinInputError(f"evacuation: unknown option {unknown[0]!r} (known: {', '.join(JOB_OPTIONS)})")
    values = {k: v for k, v in options.items() if v is not None}
    values.setdefault("cell_size", flood_cell_size)
    try:
        return CityEvacuation(flood_result=flood_result, **values).checked()
    except TypeError as exc:
        raise TwinInputError(f"evacuation: {exc}") from None


def run_city_evacuation(folder: Path, spec: CityEvacuation, out: Path,
                        on_progress: Callable[[float, int, int], None] | None = None) -> dict:
    """Evacuate the City at ``folder`` as ``spec`` says; write OUT; return the summary."""
    spec = spec.checked()
    rng = np.random.default_rng(spec.seed)
    city = load_city(folder, spec.cell_size)
    buildings = city.buildings.reset_index(drop=True)
    occupancy = spec.occupancy or default_occupancy()
    people = building_people(buildings, occupancy, spec.time_of_day)
    shelters = _shelters(city, buildings, spec)
    sx, sy = city.lonlat_to_map(shelters["lon"].to_numpy(), shelters["lat"].to_numpy())
    way = _walkway(city, buildings, np.asarray(sx), np.asarray(sy), spec.margin_m)
    inside = _inside(way, np.asarray(sx), np.asarray(sy))
    shelters, sx, sy = shelters[inside].reset_index(drop=True), np.asarray(sx)[inside], np.asarray(sy)[inside]
    if len(shelters) == 0:
        raise TwinInputError(f"{folder}: no shelter lies within {spec.margin_m:g} m of the city's buildings")
    reach, ex_rows, ex_cols = _snap_exits(way, sx, sy)
    agents = sample_agents(people, spec.people_per_agent,
                           profile_shares(spec.elderly_share, spec.needs_help_share), rng)
    rows, cols, placed = _doors(way, buildings, reach, agents["building"].to_numpy(), rng)
    agents = agents[placed].reset_index(drop=True)
    unplaced_people = float(people.sum() - agents["weight"].sum())
    x, y = way.centre(rows, cols)
    jitter = (rng.random((2, len(agents))) - 0.5) * 0.8 * way.cell
    agents["x"], agents["y"] = x + jitter[0], y + jitter[1]
    agents["id"] = np.arange(len(agents))
    agents["speed_mps"], agents["start_s"] = _speeds_and_delays(agents["profile"].to_numpy(), spec, rng)
    ex_x, ex_y = way.centre(ex_rows, ex_cols)
    exits = pd.DataFrame({"id": shelters["shelter_id"], "x": ex_x, "y": ex_y,
                          "radius_m": max(SHELTER_RADIUS_M, way.cell),
                          "capacity": np.ceil(shelters["capacity"].to_numpy(float) / spec.people_per_agent)})
    depth, hazard = _hazard(city, way, spec)
    config = EvacuationConfig(duration_s=spec.duration_s, dt_s=spec.dt_s, seed=spec.seed,
                              trajectory_interval_s=spec.record_interval_s,
                              nav_min_interval_s=spec.navigation_interval_s,
                              nav_refresh_s=max(spec.navigation_interval_s, EvacuationConfig().nav_refresh_s))
    if len(agents) == 0:
        raise TwinInputError(f"{folder}: nobody to evacuate ({people.sum():.0f} people at {spec.people_per_agent:g} "
                             "per agent)")
    try:
        result = simulate(way.walls, way.cell, (way.transform.c, way.transform.f), agents, exits,
                          depth=depth, config=config, progress=on_progress)
    except SimInputError as exc:
        raise TwinInputError(f"{folder}: {exc}") from None
    catchment = _nearest_exit(way, rows, cols, ex_rows, ex_cols)
    outputs = _Outputs(city, buildings, people, agents, shelters, exits, result, catchment, spec)
    summary = summarise(result, config)
    summary.update(outputs.summary(), hazard=hazard, time_of_day=spec.time_of_day,
                   people_per_agent=spec.people_per_agent, people_not_placed=round(unplaced_people, 1),
                   grid={"cell_size_m": way.cell, "rows": int(way.walls.shape[0]), "cols": int(way.walls.shape[1])},
                   city=city.id)
    outputs.write(out, summary, occupancy)
    return summary


def _shelters(city: CityGrids, buildings: gpd.GeoDataFrame, spec: CityEvacuation) -> pd.DataFrame:
    if spec.shelters is not None:
        table = read_shelters(spec.shelters)
    else:
        own = city.folder / "shelters.geojson"
        if not own.is_file():
            raise TwinInputError(f"{city.folder}: the City has no shelters.geojson; pass --shelters FILE")
        table = read_geojson(own)
    if spec.vertical:
        vertical = vertical_shelters(buildings, storeys(buildings), spec.vertical)
        table = pd.concat([table, vertical.drop(columns="building")], ignore_index=True)
    if len(table) == 0:
        raise TwinInputError("no shelter takes flood evacuees (none flagged 洪水 / hazards.flood)")
    return table


def _walkway(city: CityGrids, buildings: gpd.GeoDataFrame, sx: np.ndarray, sy: np.ndarray,
             margin: float) -> _Walkway:
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
    return _Walkway(city, np.ascontiguousarray(walls), t @ Affine.translation(c0, r0), window)


def _inside(way: _Walkway, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r, c = way.cell_of(x, y)
    return (r >= 0) & (r < way.walls.shape[0]) & (c >= 0) & (c < way.walls.shape[1])


def _snap_exits(way: _Walkway, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells people can reach (connected to a shelter) and each shelter's cell, moved to the
    nearest open cell when its point lies in a building."""
    open_ = ~way.walls
    if not open_.any():
        raise TwinInputError(f"{way.city.folder}: no walkable cell near the buildings")
    r, c = way.cell_of(x, y)
    _, (near_r, near_c) = ndimage.distance_transform_edt(way.walls, return_indices=True)
    r, c = near_r[r, c], near_c[r, c]
    labels, _ = ndimage.label(open_)
    reach = np.isin(labels, labels[r, c]) & open_
    return reach, r, c


def _doors(way: _Walkway, buildings: gpd.GeoDataFrame, reach: np.ndarray, building_of: np.ndarray,
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


def _speeds_and_delays(profile: np.ndarray, spec: CityEvacuation,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    speed = np.empty(len(profile))
    for name in np.unique(profile):
        sel = profile == name
        speed[sel] = DEFAULT_PROFILES[name].speed.sample(rng, int(sel.sum()))
    if spec.time_of_day == "night":
        speed *= NIGHT_SPEED_FACTOR
    mean = DELAY_MEAN_S[spec.time_of_day]
    delay = Distribution(mean, mean / 2, 0.0, 4 * mean).sample(rng, len(profile))
    return speed, delay


def _hazard(city: CityGrids, way: _Walkway, spec: CityEvacuation) -> tuple[Callable | None, dict]:
    if spec.flood_result is not None:
        return _flood_depth(city, way, spec.flood_result)
    if spec.official_hazard is not None:
        depth = official_depth(city, way.transform, way.walls.shape, spec.official_hazard)
        return (lambda t: depth), {"kind": "official", "layer": spec.official_hazard,
                                   "max_depth_m": float(depth.max()) if depth.size else 0.0,
                                   "rank_depth_m": RANK_DEPTH_M}
    return None, {"kind": "none"}


def official_depth(city: CityGrids, transform: Affine, shape: tuple[int, int], which: str) -> np.ndarray:
    """The deepest official flood area over each cell (``LAYER`` or ``LAYER:SCALE``, e.g. ``fld:L2``);
    an area's ``depth_m`` where recorded, else the middle of its rank's class."""
    layer, _, scale = which.partition(":")
    path = city.folder / "hazards.parquet"
    if not path.is_file():
        raise TwinInputError(f"{city.folder}: the City has no official hazard areas (hazards.parquet)")
    areas = gpd.read_parquet(path)
    chosen = areas[(areas["layer"] == layer) & ((areas["scale"] == scale) if scale else True)]
    if len(chosen) == 0:
        known = sorted({f"{a}:{b}" for a, b in zip(areas["layer"], areas["scale"])})
        raise TwinInputError(f"{city.folder}: no official hazard areas {which!r} (the City has {', '.join(known)})")
    depth = pd.to_numeric(chosen["depth_m"], errors="coerce").to_numpy(float)
    by_rank = chosen["rank"].map(RANK_DEPTH_M).to_numpy(float)
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


def _flood_depth(city: CityGrids, way: _Walkway, result: Path) -> tuple[Callable, dict]:
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


def _nearest_exit(way: _Walkway, rows: np.ndarray, cols: np.ndarray, ex_rows: np.ndarray,
                  ex_cols: np.ndarray) -> np.ndarray:
    """Index of the shelter nearest (walking over dry ground) to each start cell."""
    nx = way.walls.shape[1]
    fields = exit_fields((~way.walls).astype(np.float64), [np.array([r * nx + c]) for r, c in zip(ex_rows, ex_cols)],
                         way.cell)
    return np.argmin(fields[:, rows, cols], axis=0) if len(rows) else np.zeros(0, np.int64)


class _Outputs:
    """The tables of a finished city run, in people as well as agents."""

    def __init__(self, city, buildings, people, agents, shelters, exits, result, catchment, spec):
        self.to_lonlat = Transformer.from_crs(city.crs, LONLAT, always_xy=True).transform
        self.buildings, self.people, self.agents = buildings, people, agents
        self.shelters, self.exits, self.result, self.spec = shelters, exits, result, spec
        self.weight = agents["weight"].to_numpy(float)
        self.catchment = catchment

    def agent_table(self) -> pd.DataFrame:
        r, a = self.result, self.agents
        lon0, lat0 = self.to_lonlat(a["x"].to_numpy(), a["y"].to_numpy())
        slon, slat = self.to_lonlat(np.nan_to_num(r.stranded_x), np.nan_to_num(r.stranded_y))
        stranded = np.isfinite(r.stranded_s)
        return pd.DataFrame({
            "agent_id": a["id"].to_numpy(), "gml_id": self.buildings["gml_id"].to_numpy()[a["building"].to_numpy()],
            "profile": a["profile"].to_numpy(), "people": self.weight, "start_s": r.start_s,
            "lon": lon0, "lat": lat0, "exit_id": r.exit_id, "arrival_s": r.arrival_s, "stranded_s": r.stranded_s,
            "stranded_lon": np.where(stranded, slon, np.nan), "stranded_lat": np.where(stranded, slat, np.nan)})

    def clearance(self) -> pd.DataFrame:
        r = self.result
        times = np.arange(0.0, r.simulated_s + self.spec.record_interval_s, self.spec.record_interval_s)
        times[-1] = min(times[-1], r.simulated_s)
        arrived = _weighted_before(r.arrival_s, self.weight, times)
        stranded = _weighted_before(r.stranded_s, self.weight, times)
        total = self.weight.sum()
        return pd.DataFrame({"t_s": times, "arrived": arrived.round(2), "stranded": stranded.round(2),
                             "evacuating": (total - arrived - stranded).round(2)})

    def shelter_table(self) -> pd.DataFrame:
        r = self.result
        ids = self.shelters["shelter_id"].astype(str).to_numpy()
        index = {s: k for k, s in enumerate(ids)}
        arrived = np.isfinite(r.arrival_s)
        which = np.array([index.get(str(e), -1) for e in r.exit_id[arrived]], dtype=np.int64)
        arrivals = np.bincount(which[which >= 0], weights=self.weight[arrived][which >= 0], minlength=len(ids))
        demand = np.bincount(self.catchment, weights=self.weight, minlength=len(ids))
        capacity = self.shelters["capacity"].to_numpy(float)
        overflow = np.where(np.isfinite(capacity), np.maximum(demand - capacity, 0.0), 0.0)
        return pd.DataFrame({"shelter_id": ids, "name": self.shelters["name"].to_numpy(),
                             "lon": self.shelters["lon"].to_numpy(), "lat": self.shelters["lat"].to_numpy(),
                             "capacity": capacity, "arrivals": arrivals.round(2), "overflow": overflow.round(2)})

    def stranded_table(self, agents: pd.DataFrame) -> pd.DataFrame:
        s = agents[agents["stranded_s"].notna()]
        return pd.DataFrame({"agent_id": s["agent_id"], "profile": s["profile"], "t_s": s["stranded_s"],
                             "lon": s["stranded_lon"], "lat": s["stranded_lat"], "people": s["people"].round(3)})

    def building_table(self, agents: pd.DataFrame) -> pd.DataFrame:
        times = agents["arrival_s"].fillna(np.inf)
        median = times.groupby(agents["gml_id"]).median()
        table = pd.DataFrame({"gml_id": self.buildings["gml_id"].to_numpy(), "people": self.people.round(2)})
        table["median_evacuation_s"] = table["gml_id"].map(median).replace(np.inf, np.nan).round(1)
        return table

    def summary(self) -> dict:
        r = self.result
        arrived, stranded = np.isfinite(r.arrival_s), np.isfinite(r.stranded_s)
        by_profile = pd.Series(self.weight).groupby(self.agents["profile"].to_numpy()).sum()
        return {"people": round(float(self.people.sum()), 1),
                "people_represented": round(float(self.weight.sum()), 1),
                "people_arrived": round(float(self.weight[arrived].sum()), 1),
                "people_stranded": round(float(self.weight[stranded].sum()), 1),
                "people_by_profile": {k: round(float(v), 1) for k, v in by_profile.items()},
                "shelters": len(self.shelters),
                "vertical_shelters": int((self.shelters["kind"] == "vertical").sum())}

    def write(self, out: Path, summary: dict, occupancy: Occupancy) -> None:
        out.mkdir(parents=True, exist_ok=True)
        agents = self.agent_table()
        traj = self.result.trajectories
        lon, lat = self.to_lonlat(traj["x"].to_numpy(), traj["y"].to_numpy())
        traj = traj.assign(lon=lon, lat=lat)
        _atomic(out / "agents.parquet", lambda p: agents.to_parquet(p, index=False))
        _atomic(out / "trajectories.parquet", lambda p: traj.to_parquet(p, index=False))
        _atomic(out / "arrivals.csv", lambda p: agents[["agent_id", "exit_id", "start_s", "arrival_s"]]
                .to_csv(p, index=False))
        _atomic(out / "clearance.csv", lambda p: self.clearance().to_csv(p, index=False))
        _atomic(out / "shelters.csv", lambda p: self.shelter_table().to_csv(p, index=False))
        _atomic(out / "stranded.csv", lambda p: self.stranded_table(agents).to_csv(p, index=False))
        _atomic(out / "buildings.csv", lambda p: self.building_table(agents).to_csv(p, index=False))
        _atomic(out / "occupancy.csv", occupancy.to_csv)
        _atomic(out / "summary.json", lambda p: p.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                                              encoding="utf-8"))


def _weighted_before(times: np.ndarray, weight: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Sum of ``weight`` over the finite ``times`` ≤ each of ``at``."""
    done = np.isfinite(times)
    order = np.argsort(times[done])
    cum = np.concatenate([[0.0], np.cumsum(weight[done][order])])
    return cum[np.searchsorted(times[done][order], at, side="right")]


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    write(tmp)
    tmp.replace(path)


def agents_at(folder: Path, t: float) -> dict:
    """Every agent's lon, lat and state at the recorded time nearest ``t`` (s) of a finished run."""
    agents = pd.read_parquet(folder / "agents.parquet")
    traj = pd.read_parquet(folder / "trajectories.parquet", columns=["agent_id", "t", "lon", "lat"])
    times = np.unique(traj["t"].to_numpy()) if len(traj) else np.array([0.0])
    k = int(np.argmin(np.abs(times - t)))
    when = float(times[k])
    at = traj[traj["t"] == when].set_index("agent_id")
    lon = agents["lon"].to_numpy(float).copy()
    lat = agents["lat"].to_numpy(float).copy()
    ids = agents["agent_id"].to_numpy()
    present = np.isin(ids, at.index.to_numpy())
    lon[present] = at.loc[ids[present], "lon"].to_numpy()
    lat[present] = at.loc[ids[present], "lat"].to_numpy()
    state = np.where(agents["start_s"].to_numpy() > when, 0, 1)
    arrived = agents["arrival_s"].to_numpy() <= when
    stranded = agents["stranded_s"].to_numpy() <= when
    shelters = pd.read_csv(folder / "shelters.csv", dtype={"shelter_id": str})
    where = shelters.set_index("shelter_id")
    ex = agents["exit_id"].astype(str).to_numpy()
    at_shelter = arrived & np.isin(ex, where.index.to_numpy())
    lon[at_shelter] = where.loc[ex[at_shelter], "lon"].to_numpy()
    lat[at_shelter] = where.loc[ex[at_shelter], "lat"].to_numpy()
    lon[stranded] = agents["stranded_lon"].to_numpy()[stranded]
    lat[stranded] = agents["stranded_lat"].to_numpy()[stranded]
    state = np.where(arrived, 2, np.where(stranded, 3, state))
    load = pd.Series(agents["people"].to_numpy()[arrived]).groupby(ex[arrived]).sum()
    return {"t_s": when, "requested_t_s": t, "times_s": times.tolist(), "count": len(ids),
            "states": list(STATES),
            "agents": [{"id": int(i), "lon": round(float(a), 7), "lat": round(float(b), 7), "state": STATES[s]}
                       for i, a, b, s in zip(ids, lon, lat, state)],
            "shelter_load": {str(k): round(float(v), 1) for k, v in load.items()}}
