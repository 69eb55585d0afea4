"""``twin nowcast``: configure a City's nowcast, run a cycle, score the kept forecasts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from twin.commands.keys import DataDir, open_home_store
from twin.errors import TwinInputError

nowcast_app = typer.Typer(help="Nowcasts: live gauges → forecasts of who floods when.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(nowcast_app, name="nowcast")


def _service(data_dir: Path):
    from twin.nowcast.service import NowcastService

    return NowcastService(data_dir, open_home_store(data_dir))


def _river(text: str) -> dict:
    """``ID:side=west:datum=11.5`` or ``ID:breach=LON,LAT,LON,LAT:width=50:crest=12.3:datum=9``."""
    head, *parts = text.split(":")
    try:
        out: dict = {"datastream": int(head)}
        for part in parts:
            key, _, value = part.partition("=")
            if key == "side":
                out["side"] = value
            elif key == "breach":
                a, b, c, d = (float(v) for v in value.split(","))
                out["breach"] = [[a, b], [c, d]]
            elif key in ("datum", "width", "crest"):
                out[f"{key}_m"] = float(value)
            else:
                raise TwinInputError(f"--river-gauge {text}: unknown part {key!r} (side, breach, datum, width, crest)")
    except ValueError:
        raise TwinInputError(f"--river-gauge {text}: expected ID:side=SIDE:datum=M or "
                             "ID:breach=LON,LAT,LON,LAT:width=M:crest=M:datum=M") from None
    return out


@nowcast_app.command("configure")
def configure(
    city: str = typer.Argument(..., help="City id (a folder of the data folder)."),
    rain_gauge: list[int] = typer.Option([], "--rain-gauge", help="Rain datastream id (mm/h); repeat for several."),
    river_gauge: list[str] = typer.Option([], "--river-gauge", help="ID:side=SIDE:datum=M (stage on a grid side) or "
                                          "ID:breach=LON,LAT,LON,LAT:width=M:crest=M:datum=M (a levee breach)."),
    cycle_min: float = typer.Option(10.0, "--cycle-min", help="Minutes between cycles."),
    horizon_h: float = typer.Option(3.0, "--horizon-h", help="Forecast horizon, hours."),
    scheme: str = typer.Option("auto", "--scheme", help="auto, inertial or full."),
    cell_size: float = typer.Option(8.0, "--cell-size", help="Cell size, m."),
    alert_lead_min: float = typer.Option(60.0, "--alert-lead-min", help="Alert when water reaches buildings within "
                                         "this many minutes."),
    data_dir: Path = DataDir,
) -> None:
    """Set which gauges drive the City's nowcast, how often it runs and how far it looks."""
    body = {"rain_gauges": rain_gauge, "river_gauges": [_river(r) for r in river_gauge], "cycle_s": cycle_min * 60,
            "horizon_s": horizon_h * 3600, "scheme": scheme, "cell_size_m": cell_size,
            "alert_lead_s": alert_lead_min * 60}
    config = _service(data_dir).configure(city, body)
    typer.echo(json.dumps(config.to_json(), indent=2, ensure_ascii=False))


@nowcast_app.command("post-rain")
def post_rain(
    city: str = typer.Argument(..., help="City id."),
    file: Path = typer.Argument(..., help="Rain grid forecast in mm/h: a GeoTIFF (one band per valid time) or a "
                                "CF-NetCDF (time × y × x)."),
    valid: list[str] = typer.Option([], "--valid", help="A GeoTIFF band's valid time (ISO 8601 with zone), one per "
                                    "band in order; without it, the bands' descriptions."),
    data_dir: Path = DataDir,
) -> None:
    """Post a rain grid forecast the next cycles use (in place of a posted rain series)."""
    if not file.is_file():
        raise TwinInputError(f"{file}: no such file")
    posted = _service(data_dir).post_rain_grid(city, file.read_bytes(), valid or None)
    typer.echo(json.dumps(posted["rain_grid"], indent=2, ensure_ascii=False))


@nowcast_app.command("run")
def run(
    city: str = typer.Argument(..., help="City id."),
    at: str = typer.Option(None, "--at", help="Issue time (ISO 8601 with zone); default now."),
    data_dir: Path = DataDir,
) -> None:
    """Run one cycle now (or at --at) and print its forecast's summary."""
    from twin.sensors.times import parse_moment

    issue = parse_moment(at, "--at") if at else datetime.now(UTC)
    forecast = _service(data_dir).run(city, issue)
    typer.echo(json.dumps({k: forecast[k] for k in ("issued", "valid_to", "start", "scheme", "forcing", "buildings",
                                                    "alerts", "wall_s")}, indent=2, ensure_ascii=False))


@nowcast_app.command("verify")
def verify(city: str = typer.Argument(..., help="City id."), data_dir: Path = DataDir) -> None:
    """Score every kept forecast against the gauges' later readings (JSON)."""
    typer.echo(json.dumps(_service(data_dir).verification(city), indent=2, ensure_ascii=False))
