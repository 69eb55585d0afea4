"""``twin evacuate run``: an evacuation on grids, or on a City (``--city``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from twin.errors import TwinInputError


def register(app: typer.Typer) -> None:
    evacuate_app = typer.Typer(help="Evacuation simulations: agents on a walkable raster, slowed by water.",
                               no_args_is_help=True)
    evacuate_app.command("run")(run)
    app.add_typer(evacuate_app, name="evacuate")


def run(
    walls: Path = typer.Option(None, "--walls", help="Walls grid (GeoTIFF or .asc): nonzero or nodata = impassable."),
    agents: Path = typer.Option(None, "--agents", help="CSV id,x,y[,speed_mps,profile,start_s,exit_id]."),
    exits: Path = typer.Option(None, "--exits", help="CSV id,x,y,radius_m[,capacity] or GeoJSON points."),
    flood: Path = typer.Option(None, "--flood", help="depth.nc from 'twin flood run' on the same grid."),
    city: Path = typer.Option(None, "--city", help="City folder (twin convert): people from its buildings."),
    flood_result: Path = typer.Option(None, "--flood-result", help="With --city: a 'twin flood run --city' result folder."),
    official_hazard: str = typer.Option(None, "--official-hazard", help="With --city: the official flood areas as a "
                                        "static depth, LAYER[:SCALE] (fld, fld:L2)."),
    time_of_day: str = typer.Option("night", "--time-of-day", help="With --city: day or night (who is where)."),
    shelters: Path = typer.Option(None, "--shelters", help="With --city: shelters GeoJSON or official CSV "
                                  "(default: the City's shelters.geojson)."),
    vertical: int = typer.Option(0, "--vertical", help="With --city: also evacuate into the N roomiest tall, "
                                 "sturdy buildings."),
    occupancy: Path = typer.Option(None, "--occupancy", help="With --city: CSV usage_code,label,night_per_m2,"
                                   "day_per_m2 replacing the default table."),
    people_per_agent: float = typer.Option(1.0, "--people-per-agent", help="With --city: people one agent stands for."),
    elderly_share: float = typer.Option(None, "--elderly-share", help="With --city: share of elderly walkers "
                                        "(default 0.232)."),
    needs_help_share: float = typer.Option(None, "--needs-help-share", help="With --city: share of people who need "
                                           "help (default 0.054)."),
    cell_size: float = typer.Option(None, "--cell-size", help="With --city: coarsen the City's grid to this cell "
                                    "size (a whole multiple of it), m."),
    duration: float = typer.Option(3600.0, "--duration", help="Simulated time, s."),
    dt: float = typer.Option(None, "--dt", help="Time step, s (default 0.2; 0.5 with --city)."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampled speeds and delays."),
    trajectory_interval: float = typer.Option(None, "--trajectory-interval",
                                              help="Seconds between trajectory samples (default 10; 30 with --city)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Evacuate agents to exits and write arrivals.csv, stranded.csv, trajectories.parquet and
    summary.json into OUT; with --city also clearance.csv, shelters.csv, buildings.csv."""
    from sim.evacuation import EvacuationConfig  # heavy (numba, pandas): only when run
    from twin.evacuation.grid_run import read_inputs, run_evacuation
    if city is not None:
        grid_flags = {"--walls": walls, "--agents": agents, "--exits": exits, "--flood": flood}
        given = [flag for flag, value in grid_flags.items() if value is not None]
        if given:
            raise TwinInputError(f"{given[0]} belongs to the grid mode; with --city people and shelters come "
                                 "from the City")
        _run_city(city, out, as_json, flood_result=flood_result, official_hazard=official_hazard,
                  time_of_day=time_of_day, shelters=shelters, vertical=vertical, occupancy=occupancy,
                  people_per_agent=people_per_agent, elderly_share=elderly_share,
                  needs_help_share=needs_help_share, cell_size=cell_size, duration_s=duration,
                  dt_s=dt or 0.5, record_interval_s=trajectory_interval or 30.0, seed=seed)
        return
    city_flags = {"--flood-result": flood_result, "--official-hazard": official_hazard, "--shelters": shelters,
                  "--occupancy": occupancy, "--cell-size": cell_size}
    given = [flag for flag, value in city_flags.items() if value is not None]
    if given:
        raise TwinInputError(f"{given[0]} belongs to the city mode (--city CITY)")
    if walls is None or agents is None or exits is None:
        raise TwinInputError("twin evacuate run needs --walls GRID --agents CSV --exits FILE, or --city CITY")
    dt = 0.2 if dt is None else dt
    trajectory_interval = 10.0 if trajectory_interval is None else trajectory_interval
    for flag, value in (("--duration", duration), ("--dt", dt), ("--trajectory-interval", trajectory_interval)):
        if not value > 0:
            raise TwinInputError(f"{flag} must be positive seconds, got {value:g}")
    inputs = read_inputs(walls, agents, exits, flood)
    config = EvacuationConfig(duration_s=duration, dt_s=dt, seed=seed, trajectory_interval_s=trajectory_interval)
    summary = _with_progress(duration, len(inputs.agents), as_json,
                             lambda progress: run_evacuation(inputs, config, out, progress))
    _report(summary, out, as_json)


def _run_city(city: Path, out: Path, as_json: bool, *, occupancy: Path | None, elderly_share: float | None,
              needs_help_share: float | None, **options) -> None:
    from twin.evacuation.city_run import CityEvacuation, run_city_evacuation
    from twin.evacuation.population import ELDERLY_SHARE, NEEDS_HELP_SHARE, read_occupancy

    if not city.is_dir():
        raise TwinInputError(f"--city {city}: no such City folder")
    spec = CityEvacuation(occupancy=read_occupancy(occupancy) if occupancy is not None else None,
                          elderly_share=ELDERLY_SHARE if elderly_share is None else elderly_share,
                          needs_help_share=NEEDS_HELP_SHARE if needs_help_share is None else needs_help_share,
                          **options).checked()
    summary = _with_progress(spec.duration_s, None, as_json,
                             lambda progress: run_city_evacuation(city, spec, out, progress))
    _report(summary, out, as_json)
    if not as_json:
        typer.echo(f"people: {summary['people']:.0f} ({spec.time_of_day}), {summary['people_arrived']:.0f} reached "
                   f"one of {summary['shelters']} shelters, {summary['people_stranded']:.0f} stranded by water")


def _with_progress(duration: float, n: int | None, quiet: bool, work):
    """Run ``work(progress)`` under a rich progress bar on stderr."""
    err = Console(stderr=True)
    with Progress(TextColumn("[bold]evacuate"), BarColumn(), TextColumn("{task.fields[t]:>7.0f} s"),
                  TextColumn("arrived {task.fields[arrived]}/{task.fields[n]}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task("", total=duration, t=0.0, arrived=0, n="?" if n is None else n)
        last = [0.0]

        def progress(t: float, arrived: int, stranded: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.2:
                last[0] = now
                bar.update(task, completed=t, t=t, arrived=arrived)

        return work(progress)


def _report(summary: dict, out: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        evac = summary["evacuation_time_s"]
        typer.echo(f"evacuate: {summary['arrived']}/{summary['agents']} arrived"
                   f"{f' by {evac:.1f} s' if evac is not None else ''}, {summary['stranded']} stranded; "
                   f"{summary['agent_steps_per_s'] / 1e6:.2f} M agent-steps/s in {summary['wall_s']:.1f} s -> {out}")
