"""``twin scenario run``: a server scenario job (flood, then optionally evacuation) run now, from the
command line, into a data folder — so ``twin serve`` opens with finished results."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from twin.errors import TwinInputError
from twin.flood.builtin import sample_city_only_help


def register(app: typer.Typer) -> None:
    scenario_app = typer.Typer(help="Scenario jobs of the server, run from the command line.", no_args_is_help=True)
    scenario_app.command("run")(run)
    app.add_typer(scenario_app, name="scenario")


def run(
    data_dir: Path = typer.Option(..., "--data-dir", help="The server's data folder (one folder per city)."),
    city: str = typer.Option(..., "--city", help="City id: a folder of the data folder."),
    scenario: str = typer.Option(..., "--scenario", help="A built-in scenario name or a TOML file. "
                                 f"{sample_city_only_help()} On another City give a TOML file whose breach "
                                 "lies on one of its rivers."),
    cell_size: float = typer.Option(None, "--cell-size", help="Coarsen the City's grid for the flood, m."),
    duration: float = typer.Option(None, "--duration", help="Flood duration, s (default: the scenario's)."),
    evacuation: bool = typer.Option(False, "--evacuation", help="Evacuate the city's people after the flood."),
    time_of_day: str = typer.Option("night", "--time-of-day", help="With --evacuation: day or night."),
    people_per_agent: float = typer.Option(1.0, "--people-per-agent", help="With --evacuation: people per agent."),
    vertical: int = typer.Option(0, "--vertical", help="With --evacuation: N tall sturdy buildings take evacuees."),
    evacuation_cell_size: float = typer.Option(None, "--evacuation-cell-size",
                                               help="With --evacuation: walking grid cell size, m (default: the "
                                                    "flood's)."),
    evacuation_duration: float = typer.Option(3600.0, "--evacuation-duration", help="With --evacuation: simulated s."),
    allow_estimated_terrain: bool = typer.Option(False, "--allow-estimated-terrain",
                                                 help="Run even where the City's terrain is estimated from its "
                                                      "buildings (no DEM); the share goes into summary.json."),
) -> None:
    """Run SCENARIO on CITY as the server would (DATA_DIR/scenarios/<id>/) and wait for it. Do not
    point it at a data folder a running server uses: the server would not see the new job."""
    from dataclasses import replace

    from twin.city.grids import load_grids
    from twin.city.layout import is_city
    from twin.evacuation.city_run import evacuation_spec
    from twin.files.job_state import ACTIVE
    from twin.flood.scenario import load_scenario
    from twin.scenarios.jobs import JobRunner

    folder = data_dir / city
    if not is_city(folder):
        raise TwinInputError(f"--city {city}: no converted City at {folder}")
    chosen = load_scenario(scenario)
    if duration is not None:
        if not duration > 0:
            raise TwinInputError(f"--duration must be positive seconds, got {duration:g}")
        chosen = replace(chosen, duration_s=duration)
    options = None
    if evacuation:
        options = {"time_of_day": time_of_day, "people_per_agent": people_per_agent, "vertical": vertical,
                   "duration_s": evacuation_duration, "cell_size": evacuation_cell_size}
        evacuation_spec(options, None, cell_size)
    grids = load_grids(folder, cell_size)
    runner = JobRunner(data_dir, workers=1)
    try:
        job = runner.submit(grids, chosen, cell_size, options, allow_estimated_terrain)
        with Progress(TextColumn(f"[bold]{chosen.name}"), BarColumn(), TextColumn("{task.fields[what]}"),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("", total=1.0, what="")
            now = job
            while now.status in ACTIVE:
                time.sleep(0.3)
                now = runner.get(job.id) or now
                what = "evacuation" if now.progress >= 0.99 and options else f"flood {now.sim_time_s:.0f} s"
                bar.update(task, completed=now.progress, what=what)
    finally:
        runner.shutdown()
    if now.status != "done":
        typer.echo(f"twin: scenario job {job.id} {now.status}: {now.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"scenario {chosen.name} on {city}: job {job.id} done -> {runner.folder(job.id)}")
