"""``twin sensors simulate``: a synthetic storm and footfall feed sent to a running server."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from twin.errors import TwinInputError

sensors_app = typer.Typer(help="Live sensors: a simulated feed for demos and load tests.", no_args_is_help=True)
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def register(app: typer.Typer) -> None:
    app.add_typer(sensors_app, name="sensors")


def parse_duration(text: str, option: str) -> timedelta:
    """``90s``, ``30m``, ``8h`` or ``2d``."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise TwinInputError(f"{option} {text!r}: expected a number and a unit s, m, h or d (e.g. 8h)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


@sensors_app.command("simulate")
def simulate(
    city: str = typer.Option(..., "--city", "-c", help="City id on the server (its bounding box places the devices)."),
    url: str = typer.Option("http://127.0.0.1:8000", "--url", help="The server's base URL."),
    key: str = typer.Option(..., "--key", "-k", envvar="TWIN_KEY",
                            help="A sensor key (an admin key also uploads the footfall areas)."),
    speed: float = typer.Option(60.0, "--speed", min=0.001, help="Simulated seconds per real second."),
    duration: str = typer.Option("8h", "--duration", help="Simulated time to stream (the storm lasts 8h)."),
    backfill: str = typer.Option("0d", "--backfill", help="People-counter history to send first, e.g. 21d."),
    seed: int = typer.Option(1, "--seed", help="Seed of the random counts."),
    wait: float = typer.Option(0.0, "--wait", min=0, help="Seconds to wait for the server to come up."),
) -> None:
    """Create the devices, back-fill counter history, then stream a storm and footfall in simulated time."""
    from datetime import UTC, datetime

    from twin.sensors.simulate import STORM_HOURS, Feed, run_live

    length, history = parse_duration(duration, "--duration"), parse_duration(backfill, "--backfill")
    if not url.startswith(("http://", "https://")):
        raise TwinInputError(f"--url {url!r}: expected an http(s) URL")
    feed = _connect(lambda: Feed(url, key, city, seed=seed), wait)
    for warning in feed.install():
        typer.echo(f"twin: warning: {warning}", err=True)
    now = datetime.now(UTC)
    if history:
        typer.echo(f"twin: back-filling {history.days} days of {len(feed.counters)} people counters", err=True)
        sent = feed.backfill(now - history, now)
        typer.echo(f"twin: back-filled {sent} observations", err=True)
    typer.echo(f"twin: streaming {length} of simulated time at {speed:g}x (a {STORM_HOURS:g}h storm from now)",
               err=True)

    def progress(moment: datetime, sent: int) -> None:
        if moment.minute % 60 == 0:
            typer.echo(f"twin: {moment.isoformat(timespec='minutes')} {sent} observations sent", err=True)

    run_live(feed, now, length, speed, progress)


def _connect(make, wait: float):
    """``make()``, retried while the server is not reachable yet, for up to ``wait`` seconds."""
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            return make()
        except TwinInputError as exc:
            if "cannot reach" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
