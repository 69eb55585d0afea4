"""One nowcast cycle: from the last warm state through the observed forcing to the issue time,
then the forecast over the horizon, kept as a forecast with its issue and valid times.

1. **Start.** The engine state saved by the previous cycle (at its issue time) when there is
   one no older than ``MAX_GAP`` and on the same grid; else a dry City ``SPINUP`` before the
   issue time (a cold start, said so in the forecast).
2. **Analysis.** Run with the observed forcing to the issue time and save that state: the next
   cycle's warm start (``twin.nowcast.folder``).
3. **Forecast.** Go on with the forecast forcing (``twin.nowcast.forcing``) to the horizon with
   fresh maxima and arrival times; per building the predicted maximum depth, the time it first
   gets wet and the time water reaches the alert depth (0.5 m by default: knee depth, where
   walking stops, REFERENCES.md "Walking in water"), the time left to leave to a flood shelter
   that stays reachable (:func:`leave_times`, walks on the dry City, ``twin.hazardmap.shelter_walk``,
   1.0 m/s); per shelter when its cell reaches the alert depth; per output time the buildings wet, the
   buildings at the alert depth, the flooded area and the road length cut (roads under
   ``ROAD_CUT_M``: cars stall at 0.3–0.5 m, same reference); per road feature when it is cut
   (``twin.nowcast.roads``); per area the least time left to leave (``twin.nowcast.areas``).
"""

from __future__ import annotations

import shutil
import time as wallclock
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from sim.flood import FloodModel, Scheme, Snapshot
from twin.city.grids import CityGrids, footprint_labels
from twin.depth_classes import WET_DEPTH_M, WET_TOLERANCE_M
from twin.files.atomic import publish, staging_folder, write_json
from twin.files.rasters import Grid, write_grid
from twin.flood.city_run import flood_run
from twin.flood.scenario import InflowSpec, Scenario
from twin.hazardmap.shelter_walk import WALKING_SPEED_M_S, Shelter, ShelterWalk
from twin.nowcast.areas import area_table
from twin.nowcast.config import NowcastConfig
from twin.nowcast.folder import NowcastFolder, issue_stamp
from twin.nowcast.forcing import CycleForcing, cycle_forcing
from twin.nowcast.roads import ROAD_CUT_M, RoadCells, road_forecast
from twin.sensors.footfall_areas import load_areas
from twin.sensors.times import iso

SPINUP = timedelta(hours=1)
MAX_GAP = timedelta(hours=6)


class BuildingCells:
    """The open cells on or next to each building's footprint (the neighbourhood that
    ``twin.flood.city_run.building_table`` reads), as flat (cell, building) pairs."""

    def __init__(self, city: CityGrids, blocked: np.ndarray) -> None:
        labels = footprint_labels(city.buildings, city.terrain.transform, city.terrain.shape)
        rows, cols = labels.shape
        padded = np.pad(labels, 1)
        flat = np.arange(rows * cols).reshape(rows, cols)
        open_ = blocked < 1.0
        cells, owners = [], []
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
                hit = (neighbour > 0) & open_
                cells.append(flat[hit])
                owners.append(neighbour[hit] - 1)
        self.cells = np.concatenate(cells)
        self.owners = np.concatenate(owners)
        self.count = len(city.buildings)

    def maximum(self, grid: np.ndarray) -> np.ndarray:
        """Per building, the largest value of ``grid`` over its cells (NaN when it has none)."""
        out = np.full(self.count, -np.inf)
        np.maximum.at(out, self.owners, np.nan_to_num(grid.ravel()[self.cells], nan=-np.inf))
        return np.where(np.isfinite(out), out, np.nan)

    def minimum(self, grid: np.ndarray) -> np.ndarray:
        """Per building, the smallest value of ``grid`` over its cells (NaN when none is finite)."""
        out = np.full(self.count, np.inf)
        np.minimum.at(out, self.owners, np.nan_to_num(grid.ravel()[self.cells], nan=np.inf))
        return np.where(np.isfinite(out), out, np.nan)


