"""``twin ensemble run``: many members of a flood scenario with varied inputs, on dask.distributed."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twin.ensembles.design import PARAMETERS, parse_vary
from twin.ensembles.members import MemberOutcome
from twin.ensembles.run import EnsembleSpec, ensemble_runner, run_ensemble
from twin.errors import TwinInputError
from twin.flood.scenario import load_scenario

_PARAMETER_HELP = "; ".join(f"{p.name} ({p.unit}, {p.low:g}–{p.high:g}): {p.meaning}" for p in PARAMETERS.values())


def register(app: typer.Typer) -> None:
    ensemble_app = typer.Typer(help="Flood ensembles: one scenario, many varied members, the odds.",
                               no_args_is_help=True)
    ensemble_app.command("run")(run)
    app.add_typer(ensemble_app, name="ensemble")


def run(
    city: Path = typer.Option(..., "--city", help="City folder (twin convert)."),
    scenario: str = typer.Option(..., "--scenario", help="A scenario TOML file or a built-in name."),
    vary: list[str] = typer.Option(..., "--vary", help=f"NAME=LOW:HIGH, repeatable. {_PARAMETER_HELP}."),
    members: int = typer.Option(16, "--members", help="Members (at least 2)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Latin hypercube design."),
    scheduler: str = typer.Option(None, "--scheduler", help="A dask scheduler (tcp://host:8786) whose workers "
                                  "see the City and OUT at the same paths; default a local cluster."),
    workers: int = typer.Option(None, "--workers", help="Local worker processes (default: the CPU count; 0 runs "
                                "the members one after the other in this process)."),
    cell_size: float = typer.Option(None, "--cell-size", help="Coarsen the City's grid to this cell size, m."),
    duration: float = typer.Option(None, "--duration", help="Simulated time, s (default: the scenario's)."),
    evacuation: bool = typer.Option(False, "--evacuation", help="Evacuate the City's people through each "
                                    "member's water (default options, docs/evacuation.md)."),
    allow_estimated_terrain: bool = typer.Option(False, "--allow-estimated-terrain",
                                                 help="Run even where the City's terrain is estimated."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder (new or empty)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run MEMBERS flood runs of SCENARIO on CITY with the --vary inputs drawn by a Latin hypercube, and
    write members.csv (first), ensemble.nc (exceedance probabilities, percentiles), buildings.parquet,
    probability.png and summary.json into OUT."""
    varied = tuple(parse_vary(v) for v in vary)
    chosen = load_scenario(scenario)
    if duration is not None:
        if not duration > 0:
            raise TwinInputError(f"--duration must be positive seconds, got {duration:g}")
        chosen = replace(chosen, duration_s=duration, output_interval_s=min(chosen.output_interval_s, duration))
    if cell_size is not None and not cell_size > 0:
        raise TwinInputError(f"--cell-size must be positive metres, got {cell_size:g}")
    if workers is not None and workers < 0:
        raise TwinInputError(f"--workers must be 0 or more, got {workers}")
    spec = EnsembleSpec(city=city, scenario=chosen, varied=varied, members=members, seed=seed, cell_size=cell_size,
                        evacuation={} if evacuation else None, allow_estimated_terrain=allow_estimated_terrain)
    count = (os.cpu_count() or 1) if workers is None else workers
    err = Console(stderr=True)
    with Progress(TextColumn("[bold]ensemble"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                  TimeElapsedColumn(), console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("", total=members, note="")
        failures = [0]

        def on_member(outcome: MemberOutcome, done: int, total: int) -> None:
            if outcome.error is not None:
                failures[0] += 1
                err.print(f"[yellow]member {outcome.index} attempt {outcome.attempt} failed:[/yellow] "
                          f"{outcome.error.splitlines()[0]}", highlight=False)
            bar.update(task, total=total, completed=done, note=f"{failures[0]} failed" if failures[0] else "")

        with ensemble_runner(min(count, members), scheduler) as runner:
            summary = run_ensemble(spec, out, runner, on_member)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    b = summary["buildings"]
    typer.echo(f"ensemble: {summary['members_used']} of {summary['members_requested']} members used "
               f"({len(summary['retried'])} after a retry, {len(summary['failed'])} failed) in {summary['wall_s']:.1f} s")
    typer.echo(f"buildings: {b['wetted_in_any']} of {b['count']} wetted in some member, "
               f"{b['wetted_in_half_or_more']} in half or more, {b['wetted_in_all']} in all -> {out}")
