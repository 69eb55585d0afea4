"""An evacuation on a City: people from its buildings walk to its shelters while water rises.

``run_city_evacuation`` puts people (``twin.evacuation.population``) at the doors of their
buildings on the City's walking grid (``twin.evacuation.placement``), the City's flood
shelters (``twin.city.shelters``) as exits, and water (``twin.evacuation.hazard_depth``), runs
``sim.evacuation`` and writes the folder ``twin.evacuation.outputs`` describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.evacuation import EvacuationConfig, simulate
from twin.city.grids import CityGrids, load_grids
from twin.city.shelters import city_shelters, read_shelters, vertical_shelters
from twin.errors import TwinInputError
from twin.evacuation.grid_run import summarise
from twin.evacuation.hazard_depth import hazard_depth
from twin.evacuation.outputs import CityOutputs
from twin.evacuation.placement import doors, inside, nearest_exit, snap_exits, walkway
from twin.evacuation.population import (
    ELDERLY_SHARE,
    NEEDS_HELP_SHARE,
    TIMES_OF_DAY,
    Occupancy,
    building_people,
    default_occupancy,
    profile_shares,
    sample_agents,
    speeds_and_delays,
    storeys,
)

SHELTER_RADIUS_M = 10.0


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
    city = load_grids(folder, spec.cell_size)
    buildings = city.buildings.reset_index(drop=True)
    occupancy = spec.occupancy or default_occupancy()
    people = building_people(buildings, occupancy, spec.time_of_day)
    shelters = _shelters(city, buildings, spec)
    sx, sy = city.lonlat_to_map(shelters["lon"].to_numpy(), shelters["lat"].to_numpy())
    way = walkway(city, buildings, np.asarray(sx), np.asarray(sy), spec.margin_m)
    within = inside(way, np.asarray(sx), np.asarray(sy))
    shelters, sx, sy = shelters[within].reset_index(drop=True), np.asarray(sx)[within], np.asarray(sy)[within]
    if len(shelters) == 0:
        raise TwinInputError(f"{folder}: no shelter lies within {spec.margin_m:g} m of the city's buildings")
    reach, ex_rows, ex_cols = snap_exits(way, sx, sy)
    agents = sample_agents(people, spec.people_per_agent,
                           profile_shares(spec.elderly_share, spec.needs_help_share), rng)
    rows, cols, placed = doors(way, buildings, reach, agents["building"].to_numpy(), rng)
    agents = agents[placed].reset_index(drop=True)
    unplaced_people = float(people.sum() - agents["weight"].sum())
    x, y = way.centre(rows, cols)
    jitter = (rng.random((2, len(agents))) - 0.5) * 0.8 * way.cell
    agents["x"], agents["y"] = x + jitter[0], y + jitter[1]
    agents["id"] = np.arange(len(agents))
    agents["speed_mps"], agents["start_s"] = speeds_and_delays(agents["profile"].to_numpy(), spec.time_of_day, rng)
    ex_x, ex_y = way.centre(ex_rows, ex_cols)
    exits = pd.DataFrame({"id": shelters["shelter_id"], "x": ex_x, "y": ex_y,
                          "radius_m": max(SHELTER_RADIUS_M, way.cell),
                          "capacity": np.ceil(shelters["capacity"].to_numpy(float) / spec.people_per_agent)})
    depth, hazard = hazard_depth(city, way, spec.flood_result, spec.official_hazard)
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
    catchment = nearest_exit(way, rows, cols, ex_rows, ex_cols)
    outputs = CityOutputs(city, buildings, people, agents, shelters, result, catchment, spec.record_interval_s)
    summary = summarise(result, config)
    summary.update(outputs.summary(), hazard=hazard, time_of_day=spec.time_of_day,
                   people_per_agent=spec.people_per_agent, people_not_placed=round(unplaced_people, 1),
                   grid={"cell_size_m": way.cell, "rows": int(way.walls.shape[0]), "cols": int(way.walls.shape[1])},
                   city=city.id)
    outputs.write(out, summary, occupancy)
    return summary


def _shelters(city: CityGrids, buildings: gpd.GeoDataFrame, spec: CityEvacuation) -> pd.DataFrame:
    """The flood shelters of ``--shelters`` or of the City, with vertical ones when asked."""
    table = read_shelters(spec.shelters) if spec.shelters is not None else city_shelters(city.city)
    if spec.vertical:
        vertical = vertical_shelters(buildings, storeys(buildings), spec.vertical)
        table = pd.concat([table, vertical.drop(columns="building")], ignore_index=True)
    if len(table) == 0:
        raise TwinInputError("no shelter takes flood evacuees (none flagged 洪水 / hazards.flood)")
    return table