@dataclass
class CityContext:
    """What every cycle of a City reuses: its grids, building cells and shelter walk."""

    grids: CityGrids
    buildings: BuildingCells
    walked: list[Shelter]  # the flood shelters reachable on foot from somewhere, the columns of walk_s
    walk_s: np.ndarray  # (buildings, walked): walking time on the dry City to each shelter (inf: none)
    walk: ShelterWalk
    roads: RoadCells  # the City's road features on the grid (none when it has no roads.parquet)

    @classmethod
    def of(cls, grids: CityGrids) -> CityContext:
        walk = ShelterWalk.of_city(grids.city)
        frame = grids.buildings
        starts = [walk.start_cell(float(lon), float(lat)) if np.isfinite(lon) and np.isfinite(lat) else None
                  for lon, lat in zip(frame["centroid_lon"], frame["centroid_lat"])]
        walked, distance = walk.distances_to_each(starts)
        roads = (grids.city.roads().to_crs(grids.crs) if grids.city.has("roads")
                 else gpd.GeoDataFrame({"gml_id": []}, geometry=gpd.GeoSeries([], crs=grids.crs)))
        road_cells = RoadCells(roads, grids.terrain.transform, grids.terrain.shape, grids.blocked)
        return cls(grids, BuildingCells(grids, grids.blocked), walked, distance / WALKING_SPEED_M_S, walk, road_cells)


def scenario_of(config: NowcastConfig, forcing: CycleForcing) -> Scenario:
    """The cycle's forcing as a flood scenario on the model's clock."""
    inflows = tuple(InflowSpec(f"breach {gauge.datastream}", gauge.breach, "lonlat", discharge)  # type: ignore[arg-type]
                    for gauge, discharge in forcing.breaches)
    return Scenario(name="nowcast", title={"ja": "ナウキャスト", "en": "nowcast"}, duration_s=config.horizon_s,
                    output_interval_s=config.output_interval_s, rain=forcing.rain, rain_grids=forcing.rain_grids,
                    rain_grid_times=forcing.rain_grid_times, inflows=inflows,
                    boundaries=tuple(forcing.stages.items()), source=f"nowcast of {config.city}")


