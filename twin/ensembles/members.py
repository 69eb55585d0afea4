"""One ensemble member: the scenario with this member's values, run on the City, kept as small arrays.

A member runs ``twin.flood.city_run.run_city_flood`` (and, when asked, the evacuation on its water)
in a scratch folder, keeps ``max_depth.npy`` and ``arrival_time.npy`` (float32 on the flood grid;
NaN: never wet), ``wetted.npy`` (per building, in the City's order: wetted by the one wet depth of
``twin.depth_classes``) and ``summary.json`` in ``members/NNNN/``, and drops the rest (depth.nc
and its frames are most of a run's bytes and no statistic needs them). It never raises: a failure
comes back as a ``MemberOutcome`` with the error, so the orchestrator can retry it once.

Test hook: ``MemberTask.fail_attempts`` (default 0) makes that many attempts raise on purpose
before the flood runs, so tests can check the retry and the report of a member that keeps failing.
"""

from __future__ import annotations

import functools
import shutil
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sim.flood import Scheme, Series
from twin.city.grids import CityGrids, load_grids
from twin.errors import TwinInputError
from twin.files.atomic import partial, write_json
from twin.files.rasters import read_grid
from twin.flood.city_run import run_city_flood
from twin.flood.scenario import DEFAULT_MANNING, InflowSpec, Scenario

#: What each member keeps (the statistics read these, and nothing else).
MAX_DEPTH = "max_depth.npy"
ARRIVAL = "arrival_time.npy"
WETTED = "wetted.npy"
SUMMARY = "summary.json"


class InjectedFailure(RuntimeError):
    """Raised by the ``fail_attempts`` test hook."""


@dataclass(frozen=True)
class MemberTask:
    """Everything a worker needs for one member (small, pickled to the worker)."""

    index: int
    values: dict[str, float]
    city: Path
    cell_size: float | None
    scenario: Scenario
    folder: Path  # members/NNNN, on storage the workers share
    scheme: Scheme
    evacuation: dict | None = None  # options of twin.evacuation.city_run.evacuation_spec
    attempt: int = 1
    fail_attempts: int = 0  # test hook: attempts 1..fail_attempts raise InjectedFailure


@dataclass(frozen=True)
class MemberOutcome:
    """How a member's attempt went; ``error`` is None when its files are in ``folder``."""

    index: int
    attempt: int
    folder: Path
    error: str | None
    wall_s: float


def member_folder(out: Path, index: int) -> Path:
    return out / "members" / f"{index:04d}"


def member_inputs(scenario: Scenario, city: CityGrids, values: dict[str, float]) -> tuple[Scenario, CityGrids]:
    """The scenario and City grids of a member with ``values`` (see ``twin.ensembles.design.PARAMETERS``)."""
    for name, value in values.items():
        if name == "rain":
            if scenario.rain is None:
                raise TwinInputError(f"scenario {scenario.name!r} has no rain to vary")
            scenario = replace(scenario, rain=_scaled(scenario.rain, value))
        elif name == "peak":
            if not scenario.inflows:
                raise TwinInputError(f"scenario {scenario.name!r} has no inflow hydrograph to vary")
            scenario = replace(scenario, inflows=tuple(replace(i, m3_per_s=_scaled(i.m3_per_s, value))
                                                       for i in scenario.inflows))
        elif name == "breach_width":
            scenario = replace(scenario, inflows=(_widened(scenario, city, value), *scenario.inflows[1:]))
        elif name == "manning":
            if scenario.manning is None and city.roughness is not None:  # the City's land use, as flood_run reads it
                filled = np.where(np.isfinite(city.roughness), city.roughness, DEFAULT_MANNING)
                city = replace(city, roughness=filled * value)
            else:
                ground = DEFAULT_MANNING if scenario.manning is None else scenario.manning
                scenario = replace(scenario, manning=ground * value)
            scenario = replace(scenario, manning_roads=scenario.manning_roads * value)
        else:
            raise TwinInputError(f"cannot vary {name!r}")
    return scenario, city


def _scaled(series: Series, factor: float) -> Series:
    return Series(series.times, series.values * factor, hold=series.hold)


