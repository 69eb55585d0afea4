"""Evacuation runs from files: read walls, agents, exits and a flood, run ``sim.evacuation``,
write the output folder (the command line's grid mode); ``summarise`` serves the city mode too."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.evacuation import EvacuationConfig, EvacuationResult, simulate
from twin.errors import TwinInputError
from twin.evacuation.hazard_depth import FloodDepth
from twin.files.atomic import write_json, write_with
from twin.files.rasters import Grid, read_grid

AGENT_COLUMNS = ("id", "x", "y")
EXIT_COLUMNS = ("id", "x", "y", "radius_m")


@dataclass(slots=True)
class EvacuationInputs:
    """Everything a run needs, already read and checked against the walls grid."""

    walls: Grid
    agents: pd.DataFrame
    exits: pd.DataFrame
    flood: FloodDepth | None = None
    paths: dict[str, Path] | None = None


def read_table(path: Path, required: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    """A CSV table with the ``required`` columns whose ``numeric`` columns are numbers."""
    if not path.is_file():
        raise TwinInputError(f"{path}: no such file")
    try:
        table = pd.read_csv(path, skipinitialspace=True, dtype={"id": str, "exit_id": str, "profile": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TwinInputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    return _checked(table, path, required, numeric)


def _checked(table: pd.DataFrame, path: Path, required: tuple[str, ...], numeric: tuple[str, ...]) -> pd.DataFrame:
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise TwinInputError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(required)})")
    for col in numeric:
        if col not in table.columns:
            continue
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & (table[col].notna() if col not in required else True)
        if bad.any():
            k = int(np.argmax(bad.to_numpy()))
            raise TwinInputError(f"{path}: line {k + 2}: {col} {table[col].iloc[k]!r} is not a number")
        table[col] = values
    if table["id"].isna().any():
        raise TwinInputError(f"{path}: line {int(np.argmax(table['id'].isna().to_numpy())) + 2}: empty id")
    return table


def read_exits(path: Path) -> pd.DataFrame:
    """Exits from a CSV ``id,x,y,radius_m[,capacity]`` or GeoJSON points with those properties."""
    if path.suffix.lower() not in (".geojson", ".json"):
        return read_table(path, EXIT_COLUMNS, ("x", "y", "radius_m", "capacity"))
    if not path.is_file():
        raise TwinInputError(f"{path}: no such file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = []
        for k, feat in enumerate(doc["features"]):
            geom = feat.get("geometry") or {}
            if geom.get("type") != "Point":
                raise TwinInputError(f"{path}: feature {k}: exits must be Point geometries")
            props = dict(feat.get("properties") or {})
            props.setdefault("id", feat.get("id", k))
            rows.append({**props, "x": geom["coordinates"][0], "y": geom["coordinates"][1]})
    except (json.JSONDecodeError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise TwinInputError(f"{path}: not a GeoJSON FeatureCollection of points ({exc})") from None
    table = pd.DataFrame(rows)
    if "id" in table:
        table["id"] = table["id"].astype(str)
    return _checked(table, path, EXIT_COLUMNS, ("x", "y", "radius_m", "capacity"))


def read_inputs(walls: Path, agents: Path, exits: Path, flood: Path | None) -> EvacuationInputs:
    """Read and check every input file of a grid-mode run."""
    grid = read_grid(walls)
    table = read_table(agents, AGENT_COLUMNS, ("x", "y", "speed_mps", "start_s"))
    return EvacuationInputs(
        walls=grid, agents=table, exits=read_exits(exits),
        flood=FloodDepth(flood, grid) if flood is not None else None,
        paths={"walls": walls, "agent": agents, "exit": exits, "depth": flood or walls},
    )


def _blame(exc: SimInputError, paths: dict[str, Path] | None) -> TwinInputError:
    """Name the file a model input error comes from."""
    msg = str(exc)
    for word, path in (paths or {}).items():
        if msg.startswith(word):
            return TwinInputError(f"{path}: {msg}")
    return TwinInputError(f"{(paths or {}).get('walls', 'walls')}: {msg}")


def run_evacuation(inputs: EvacuationInputs, config: EvacuationConfig, out: Path,
                   on_progress: Callable[[float, int, int], None] | None = None) -> dict:
    """Run and write ``arrivals.csv``, ``stranded.csv``, ``trajectories.parquet`` and
    ``summary.json`` into ``out``; returns the summary."""
    g = inputs.walls
    walls = np.isnan(g.data) | (g.data != 0)
    try:
        result = simulate(walls, g.cell_size, (g.transform.c, g.transform.f), inputs.agents, inputs.exits,
                          depth=inputs.flood, config=config, progress=on_progress)
    except SimInputError as exc:
        raise _blame(exc, inputs.paths) from None
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(result, config)
    write_with(out / "arrivals.csv", lambda p: _arrivals(result).to_csv(p, index=False))
    write_with(out / "stranded.csv", lambda p: _stranded(result).to_csv(p, index=False))
    write_with(out / "trajectories.parquet", lambda p: result.trajectories.to_parquet(p, index=False))
    write_json(out / "summary.json", summary)
    return summary


def summarise(result: EvacuationResult, config: EvacuationConfig) -> dict:
    """The numbers of summary.json."""
    evac = result.evacuation_time_s
    return {
        "agents": result.agents,
        "arrived": result.arrived,
        "stranded": result.stranded,
        "not_arrived": result.agents - result.arrived - result.stranded,
        "evacuation_time_s": None if np.isnan(evac) else round(evac, 3),
        "simulated_s": round(result.simulated_s, 3),
        "dt_s": config.dt_s,
        "steps": result.steps,
        "agent_steps": result.agent_steps,
        "agent_steps_per_s": round(result.agent_steps_per_s, 1),
        "navigation_updates": result.navigation_updates,
        "wall_s": round(result.wall_s, 3),
        "arrivals_per_exit": {str(k): int(v) for k, v in
                              zip(*np.unique(result.exit_id[np.isfinite(result.arrival_s)], return_counts=True))},
    }


def _arrivals(result: EvacuationResult) -> pd.DataFrame:
    return pd.DataFrame({"agent_id": result.agent_id, "exit_id": result.exit_id,
                         "start_s": result.start_s, "arrival_s": result.arrival_s})


def _stranded(result: EvacuationResult) -> pd.DataFrame:
    s = np.isfinite(result.stranded_s)
    return pd.DataFrame({"agent_id": result.agent_id[s], "stranded_s": result.stranded_s[s],
                         "x": result.stranded_x[s], "y": result.stranded_y[s]})