def run_cycle(context: CityContext, config: NowcastConfig, folder: NowcastFolder, session: Session,
              issue: datetime) -> dict[str, Any]:
    """Run the cycle issued at ``issue``; keep its forecast and warm state; return ``forecast.json``."""
    began = wallclock.perf_counter()
    grids = context.grids
    warm = folder.state()
    start, how = issue - SPINUP, "cold start: a dry City one hour before the issue time"
    if warm is not None:
        state, valid, meta = warm
        if valid <= issue and issue - valid <= MAX_GAP and state.depth.shape == grids.terrain.shape \
                and meta.get("cell_size_m") == config.cell_size_m and meta.get("origin") == iso(config.origin):
            start, how = valid, f"warm start from the state at {iso(valid)}"
        else:
            warm = None
    if warm is None:  # the model's clock starts at the cold start, so that its times stay small
        config = config.with_origin(start)
        folder.save_config(config)
    posted = folder.posted()
    forcing = cycle_forcing(session, config, posted, start, issue, folder.rain_grid(posted), grids.terrain)
    kind = warm[0].scheme if warm is not None else config.scheme
    run = flood_run(grids, scenario_of(config, forcing), Scheme(kind=kind, dtype=np.float32))  # type: ignore[arg-type]
    model = FloodModel(run.dem.data, run.dem.cell_size, manning=run.manning, blocked=run.blocked,
                       buildings=run.buildings, building_height=run.building_height_m, forcing=run.forcing,
                       scheme=run.scheme, arrival_depth=WET_DEPTH_M - WET_TOLERANCE_M)
    if warm is not None:
        model.restore(warm[0])
    issue_s = config.seconds(issue)
    model.run(issue_s)
    analysis = model.state()
    folder.save_state(analysis, issue, {"cell_size_m": config.cell_size_m, "scheme": analysis.scheme,
                                        "issued": iso(issue), "origin": iso(config.origin)})  # the state's clock
    model.restore(analysis, tracks=False)
    frames = Frames(context, config, issue_s, run.blocked if run.blocked is not None else grids.blocked)
    model.run(config.seconds(forcing.end), output_interval=config.output_interval_s, on_output=frames.add)
    result = model.result()
    shelters = _shelter_forecast(config, result.max_depth, frames)
    table = _building_forecast(context, result.max_depth, result.arrival_time - issue_s, frames, shelters)
    roads = frames.road_forecast()
    soon = table["alert_in_s"] <= config.alert_lead_s
    forecast = {
        "city": config.city, "issued": iso(issue), "valid_from": iso(issue), "valid_to": iso(forcing.end),
        "horizon_s": config.horizon_s, "start": how, "scheme": result.scheme,
        "scheme_reason": result.scheme_reason if warm is None else f"{result.scheme}: kept from the warm start",
        "forcing": forcing.labels,
        "gauges": {str(k): v for k, v in forcing.predicted_stage.items()},
        "timeline": frames.timeline,
        "buildings": {"count": int(len(table)), "wet": int(table["max_depth_m"].ge(WET_DEPTH_M - WET_TOLERANCE_M).sum()),
                      "at_alert_depth": int(table["alert_in_s"].notna().sum()),
                      "alert_depth_m": config.alert_depth_m},
        "shelters": shelters,
        "roads": {"count": int(len(roads)), "cut": int(roads["cut_at"].notna().sum()), "cut_depth_m": ROAD_CUT_M},
        "alerts": {"lead_s": config.alert_lead_s, "depth_m": config.alert_depth_m,
                   "buildings": int(soon.sum()),
                   "first_buildings": table.loc[soon].sort_values("alert_in_s")["gml_id"].head(20).tolist(),
                   "shelters": [s["id"] for s in shelters if s["alert_in_s"] is not None
                                and s["alert_in_s"] <= config.alert_lead_s]},
        "mass_error_rel": result.mass.error_rel,
        "wall_s": round(wallclock.perf_counter() - began, 2),
    }
    areas = area_table(table, load_areas(folder.data_dir, config.city))
    _keep(folder, issue, forecast, table, frames.building_depths(), areas, roads, grids, result.max_depth,
          result.arrival_time - issue_s)
    return forecast


