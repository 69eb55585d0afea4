"""Command groups of the ``twin`` command line; each module adds its commands to the app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach every command group to ``app``."""
    from twin.commands import city as city_cmd
    from twin.commands import convert as convert_cmd
    from twin.commands import demo as demo_cmd
    from twin.commands import ensemble as ensemble_cmd
    from twin.commands import evacuate as evacuate_cmd
    from twin.commands import export as export_cmd
    from twin.commands import flood as flood_cmd
    from twin.commands import inspect as inspect_cmd
    from twin.commands import keys as keys_cmd
    from twin.commands import nowcast as nowcast_cmd
    from twin.commands import render as render_cmd
    from twin.commands import samplecity as samplecity_cmd
    from twin.commands import scenario as scenario_cmd
    from twin.commands import sensors as sensors_cmd
    from twin.commands import serve as serve_cmd
    from twin.commands import users as users_cmd

    inspect_cmd.register(app)
    convert_cmd.register(app)
    city_cmd.register(app)
    render_cmd.register(app)
    samplecity_cmd.register(app)
    serve_cmd.register(app)
    keys_cmd.register(app)
    users_cmd.register(app)
    demo_cmd.register(app)
    flood_cmd.register(app)
    ensemble_cmd.register(app)
    evacuate_cmd.register(app)
    sensors_cmd.register(app)
    scenario_cmd.register(app)
    nowcast_cmd.register(app)
    export_cmd.register(app)
