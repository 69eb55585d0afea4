"""``twin render``: an offscreen picture of a converted City."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.errors import TwinInputError


def register(app: typer.Typer) -> None:
    app.command("render")(render_command)


def render_command(
    city: Path = typer.Argument(..., help="A City folder written by twin convert."),
    out: Path = typer.Option(..., "-o", "--out", help="The PNG to write."),
    colour_by: str = typer.Option("flood", "--colour-by", help="usage, height or flood (official maximum depth, MLIT colours)."),
    camera: str = typer.Option("oblique", help="oblique (from the south-east) or top."),
    size: str = typer.Option("1600x1000", help="Picture size in pixels, WIDTHxHEIGHT."),
    flood_result: Path = typer.Option(None, help="A twin flood run output folder: draws its maximum depth."),
) -> None:
    """Draw the City's terrain and buildings offscreen (pyvista) into a PNG."""
    from twin.pictures.render import RenderOptions, render_city

    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise TwinInputError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 1600x1000") from None
    if camera not in ("oblique", "top"):
        raise TwinInputError(f"--camera {camera!r}: choose oblique or top")
    written = render_city(city, out, RenderOptions(colour_by, camera, (width, height), flood_result))
    typer.echo(f"wrote {written}")