class Frames:
    """Collects, at each output time of the forecast, each building's depth and the City's totals."""

    def __init__(self, context: CityContext, config: NowcastConfig, issue_s: float, blocked: np.ndarray) -> None:
        self.context, self.config, self.issue_s = context, config, issue_s
        self.cell_area = context.grids.terrain.cell_size ** 2
        self.roads = (context.grids.roads >= 0.5) & (blocked < 1.0)
        self.shelters = shelter_cells(context)
        self._shelter_rows = np.array([r for _, r, _ in self.shelters], np.int64)
        self._shelter_cols = np.array([c for _, _, c in self.shelters], np.int64)
        self.times: list[float] = []
        self.depths: list[np.ndarray] = []
        self.shelter_depths: list[np.ndarray] = []
        self.timeline: list[dict[str, Any]] = []
        self.valid: list[datetime] = []
        self.road_maxima: list[np.ndarray] = []
        self.road_cut_cells: list[np.ndarray] = []

    def add(self, snap: Snapshot) -> None:
        depth = np.nan_to_num(snap.depth, nan=0.0)
        per_building = self.context.buildings.maximum(depth)
        lead = snap.time - self.issue_s
        self.times.append(lead)
        self.depths.append(per_building)
        self.shelter_depths.append(depth[self._shelter_rows, self._shelter_cols])
        self.valid.append(self.config.origin + timedelta(seconds=snap.time))
        self.road_maxima.append(self.context.roads.maximum(depth))
        self.road_cut_cells.append(self.context.roads.cut_cells(depth))
        wet = WET_DEPTH_M - WET_TOLERANCE_M
        self.timeline.append({
            "lead_s": round(float(lead), 3),
            "valid": iso(self.valid[-1]),
            "buildings_wet": int(np.sum(per_building >= wet)),
            "buildings_at_alert_depth": int(np.sum(per_building >= self.config.alert_depth_m)),
            "flooded_area_m2": float(np.sum(depth >= wet) * self.cell_area),
            "roads_cut_km": round(float(np.sum(self.roads & (depth >= ROAD_CUT_M))) * self.context.grids.terrain.cell_size
                                  / 1000, 3),
        })

    def road_forecast(self) -> gpd.GeoDataFrame:
        """Per road: when it is cut, its maximum depth and area cut (:func:`twin.nowcast.roads.road_forecast`)."""
        roads = self.context.roads
        shape = (len(self.valid), roads.count)
        maxima = np.array(self.road_maxima).reshape(shape)
        counts = np.array(self.road_cut_cells).reshape(shape)
        return road_forecast(roads, self.valid, maxima, counts, self.context.grids.terrain.cell_size)

    def building_depths(self) -> pd.DataFrame:
        """Each building's depth (m) at each output time: ``gml_id`` and one column per lead time
        (seconds after issue, as text), in the order of the forecast's timeline."""
        columns = {f"{lead:g}": np.nan_to_num(depth, nan=0.0).astype(np.float32)
                   for lead, depth in zip(self.times, self.depths)}
        return pd.DataFrame({"gml_id": self.context.grids.buildings["gml_id"].to_numpy(), **columns})

    def first_reaching(self, depths: np.ndarray) -> np.ndarray:
        """Per column of ``depths`` (times × items), the lead time (s) the series first reaches
        the alert depth, linear between output times; NaN when it never does."""
        level = self.config.alert_depth_m
        times = np.array(self.times)
        above = depths >= level
        hit = above.any(axis=0)
        k = np.argmax(above, axis=0)
        out = np.full(depths.shape[1], np.nan)
        for_interp = hit & (k > 0)
        i = np.flatnonzero(for_interp)
        d0, d1 = depths[k[i] - 1, i], depths[k[i], i]
        t0, t1 = times[k[i] - 1], times[k[i]]
        out[i] = t0 + (t1 - t0) * (level - d0) / np.where(d1 > d0, d1 - d0, 1.0)
        out[hit & (k == 0)] = times[0]
        return out


def _building_forecast(context: CityContext, max_depth: np.ndarray, arrival_s: np.ndarray, frames: Frames,
                       shelters: list[dict[str, Any]]) -> pd.DataFrame:
    cells = context.buildings
    alert_in = frames.first_reaching(np.nan_to_num(np.array(frames.depths), nan=0.0))
    floods = {s["id"]: s["alert_in_s"] for s in shelters if s["alert_in_s"] is not None}
    shelter_alert_in = np.array([floods.get(s.id, np.inf) for s in context.walked], float)
    left, chosen, walk = leave_times(alert_in, context.walk_s, shelter_alert_in)
    frame = context.grids.buildings
    return pd.DataFrame({
        "gml_id": frame["gml_id"].to_numpy(),
        "max_depth_m": cells.maximum(max_depth).astype(np.float32),
        "wet_in_s": cells.minimum(arrival_s),
        "alert_in_s": alert_in,
        "shelter": [context.walked[k].id if k >= 0 else None for k in chosen],
        "walk_s": walk,
        "time_to_leave_s": left,
        "centroid_lon": frame["centroid_lon"].to_numpy(float),
        "centroid_lat": frame["centroid_lat"].to_numpy(float),
    })


