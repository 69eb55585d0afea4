"""``twin city add``: more downloads (hazard layers, a DEM, roads, land use, shelter lists) into an existing City."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twin.commands.convert import STAGES, file_progress, print_summary, runner_for, stage_progress


def register(app: typer.Typer) -> None:
    city_app = typer.Typer(help="Change a converted City.", no_args_is_help=True)
    city_app.command("add")(add)
    app.add_typer(city_app, name="city")


def add(
    city: Path = typer.Argument(..., help="The City folder (made by twin convert)."),
    paths: list[Path] = typer.Argument(..., help="PLATEAU datasets (hazard layers, roads, land use, ...), GSI DEMs, "
                                       "GeoTIFF/ASCII DEMs or a shelter list (.csv, .geojson) of the same place."),
    dem: list[Path] = typer.Option([], "--dem", help="A DEM: GeoTIFF or ESRI ASCII with a CRS, or GSI DEM files."),
    workers: int = typer.Option(0, help="Worker processes (0: one per core, at most one per file; 1: no dask)."),
    as_json: bool = typer.Option(False, "--json", help="Print the new manifest as JSON."),
) -> None:
    """Add INPUTs to CITY, rebuilding only what they change (tables, terrain, masks, tiles they touch).

    Inputs must overlap the City. A DEM takes its place among the terrain's sources (the dataset's
    own DEM first, then GSI, then other DEMs) and the estimated cells are estimated again; a shelter
    list replaces the City's. Adding buildings or bridges converts the City again from all its inputs.
    """
    from twin.city.layout import CityFolder
    from twin.convert.additions import add_to_city, options_of
    from twin.convert.inputs import classify
    from twin.convert.pipeline import plan_conversion

    folder = CityFolder.open(city)  # a clear error before any work when CITY is not a City
    plan = plan_conversion(classify(paths, dem, check=False), options_of(folder), require_content=False)
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        files = bar.add_task("files", total=len(plan.files))
        stages = bar.add_task("merge", total=len(STAGES))
        with runner_for(len(plan.files), workers, None) as runner:
            manifest = add_to_city(city, paths, dem, runner, on_file=file_progress(bar, files),
                                   on_stage=stage_progress(bar, stages))
    if as_json:
        typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    print_summary(console, city, manifest)
