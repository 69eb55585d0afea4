"""The ``twin`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer

from citygml.errors import CityGMLError
from sim.errors import SimInputError
from twin.commands import register
from twin.errors import TwinInputError

app = typer.Typer(
    name="twin",
    help="machi-twin: PLATEAU 3D city models as a digital twin for disaster planning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
register(app)


@app.callback()
def _root() -> None:
    """machi-twin: PLATEAU 3D city models as a digital twin for disaster planning."""

#: Errors that mean "bad input": one line, exit status 2, no traceback.
INPUT_ERRORS = (CityGMLError, SimInputError, TwinInputError, FileNotFoundError, IsADirectoryError)


def main() -> None:
    """Entry point of the console script."""
    try:
        app()
    except INPUT_ERRORS as exc:
        typer.echo(f"twin: error: {exc}", err=True)
        sys.exit(2)
    except FloatingPointError as exc:  # a simulation that diverged: say when, without a traceback
        typer.echo(f"twin: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("twin: interrupted", err=True)
        sys.exit(130)
