"""``twin evacuate run``: an evacuation on grids (the city mode will join it)."""

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
    agents: Path = typer.Option(..., "--agents", help="CSV id,x,y[,speed_mps,profile,start_s,exit_id]."),
    exits: Path = typer.Option(..., "--exits", help="CSV id,x,y,radius_m[,capacity] or GeoJSON points."),
    flood: Path = typer.Option(None, "--flood", help="depth.nc from 'twin flood run' on the same grid."),
    duration: float = typer.Option(3600.0, "--duration", help="Simulated time, s."),
    dt: float = typer.Option(0.2, "--dt", help="Time step, s."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampled speeds and delays."),
    trajectory_interval: float = typer.Option(10.0, "--trajectory-interval", help="Seconds between trajectory samples."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Evacuate agents to exits and write arrivals.csv, stranded.csv, trajectories.parquet and
    summary.json into OUT."""
    from sim.evacuation import EvacuationConfig  # heavy (numba, pandas): only when run
    from twin.evacuation_run import read_inputs, run_evacuation
    if walls is None:
        raise TwinInputError("twin evacuate run needs --walls GRID (the city mode is not available yet)")
    for flag, value in (("--duration", duration), ("--dt", dt), ("--trajectory-interval", trajectory_interval)):
        if not value > 0:
            raise TwinInputError(f"{flag} must be positive seconds, got {value:g}")
    inputs = read_inputs(walls, agents, exits, flood)
    config = EvacuationConfig(duration_s=duration, dt_s=dt, seed=seed, trajectory_interval_s=trajectory_interval)
    err = Console(stderr=True)
    n = len(inputs.agents)
    with Progress(TextColumn("[bold]evacuate"), BarColumn(), TextColumn("{task.fields[t]:>7.0f} s"),
                  TextColumn("arrived {task.fields[arrived]}/{task.fields[n]}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("", total=duration, t=0.0, arrived=0, n=n)
        last = [0.0]

        def progress(t: float, arrived: int, stranded: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.2:
                last[0] = now
                bar.update(task, completed=t, t=t, arrived=arrived)

        summary = run_evacuation(inputs, config, out, progress)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        evac = summary["evacuation_time_s"]
        typer.echo(f"evacuate: {summary['arrived']}/{summary['agents']} arrived"
                   f"{f' by {evac:.1f} s' if evac is not None else ''}, {summary['stranded']} stranded; "
                   f"{summary['agent_steps_per_s'] / 1e6:.2f} M agent-steps/s in {summary['wall_s']:.1f} s -> {out}")
