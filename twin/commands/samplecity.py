"""``twin sample-city``: write a synthetic PLATEAU-conformant dataset."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from citygml.samplecity import IUR_VERSIONS, generate
from twin.errors import TwinInputError


def register(app: typer.Typer) -> None:
    app.command("sample-city")(sample_city)


def sample_city(
    out: Path = typer.Argument(..., help="Folder to write the dataset into (udx/, codelists/, shelters.*)."),
    buildings: int = typer.Option(2000, "--buildings", "-n",
                                  help="Number of buildings (up to 2,000,000; the town grows beyond 20,000)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed writes the same bytes."),
    iur: str = typer.Option("3.1", "--iur", help=f"i-UR generation to encode: {', '.join(IUR_VERSIONS)}."),
    textures: bool = typer.Option(True, "--textures/--no-textures", help="Texture atlases for LOD2 buildings."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Write a synthetic but PLATEAU-conformant city (bldg, dem, tran, fld, codelists, shelters)."""
    if iur not in IUR_VERSIONS:
        raise TwinInputError(f"--iur {iur}: expected one of {', '.join(IUR_VERSIONS)}")
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]sample-city"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.description}"), console=console, transient=True, disable=as_json,
    ) as bar:
        task = bar.add_task("planning", total=None)

        def report(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        try:
            city = generate(out, buildings=buildings, seed=seed, iur=iur, textures=textures, progress=report)
        except ValueError as exc:
            raise TwinInputError(str(exc)) from exc
    summary = {
        "out": str(city.out),
        "counts": city.counts,
        "bbox": city.bbox,
        "buildings_with_flood_risk": city.buildings_with_flood_risk,
        "lod2_buildings": city.lod2_buildings,
        "shelters": len(city.plan.shelters),
        "files": len(city.files),
        "bytes": city.bytes_written,
        "seconds": round(city.seconds, 2),
        "iur": iur,
    }
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    counts = ", ".join(f"{k} {v}" for k, v in city.counts.items())
    typer.echo(
        f"wrote {summary['files']} files ({city.bytes_written / 1e6:.1f} MB) to {city.out} in {city.seconds:.1f} s: "
        f"{counts}; {city.buildings_with_flood_risk} buildings at flood risk, {city.lod2_buildings} LOD2, "
        f"{summary['shelters']} shelters (i-UR {iur})"
    )
