"""Key figures of a finished scenario job, read from its folder (``DATA_DIR/scenarios/<id>/``).

Flood figures come from ``result/`` (``max_depth.tif``, ``depth.nc``, ``buildings.parquet``,
written by ``twin.flood.city_run``); evacuation figures from ``evacuation/`` (``summary.json``,
``shelters.csv``, ``buildings.csv``, ``clearance.csv``) when an evacuation ran after the
flood. A cell or a building counts as flooded where it is wet at the run's wet depth
(``twin.depth_classes.is_wet``), the same test the run's own summary and the command line use;
depth classes are the MLIT ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pandas as pd

from twin import depth_classes
from twin.errors import TwinInputError
from twin.files.rasters import Grid, read_grid
from twin.scenarios.results import JobFiles


def max_depth(files: JobFiles) -> Grid:
    """The job's maximum depth grid (local CRS, NaN where nodata)."""
    return read_grid(files.result / "max_depth.tif")


def flooded_area(depth: np.ndarray, cell_area_m2: float, wet_m: float) -> float:
    """Area (m²) of the cells wet at ``wet_m``."""
    return float(np.count_nonzero(depth_classes.is_wet(depth, wet_m)) * cell_area_m2)


def flood_figures(files: JobFiles) -> dict[str, Any]:
    """Maximum depth, flooded area in all and per MLIT depth class."""
    grid = max_depth(files)
    wet_m = files.wet_depth()
    cell_area = grid.cell_size ** 2
    ranks = depth_classes.rank_of_depth(grid.data, wet_m)
    finite = grid.data[np.isfinite(grid.data)]
    return {
        "max_depth_m": round(float(finite.max()), 3) if finite.size else 0.0,
        "cell_size_m": grid.cell_size,
        "wet_depth_m": wet_m,
        "flooded_area_m2": flooded_area(grid.data, cell_area, wet_m),
        "flooded_area_by_class_m2": {depth_classes.key(r): float(np.count_nonzero(ranks == r) * cell_area)
                                     for r in depth_classes.RANKS},
    }


def flooded_area_series(files: JobFiles) -> list[tuple[float, float]]:
    """(time s, flooded area m²) at each stored output time of ``depth.nc``."""
    path = files.result / "depth.nc"
    if not path.is_file():
        return []
    wet_m = files.wet_depth()
    with netCDF4.Dataset(path) as ds:
        xs = ds["x"][:]
        cell = float(abs(xs[1] - xs[0])) if len(xs) > 1 else 1.0
        return [(float(t), flooded_area(np.asarray(ds["depth"][k].filled(np.nan)), cell * cell, wet_m))
                for k, t in enumerate(ds["time"][:])]


def building_table(files: JobFiles) -> pd.DataFrame:
    return pd.read_parquet(files.result / "buildings.parquet")


def building_figures(table: pd.DataFrame) -> dict[str, Any]:
    """Buildings in all, flooded, and flooded per simulated MLIT depth class."""
    ranks = table["simulated_rank"].astype(int)
    return {"count": len(table), "flooded": int((ranks >= 1).sum()),
            "by_depth_class": {depth_classes.key(r): int((ranks == r).sum()) for r in depth_classes.RANKS}}


def evacuation_figures(files: JobFiles, table: pd.DataFrame) -> dict[str, Any] | None:
    """Agents, arrivals, stranded people, clearance time, people in flooded buildings and
    overflowing shelters; None when no evacuation ran."""
    if not files.has_evacuation():
        return None
    folder = files.evacuation
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise TwinInputError(f"{folder / 'summary.json'}: not JSON ({exc})") from None
    out: dict[str, Any] = {key: summary.get(key) for key in
                           ("agents", "arrived", "stranded", "evacuation_time_s", "people_by_profile")}
    out["people_affected"] = None
    if (folder / "buildings.csv").is_file():
        people = pd.read_csv(folder / "buildings.csv", dtype={"gml_id": str})
        flooded = set(table.loc[table["simulated_rank"] >= 1, "gml_id"])
        out["people_affected"] = int(people.loc[people["gml_id"].isin(flooded), "people"].sum())
    out["shelters"] = 0
    out["shelters_overflowing"] = []
    if (folder / "shelters.csv").is_file():
        shelters = pd.read_csv(folder / "shelters.csv", dtype={"shelter_id": str})
        out["shelters"] = len(shelters)
        over = shelters[shelters["overflow"] > 0]
        out["shelters_overflowing"] = [
            {"shelter_id": r.shelter_id, "name": r.name, "capacity": int(r.capacity),
             "arrivals": int(r.arrivals), "overflow": int(r.overflow)} for r in over.itertuples()]
    return out


def clearance_series(files: JobFiles) -> pd.DataFrame | None:
    """``clearance.csv`` (t_s, arrived, stranded, evacuating) when an evacuation ran."""
    path = files.evacuation / "clearance.csv"
    return pd.read_csv(path) if path.is_file() else None


def scenario_figures(folder: Path, job: dict[str, Any]) -> dict[str, Any]:
    """The key figures of the finished job in ``folder`` (``job`` is its public state)."""
    files = JobFiles(folder)
    table = building_table(files)
    scenario = job.get("scenario") or {}
    return {
        "job": job["id"], "city": job["city"],
        "scenario": {"name": scenario.get("name"), "title": scenario.get("title"),
                     "duration_s": scenario.get("duration_s")},
        "flood": flood_figures(files),
        "buildings": building_figures(table),
        "evacuation": evacuation_figures(files, table),
        "terrain": terrain_figures(files),
    }


def terrain_figures(files: JobFiles) -> dict[str, Any]:
    """Where the flood's terrain came from: the share estimated (not measured) and each source's share."""
    summary = json.loads((files.result / "summary.json").read_text(encoding="utf-8"))
    terrain = summary.get("terrain") or {}
    return {"estimated_share": terrain.get("estimated_share"),
            "sources": [{"kind": s["kind"], "share": s["share"]} for s in terrain.get("sources") or []]}
