"""``twin convert``: downloads (PLATEAU datasets, GSI DEMs, DEM grids, shelter lists) → a City folder."""

from __future__ import annotations

import json
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from twin.errors import TwinInputError

if TYPE_CHECKING:
    from twin.convert.runners import Runner

#: The merge's stages, in order (``twin.convert.city_build.build_city`` reports each).
STAGES = ("terrain", "masks", "tables", "tiles")
#: How each City part is called in the summary line.
_PART_NAMES = {"buildings": "buildings", "terrain": "terrain (DEM)", "roads": "roads", "hazards": "hazard areas",
               "water": "water bodies", "land_use": "land-use areas", "bridges": "bridges", "features": "other features"}


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
    paths: list[Path] = typer.Argument(..., help="PLATEAU datasets (folders, .zip, .gml), GSI DEMs (.xml, .zip), "
                                       "GeoTIFF/ASCII DEMs and shelter lists (.csv, .geojson) of one place."),
    out: Path = typer.Option(..., "-o", "--out", help="The City folder to write (its name is the city id)."),
    dem: list[Path] = typer.Option([], "--dem", help="A DEM: GeoTIFF or ESRI ASCII with a CRS, or GSI DEM files "
                                   "(repeat for several)."),
    lod: str = typer.Option("max", help="Building LOD for the tiles: max, 0, 1 or 2 (falls back to lower LODs)."),
    bbox: str = typer.Option(None, help="Only this lon/lat box: W,S,E,N in degrees."),
    resolution: float = typer.Option(None, help="Terrain grid cell size in metres (default 2, coarser when the City "
                                     "is too large for the grid's cell limit)."),
    workers: int = typer.Option(0, help="Worker processes (0: one per core, at most one per file; 1: no dask)."),
    scheduler: str = typer.Option(None, help="A dask scheduler address (tcp://host:8786) to run the per-file tasks on."),
    ellipsoidal_offset: float = typer.Option(0.0, help="Metres added to heights in the tiles (geoid height, for globes that use "
                                             "ellipsoidal heights)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Build the City: 3D Tiles 1.1, buildings.parquet, terrain.tif, masks.tif and city.json.

    Several downloads of one place become one City (they must overlap). Each CityGML file is one
    task; with several files they run on a dask LocalCluster (or the cluster at --scheduler),
    then a merge writes the folder. The folder appears only when complete; an older City at the
    same path is replaced at the end.
    """
    from twin.convert.inputs import classify
    from twin.convert.pipeline import ConvertOptions, convert, plan_conversion

    if lod not in ("max", "0", "1", "2"):
        raise TwinInputError(f"--lod {lod!r}: choose max, 0, 1 or 2")
    if resolution is not None and not resolution > 0:
        raise TwinInputError("--resolution must be positive")
    options = ConvertOptions(lod="max" if lod == "max" else int(lod), bbox=parse_bbox(bbox),
                             resolution=resolution, ellipsoidal_offset=ellipsoidal_offset)
    plan = plan_conversion(classify(paths, dem), options)  # checks before the work: kinds, places, grid size
    console = Console(stderr=True)
    for note in plan.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=as_json) as bar:
        files = bar.add_task("files", total=len(plan.files))
        stages = bar.add_task("merge", total=len(STAGES))
        with runner_for(len(plan.files), workers, scheduler) as runner:
            manifest = convert(paths, out, options, runner, on_file=file_progress(bar, files),
                               on_stage=stage_progress(bar, stages), dems=dem)
    if as_json:
        typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    print_summary(console, out, manifest)


def file_progress(bar: Progress, task: TaskID):
    def on_file(result) -> None:
        bar.update(task, advance=1, description=f"files: {Path(result.name).name}")
    return on_file


def stage_progress(bar: Progress, task: TaskID):
    def on_stage(stage: str) -> None:
        done = STAGES.index(stage) if stage in STAGES else 0
        bar.update(task, completed=done, description=f"merge: {stage}")
    return on_stage


def print_summary(console: Console, out: Path, manifest: dict) -> None:
    """What the City holds: counts per feature type (kept and dropped), terrain, grid, warnings."""
    counts = manifest["counts"]
    grid = manifest.get("grid")
    terrain = (f"terrain {grid['width']}×{grid['height']} at {grid['resolution']:g} m in {grid['crs']}"
               if grid else "no terrain grid")
    tiles = manifest.get("tiles")
    console.print(f"[green]wrote[/green] {out}: {counts['buildings']} buildings "
                  f"({counts['buildings_with_flood_risk']} with flood risk, {counts['textured_buildings']} textured), "
                  f"{tiles['content_tiles'] if tiles else 0} tiles, {terrain}", highlight=False)
    for kind, entry in (manifest.get("features") or {}).items():
        kept = ", ".join(f"{n} → {_PART_NAMES.get(part, part)}" for part, n in entry["kept"].items())
        dropped = "; ".join(f"{n} dropped: {why}" for why, n in entry["dropped"].items())
        console.print(f"  {kind}: {entry['read']} read" + (f", {kept}" if kept else "") + (f"; {dropped}" if dropped else ""),
                      highlight=False)
    sources = (manifest.get("terrain") or {}).get("sources") or []
    if sources:
        console.print("  terrain: " + ", ".join(f"{s['kind']} {s['share']:.1%}" for s in sources), highlight=False)
    shelters = manifest.get("shelters")
    if shelters:
        from twin.city.shelters import ShelterReport

        console.print(f"  shelters: {shelters['source']} ({shelters['layout']}): {shelters['sites']} sites, "
                      f"{shelters['kept']} kept, {shelters['flood_shelters']} of them for floods", highlight=False)
        for message in ShelterReport(**shelters).messages():
            console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)
    warnings = manifest.get("warnings") or []
    for warning in warnings[:10]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if len(warnings) > 10:
        console.print(f"[yellow]… {len(warnings) - 10} more warnings in {out / 'city.json'}[/yellow]")


def runner_for(files: int, workers: int, scheduler: str | None) -> AbstractContextManager[Runner]:
    from twin.convert.runners import run_inline

    if scheduler is None:
        workers = workers or min(os.cpu_count() or 1, files)
        if workers <= 1:
            return nullcontext(run_inline)
    from twin.convert.runners import dask_runner

    return dask_runner(max(workers, 1), scheduler)
