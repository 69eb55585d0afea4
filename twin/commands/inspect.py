"""``twin inspect``: what a PLATEAU dataset holds, for people (a table) or scripts (--json)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citygml.dataset import open_dataset
from citygml.summary import DatasetSummary, summarize
from twin.errors import TwinInputError


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)


def inspect(
    path: Path = typer.Argument(..., help="A PLATEAU dataset folder, a .zip of one, or a single .gml file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Summarise a dataset: files, feature counts per PLATEAU type, LODs, CRS, bbox,
    i-UR versions, buildings with flood risk, warnings and errors.

    Exits 0 when anything could be read (warnings say what was skipped), 2 when nothing could.
    """
    err = Console(stderr=True)
    with open_dataset(path) as dataset:
        files = dataset.select()
        with Progress(
            TextColumn("[bold]reading"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=err, transient=True, disable=as_json or len(files) < 2,
        ) as bar:
            task = bar.add_task("", total=len(files))
            summary = summarize(dataset, lambda f, n: bar.update(task, advance=1, description=f"{n} features"))
    if summary.total_features == 0:
        problems = summary.errors or summary.warnings or [f"{path}: no city objects found"]
        raise TwinInputError("; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print(summary, Console())


def _print(summary: DatasetSummary, console: Console) -> None:
    console.print(f"[bold]{summary.path}[/bold]: {summary.files} file(s), {summary.total_features} city objects")
    table = Table("type", "features", "LODs", box=None)
    for type_code, count in summary.features.items():
        lods = ", ".join(f"LOD{lod}: {n}" for lod, n in summary.lods.get(type_code, {}).items())
        table.add_row(type_code, str(count), lods)
    console.print(table)
    if summary.bbox:
        w, s, e, n = summary.bbox
        console.print(f"bbox (lon/lat): {w:.6f}, {s:.6f} – {e:.6f}, {n:.6f}")
    console.print(f"CRS: {', '.join(summary.crs) or '?'}  local metric CRS: {summary.local_crs or '?'}")
    console.print(f"i-UR: {', '.join(summary.iur_versions) or 'none'}  CityGML: {', '.join(summary.citygml_versions) or '?'}")
    console.print(f"buildings with flood risk: {summary.buildings_with_flood_risk}  "
                  f"with textures: {summary.buildings_with_textures}")
    if summary.codelists_missing:
        console.print(f"[yellow]codelists missing[/yellow] (codes shown undecoded): {', '.join(summary.codelists_missing[:5])}"
                      + (" …" if len(summary.codelists_missing) > 5 else ""))
    for kind, items, style in (("warning", summary.warnings, "yellow"), ("error", summary.errors, "red")):
        for item in items[:20]:
            console.print(f"[{style}]{kind}:[/{style}] {item}", markup=True, highlight=False)
        if len(items) > 20:
            console.print(f"[{style}]… {len(items) - 20} more {kind}s (see --json)[/{style}]")