def leave_times(alert_in: np.ndarray, walk_s: np.ndarray,
                shelter_alert_in: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per building, the time left to leave, the shelter it counts (a column of ``walk_s``, -1:
    none walkable) and the walk there (NaN: none). Time left: the latest departure that leaves
    before the water reaches the building at the alert depth (``alert_in``, NaN: never) and
    arrives before it reaches the shelter's (``shelter_alert_in``, inf: never), the max over
    shelters of min(the two) − walk; a shelter flooding before the walk would end scores below
    zero, so one that stays reachable wins. Where the water never comes: NaN, the nearest shelter."""
    n = len(alert_in)
    if walk_s.shape[1] == 0:
        return np.full(n, np.nan), np.full(n, -1), np.full(n, np.nan)
    reached = np.isfinite(alert_in)
    until = np.minimum(np.where(reached, alert_in, 0.0)[:, None], shelter_alert_in[None, :]) - walk_s
    chosen = np.argmax(np.where(reached[:, None], until, -walk_s), axis=1)
    walkable = np.isfinite(walk_s).any(axis=1)
    rows = np.arange(n)
    return (np.where(reached & walkable, until[rows, chosen], np.nan), np.where(walkable, chosen, -1),
            np.where(walkable, walk_s[rows, chosen], np.nan))


def shelter_cells(context: CityContext) -> list[tuple[Any, int, int]]:
    """The flood shelters whose place lies on the flood grid, with their cell."""
    grids = context.grids
    rows, cols = grids.terrain.shape
    out = []
    for shelter in context.walk.shelters:
        x, y = grids.lonlat_to_map(np.array([shelter.lon]), np.array([shelter.lat]))
        row, col = grids.terrain.cell_of(float(x[0]), float(y[0]))
        if 0 <= row < rows and 0 <= col < cols:
            out.append((shelter, row, col))
    return out


def _shelter_forecast(config: NowcastConfig, max_depth: np.ndarray, frames: Frames) -> list[dict[str, Any]]:
    """Each flood shelter on the grid: its cell's predicted maximum depth, the lead time water
    there reaches the alert depth, and whether it stays reachable (never does over the horizon)."""
    if not frames.shelters:
        return []
    alert_in = frames.first_reaching(np.array(frames.shelter_depths))
    return [{"id": shelter.id, "name": shelter.name, "lon": shelter.lon, "lat": shelter.lat,
             "max_depth_m": round(float(np.nan_to_num(max_depth[row, col], nan=0.0)), 3),
             "alert_in_s": None if np.isnan(a) else round(float(a), 1), "stays_reachable": bool(np.isnan(a))}
            for (shelter, row, col), a in zip(frames.shelters, alert_in)]


def _keep(folder: NowcastFolder, issue: datetime, forecast: dict[str, Any], table: pd.DataFrame,
          depths: pd.DataFrame, areas: dict[str, Any], roads: gpd.GeoDataFrame, grids: CityGrids, max_depth: np.ndarray,
          arrival_s: np.ndarray) -> None:
    """Write the forecast's folder whole (staging folder, then one rename)."""
    folder.forecasts.mkdir(parents=True, exist_ok=True)
    final = folder.forecasts / issue_stamp(issue)
    staging = staging_folder(final)
    table.to_parquet(staging / "buildings.parquet", index=False)
    depths.to_parquet(staging / "building_depths.parquet", index=False)
    write_json(staging / "areas.json", areas)
    roads.to_parquet(staging / "roads.parquet", index=False)
    t = grids.terrain
    write_grid(staging / "max_depth.tif", Grid(max_depth.astype(np.float32), t.transform, t.crs))
    write_grid(staging / "arrival_time.tif", Grid(arrival_s.astype(np.float32), t.transform, t.crs))
    write_json(staging / "forecast.json", forecast)
    if final.exists():
        shutil.rmtree(final)
    publish(staging, final)
