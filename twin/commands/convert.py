"""``twin convert``: a PLATEAU dataset → a City folder (3D Tiles, tables, grids, manifest)."""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twin.errors import TwinInputError

if TYPE_CHECKING:
    from twin.convert.runners import Runner


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_command)


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``W,S,E,N`` in degrees."""
    if text is None:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise TwinInputError(f"--bbox {text!r}: expected W,S,E,N in degrees, e.g. 139.70,35.68,139.72,35.70") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise TwinInputError(f"--bbox {text!r}: need west < east and south < north, in degrees")
    return west, south, east, north


def convert_command(
    path: Path = typer.Argument(..., help="A PLATEAU dataset folder, a .zip of one, or a .gml file."),
    out: Path = typer.Option(..., "-o", "--out", help="The City folder to write (its name is the city id)."),
    lod: str = typer.Option("max", help="Building LOD for the tiles: max, 0, 1 or 2 (falls back to lower LODs)."),
    bbox: str = typer.Option(None, help="Only this lon/lat box: W,S,E,N in degrees."),
    resolution: float = typer.Option(2.0, help="Terrain grid cell size in metres."),
    workers: int = typer.Option(0, help="Worker processes (0: one per core, at most one per file; 1: no dask)."),
    scheduler: str = typer.Option(None, help="A dask scheduler address (tcp://host:8786) to run the per-file tasks on."),
    ellipsoidal_offset: float = typer.Option(0.0, help="Metres added to heights in the tiles (geoid height, for globes that use "
                                             "ellipsoidal heights)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build the City: 3D Tiles 1.1, buildings.parquet, terrain.tif, masks.tif and city.json.

    Each CityGML file is one task; with several files they run on a dask LocalCluster
    (or the cluster at --scheduler), then a merge writes the folder. The folder appears
    only when complete; an older City at the same path is replaced at the end.
    """
    from twin.convert.pipeline import ConvertOptions, convert  # heavy (geopandas, numba): only when run

    if lod not in ("max", "0", "1", "2"):
        raise TwinInputError(f"--lod {lod!r}: choose max, 0, 1 or 2")
    if resolution <= 0:
        raise TwinInputError("--resolution must be positive")
    options = ConvertOptions(lod="max" if lod == "max" else int(lod), bbox=parse_bbox(bbox),
                             resolution=resolution, ellipsoidal_offset=ellipsoidal_offset)
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("converting files", total=None)

        def on_file(result) -> None:
            bar.update(task, advance=1, description=f"converted {Path(result.name).name}")

        def on_stage(stage: str) -> None:
            bar.update(task, description=f"writing {stage}")

        with _runner(path, workers, scheduler, bar, task) as runner:
            manifest = convert(path, out, options, runner, on_file, on_stage)
    if as_json:
        typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    counts = manifest["counts"]
    console.print(f"[green]wrote[/green] {out}: {counts['buildings']} buildings "
                  f"({counts['buildings_with_flood_risk']} with flood risk, {counts['textured_buildings']} textured), "
                  f"{manifest['tiles']['content_tiles']} tiles, terrain {manifest['grid']['width']}×{manifest['grid']['height']} "
                  f"at {manifest['grid']['resolution']} m in {manifest['crs']['local']}")
    for warning in manifest["warnings"][:10]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if len(manifest["warnings"]) > 10:
        console.print(f"[yellow]… {len(manifest['warnings']) - 10} more warnings in {out / 'city.json'}[/yellow]")


def _runner(path: Path, workers: int, scheduler: str | None, bar: Progress, task) -> AbstractContextManager[Runner]:
    from citygml.dataset import open_dataset
    from twin.convert.runners import run_inline

    with open_dataset(path) as dataset:
        files = len(dataset.files)
    bar.update(task, total=files)
    if scheduler is None:
        workers = workers or min(os.cpu_count() or 1, files)
        if workers <= 1:
            return nullcontext(run_inline)
    from twin.convert.runners import dask_runner

    return dask_runner(max(workers, 1), scheduler)
