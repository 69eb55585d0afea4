"""Command groups of the ``twin`` command line; each module adds its commands to the app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach every command group to ``app``."""
    from twin.commands import inspect as inspect_cmd

    inspect_cmd.register(app)
