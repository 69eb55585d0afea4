"""``twin demo``: the whole story on the sample city — generate, convert, serve."""

from __future__ import annotations

from pathlib import Path

import typer

from twin.commands.scenario import run as scenario_run
from twin.commands.serve import serve


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    home: Path = typer.Option(Path("build/demo"), "--home", help="Folder for the sample dataset and the server's data."),
    buildings: int = typer.Option(10_000, "--buildings", "-n", help="Buildings in the sample city."),
    seed: int = typer.Option(1, "--seed", help="Sample city seed."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    port: int = typer.Option(8000, "--port", "-p", min=0, max=65535, help="TCP port."),
) -> None:
    """Make the sample city (once), convert it (once), run a flood + evacuation scenario (once)
and serve it; prints the URL to open."""
    from citygml.samplecity import generate
    from twin.city.layout import is_city
    from twin.convert.pipeline import convert

    source = home / "source"
    city = home / "data" / "sample"
    if not (source / "udx").is_dir():
        typer.echo(f"twin: writing a {buildings}-building sample city to {source}", err=True)
        generate(source, buildings=buildings, seed=seed)
    if not is_city(city):
        typer.echo(f"twin: converting it into {city}", err=True)
        convert(source, city)
    if not any((home / "data" / "scenarios").glob("*/evacuation/summary.json")):
        typer.echo("twin: running the river-breach flood and its evacuation (about a minute)", err=True)
        scenario_run(data_dir=home / "data", city="sample", scenario="river-breach", cell_size=16.0, duration=3600.0,
                     evacuation=True, time_of_day="night", people_per_agent=10.0, vertical=0,
                     evacuation_cell_size=8.0, evacuation_duration=1800.0)
    serve(data_dir=home / "data", host=host, port=port, certfile=None, keyfile=None)
