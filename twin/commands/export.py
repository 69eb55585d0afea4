"""``twin export``: a City's layers as files GIS tools open (GeoPackage, GeoJSON, CSV, CityJSON, COG)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from twin.errors import TwinInputError

FORMATS = ("gpkg", "geojson", "csv", "cityjson", "cog")


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)


def export_command(
    city: Path = typer.Argument(..., help="A City folder written by twin convert."),
    format: str = typer.Option(..., "--format", "-f", help="gpkg, geojson, csv, cityjson or cog."),
    out: Path = typer.Option(..., "-o", "--out", help="The file to write."),
    layer: list[str] = typer.Option([], "--layer", help="A layer (buildings, hazards, roads, shelters, …, or a "
                                    "collection id such as hazards-fld-l2); repeat for more. GeoPackage: all by "
                                    "default; GeoJSON and CSV: one, buildings by default."),
    scenario: list[Path] = typer.Option(None, "--scenario", help="A flood result on the City (twin flood run's output "
                                        "or a job's result/ folder): its per-building results join the GeoPackage; "
                                        "with --format cog its maximum depth is the grid written."),
    source: Path = typer.Option(None, help="CityJSON: the City's PLATEAU dataset, when not where it was converted from."),
    as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write the City (or one layer, or a flood result) with the PLATEAU attribution and the licence.

    GeoPackage: one table per layer and per --scenario. GeoJSON (RFC 7946, CRS84) and CSV (WKT
    geometry, with a CSVW metadata file beside it): one layer. CityJSON 2.0: the buildings' LOD1/LOD2
    solids with semantic surfaces, from the source CityGML. COG: the --scenario's maximum depth.
    """
    from twin.city.layout import CityFolder
    from twin.opendata import exports, licence
    from twin.opendata.cityjson import write_cityjson
    from twin.opendata.cog import write_cog
    from twin.opendata.collections import city_collections, scenario_run

    if format not in FORMATS:
        raise TwinInputError(f"--format {format!r}: choose {', '.join(FORMATS)}")
    folder = CityFolder.open(city)
    runs = [scenario_run(path) for path in scenario or []]
    out.parent.mkdir(parents=True, exist_ok=True)
    report: dict = {"file": str(out), "format": format}
    if format == "cog":
        if len(runs) != 1:
            raise TwinInputError("--format cog: give one --scenario (a flood result folder)")
        write_cog(runs[0].result / "max_depth.tif", out, f"{runs[0].title_en}: maximum depth (m)",
                  licence.attribution(folder.manifest))
    elif format == "cityjson":
        report.update(write_cityjson(folder, out, source))
    else:
        collections = city_collections(folder, runs)
        scenario_ids = [f"scenario-{r.id}" for r in runs]
        if format == "gpkg":
            chosen = exports.choose(collections, [*layer, *scenario_ids] if layer else [])
            exports.write_gpkg(chosen, out)
        else:
            chosen = exports.choose(collections, list(layer or []) or scenario_ids or ["buildings"])
            if len(chosen) != 1:
                raise TwinInputError(f"--format {format}: one layer at a time; chosen: {', '.join(c.id for c in chosen)}")
            (exports.write_geojson if format == "geojson" else exports.write_csv)(chosen[0], out)
        report["layers"] = [c.id for c in chosen]
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"wrote {out}" + (f" ({', '.join(report['layers'])})" if report.get("layers") else ""))
