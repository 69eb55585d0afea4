"""A flood scenario on a City: its grids, and what each building sees.

``run_city_flood`` puts a ``Scenario`` on the City's grids (``twin.city.grids``: terrain,
buildings as walls, roads for Manning's n), runs ``twin.flood.grid_run.run_flood`` and adds
``buildings.parquet`` (per building: the maximum depth over the open cells touching its
footprint, the time they first got wet, official and simulated MLIT ranks) and a comparison
with the official PLATEAU ranks to ``summary.json``. A building is wetted where that depth is
wet by ``twin.depth_classes.is_wet`` at the scenario's arrival depth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sim.flood import Boundaries, Boundary, Forcing, Inflow, Rain, Scheme, Series
from twin import depth_classes
from twin.city.grids import CityGrids, footprint_labels
from twin.errors import TwinInputError
from twin.files.atomic import write_json, write_with
from twin.files.rasters import read_grid
from twin.flood.grid_run import FloodRun, run_flood
from twin.flood.scenario import DEFAULT_MANNING, Scenario


def flood_run(city: CityGrids, scenario: Scenario, scheme: Scheme | None = None,
              duration_s: float | None = None, output_interval_s: float | None = None) -> FloodRun:
    """The engine's inputs for ``scenario`` on ``city`` (positions checked against the grid); without
    ``scheme``, the engine's defaults with the scenario's scheme (``auto`` unless it names one)."""
    blocked = city.blocked if scenario.buildings != "none" else np.zeros_like(city.blocked)
    ground = scenario.manning if scenario.manning is not None else land_use_manning(city)
    manning = np.where(city.roads >= 0.5, scenario.manning_roads, ground)
    sides = {side: (Boundary.closed() if kind == "closed" else Boundary.open() if kind == "open"
                    else Boundary.fixed_stage(kind if isinstance(kind, Series) else float(kind)))
             for side, kind in scenario.boundaries}
    inflows = tuple(_inflow(city, scenario, i, blocked) for i in range(len(scenario.inflows)))
    rain = _rain(city, scenario)
    return FloodRun(
        dem=city.terrain,
        duration_s=scenario.duration_s if duration_s is None else duration_s,
        output_interval_s=scenario.output_interval_s if output_interval_s is None else output_interval_s,
        manning=manning, blocked=blocked,
        buildings="raised" if scenario.buildings == "raised" else "walls",
        building_height_m=scenario.building_height_m,
        forcing=Forcing(rain=rain, inflows=inflows, boundaries=Boundaries(**sides)),
        scheme=scheme or Scheme(kind=scenario.scheme),
        arrival_depth_m=scenario.arrival_depth_m,
    )


def _rain(city: CityGrids, scenario: Scenario) -> Rain | None:
    """The scenario's uniform rain plus its rain grids, which must lie on the City's flood grid."""
    if scenario.rain_grids is None:
        return Rain(scenario.rain) if scenario.rain is not None else None
    if scenario.rain_grids.shape[1:] != city.terrain.shape:
        raise TwinInputError(f"{scenario.source}: rain grids of {scenario.rain_grids.shape[1:]} cells on a flood grid "
                             f"of {city.terrain.shape}")
    return Rain(scenario.rain if scenario.rain is not None else Series.constant(0.0),
                grid_times=scenario.rain_grid_times, grids=scenario.rain_grids)


def land_use_manning(city: CityGrids) -> np.ndarray | float:
    """Manning's n of the ground from the City's land use (``roughness.tif``), ``DEFAULT_MANNING`` where it has none."""
    if city.roughness is None:
        return DEFAULT_MANNING
    return np.where(np.isfinite(city.roughness), city.roughness, DEFAULT_MANNING)


def _inflow(city: CityGrids, scenario: Scenario, index: int, blocked: np.ndarray) -> Inflow:
    spec = scenario.inflows[index]
    key = f"{scenario.source}: inflows[{index}].{'lonlat' if spec.crs == 'lonlat' else 'xy'}"
    pts = np.array(spec.positions, dtype=float)
    xs, ys = (city.lonlat_to_map(pts[:, 0], pts[:, 1]) if spec.crs == "lonlat" else (pts[:, 0], pts[:, 1]))
    cells = []
    rows, cols = city.terrain.shape
    for (a, b), x, y in zip(spec.positions, np.atleast_1d(xs), np.atleast_1d(ys)):
        row, col = city.terrain.cell_of(float(x), float(y))
        if not (0 <= row < rows and 0 <= col < cols):
            w, s, e, n = city.lonlat_bounds()
            raise TwinInputError(f"{key}: ({a:g}, {b:g}) lies outside the grid of city {city.id!r} "
                                 f"(lon {w:.5f}..{e:.5f}, lat {s:.5f}..{n:.5f})")
        cells.append((row, col))
    if len(cells) == 1:
        inflow = Inflow.point(*cells[0], spec.m3_per_s, name=spec.name)
    else:
        inflow = Inflow.line(cells[0], cells[1], spec.m3_per_s, name=spec.name)
    keep = blocked[inflow.rows, inflow.cols] < 1.0
    if not keep.any():
        raise TwinInputError(f"{key}: {spec.positions} falls inside a building; move it to open ground")
    return Inflow(inflow.rows[keep], inflow.cols[keep], spec.m3_per_s, spec.name)


def run_city_flood(city: CityGrids, scenario: Scenario, out: Path,
                   on_progress: Callable[[float, float], None] | None = None,
                   scheme: Scheme | None = None, duration_s: float | None = None,
                   output_interval_s: float | None = None) -> dict:
    """Run ``scenario`` on ``city`` into ``out``; returns the summary (also in summary.json)."""
    run = flood_run(city, scenario, scheme, duration_s, output_interval_s)
    summary = run_flood(run, out, on_progress)
    max_depth = read_grid(out / "max_depth.tif").data
    arrival = read_grid(out / "arrival_time.tif").data
    blocked = run.blocked if run.blocked is not None else np.zeros(city.terrain.shape)
    table = building_table(city, blocked, max_depth, arrival, scenario.arrival_depth_m)
    write_with(out / "buildings.parquet", lambda p: table.to_parquet(p, index=False))
    wet = table["simulated_rank"] > 0
    summary.update({
        "city": city.id,
        "scenario": scenario.as_dict(),
        "grid_lonlat_bounds": list(city.lonlat_bounds()),
        "buildings": {"count": int(len(table)), "wetted": int(wet.sum()), "wet_depth_m": scenario.arrival_depth_m,
                      "simulated_rank_counts": {depth_classes.key(r): int((table["simulated_rank"] == r).sum())
                                                for r in (0, *depth_classes.RANKS)},
                      "first_wet_s": float(table["first_wet_s"].min()) if wet.any() else None},
        "comparison": rank_comparison(table),
        "terrain": {"estimated_share": city.estimated_share,
                    "sources": (city.city.manifest.get("terrain") or {}).get("sources")},
    })
    write_json(out / "summary.json", summary)
    return summary


def building_table(city: CityGrids, blocked: np.ndarray, max_depth: np.ndarray, arrival: np.ndarray,
                   wet_m: float = depth_classes.WET_DEPTH_M) -> pd.DataFrame:
    """Per building: max depth and first wetting over the open cells on or next to its footprint."""
    labels = footprint_labels(city.buildings, city.terrain.transform, city.terrain.shape)
    n = len(city.buildings)
    open_ = blocked < 1.0
    depth = np.where(open_, np.nan_to_num(max_depth, nan=0.0), -np.inf)
    wet_at = np.where(open_ & np.isfinite(arrival), arrival, np.inf)
    best_depth = np.full(n + 1, -np.inf)
    first_wet = np.full(n + 1, np.inf)
    rows, cols = labels.shape
    padded = np.pad(labels, 1)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
            hit = neighbour > 0
            np.maximum.at(best_depth, neighbour[hit], depth[hit])
            np.minimum.at(first_wet, neighbour[hit], wet_at[hit])
    best_depth, first_wet = best_depth[1:], first_wet[1:]
    frame = city.buildings
    official_depth = pd.to_numeric(frame.get("max_flood_depth"), errors="coerce").to_numpy(float) \
        if "max_flood_depth" in frame else np.full(n, np.nan)
    official_rank = pd.to_numeric(frame.get("max_flood_rank"), errors="coerce") \
        if "max_flood_rank" in frame else pd.Series(np.nan, index=frame.index)
    adjacent = np.where(np.isfinite(best_depth), best_depth, np.nan)
    return pd.DataFrame({
        "gml_id": frame["gml_id"].to_numpy(),
        "max_adjacent_depth_m": adjacent.astype(np.float32),
        "first_wet_s": np.where(np.isfinite(first_wet), first_wet, np.nan),
        "official_max_depth_m": official_depth,
        "official_rank": official_rank.astype("Int64").to_numpy(),
        "simulated_rank": depth_classes.rank_of_depth(adjacent, wet_m).astype(np.int64),
        "ground_height": pd.to_numeric(frame.get("ground_height"), errors="coerce").to_numpy(float)
        if "ground_height" in frame else np.nan,
        "centroid_lon": pd.to_numeric(frame.get("centroid_lon"), errors="coerce").to_numpy(float)
        if "centroid_lon" in frame else np.nan,
        "centroid_lat": pd.to_numeric(frame.get("centroid_lat"), errors="coerce").to_numpy(float)
        if "centroid_lat" in frame else np.nan,
    })


def rank_comparison(table: pd.DataFrame) -> dict:
    """Counts of buildings per official rank (1–6) × simulated rank (0 dry, 1–6), and agreement."""
    n = len(depth_classes.RANKS)
    official = table["official_rank"].dropna().astype(int)
    simulated = table.loc[official.index, "simulated_rank"].astype(int)
    counts = np.zeros((n, n + 1), dtype=int)
    valid = official.between(1, n)
    np.add.at(counts, (official[valid].to_numpy() - 1, simulated[valid].to_numpy()), 1)
    total = int(counts.sum())
    agree = int(sum(counts[r - 1, r] for r in depth_classes.RANKS))
    return {
        "official_ranks": [depth_classes.key(r) for r in depth_classes.RANKS],
        "simulated_ranks": [depth_classes.key(r) for r in (0, *depth_classes.RANKS)],
        "counts": counts.tolist(),
        "buildings_with_official_rank": total,
        "agreeing": agree,
        "agreement": round(agree / total, 4) if total else None,
        "wetted_of_official": int(counts[:, 1:].sum()),
    }