def _widened(scenario: Scenario, city: CityGrids, width_m: float) -> InflowSpec:
    """The first inflow as a line of ``width_m`` about its middle, its discharge scaled by the width
    ratio: a broad-crested weir passes Q = C·B·H^1.5, proportional to the breach width B at a given
    head (Henderson 1966, §6.4)."""
    if not scenario.inflows or len(scenario.inflows[0].positions) != 2:
        raise TwinInputError(f"scenario {scenario.name!r} has no breach line (a first inflow with two "
                             "positions) whose width could vary")
    spec = scenario.inflows[0]
    ends = np.array(spec.positions, dtype=float)
    if spec.crs == "lonlat":
        xs, ys = city.lonlat_to_map(ends[:, 0], ends[:, 1])
        ends = np.column_stack([xs, ys])
    middle, half = ends.mean(axis=0), (ends[1] - ends[0]) / 2
    length = 2 * float(np.hypot(*half))
    if length <= 0:
        raise TwinInputError(f"scenario {scenario.name!r}: the breach line has no length")
    new = np.array([middle - half * width_m / length, middle + half * width_m / length])
    if spec.crs == "lonlat":
        lon, lat = city.map_to_lonlat(new[:, 0], new[:, 1])
        new = np.column_stack([lon, lat])
    positions = tuple((float(a), float(b)) for a, b in new)
    return replace(spec, positions=positions, m3_per_s=_scaled(spec.m3_per_s, width_m / length))


@functools.lru_cache(maxsize=2)
def _grids(city: Path, cell_size: float | None) -> CityGrids:
    """The City's grids, read once per worker process for all the members it runs."""
    return load_grids(city, cell_size)


def run_member(task: MemberTask) -> MemberOutcome:
    """Run one member into ``task.folder``; never raises (the error comes back in the outcome)."""
    start = time.perf_counter()
    scratch = partial(task.folder)
    try:
        if task.attempt <= task.fail_attempts:
            raise InjectedFailure(f"member {task.index}: failure injected for attempt {task.attempt} (test hook)")
        scenario, city = member_inputs(task.scenario, _grids(task.city, task.cell_size), task.values)
        shutil.rmtree(scratch, ignore_errors=True)
        summary = run_city_flood(city, scenario, scratch / "flood", scheme=task.scheme)
        kept = scratch / "kept"
        kept.mkdir()
        np.save(kept / MAX_DEPTH, read_grid(scratch / "flood" / "max_depth.tif", np.float32).data)
        np.save(kept / ARRIVAL, read_grid(scratch / "flood" / "arrival_time.tif", np.float32).data)
        table = pd.read_parquet(scratch / "flood" / "buildings.parquet", columns=["simulated_rank"])
        np.save(kept / WETTED, table["simulated_rank"].to_numpy() > 0)
        record = {"member": task.index, "attempt": task.attempt, "values": task.values,
                  "max_depth_m": summary["max_depth_m"], "flooded_area_m2": summary["flooded_area_m2"],
                  "buildings_wetted": summary["buildings"]["wetted"], "scheme": summary["scheme"],
                  "mass_error_rel": summary["mass_error_rel"], "flood_wall_s": summary["wall_s"]}
        if task.evacuation is not None:
            record["evacuation"] = _evacuate(task, scratch)
        write_json(kept / SUMMARY, record)
        shutil.rmtree(task.folder, ignore_errors=True)
        task.folder.parent.mkdir(parents=True, exist_ok=True)
        kept.replace(task.folder)
        error = None
    except Exception as exc:  # a member's failure is data for the ensemble, not the end of it
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (TwinInputError, InjectedFailure)):
            error += "\n" + "".join(traceback.format_exception(exc)[-3:])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return MemberOutcome(task.index, task.attempt, task.folder, error, time.perf_counter() - start)


def _evacuate(task: MemberTask, scratch: Path) -> dict:
    """The evacuation on this member's water: its headline figures."""
    from twin.evacuation.city_run import evacuation_spec, run_city_evacuation

    options = task.evacuation or {}
    spec = evacuation_spec(options, scratch / "flood", task.cell_size)
    summary = run_city_evacuation(task.city, spec, scratch / "evacuation")
    return {k: summary.get(k) for k in ("agents", "arrived", "stranded", "not_arrived", "evacuation_time_s")}
