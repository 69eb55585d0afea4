"""``GET /api/scenarios/live-forcing``: rain and boundary stage from live gauges, as scenario overrides.

The "from live gauges" template of the console: the answer's ``overrides`` go unchanged into
``POST /api/scenarios`` (``{"scenario": …, "overrides": …}``). Staff only, like the raw
sensor series it reads. Registered before the ``scenarios`` router (a fixed path, not a job id).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from sim.flood.forcing import SIDES
from twin.sensors.errors import SensorInputError
from twin.sensors.live_forcing import Window, live_forcing
from twin.sensors.times import iso, parse_moment
from twin.server import json_body
from twin.server.app_state import Database
from twin.server.auth import Role, requires
from twin.server.problems import Problem

router = APIRouter(prefix="/api/scenarios", tags=["scenarios"])


@router.get("/live-forcing", dependencies=[requires(Role.STAFF)])
def forcing_from_gauges(
    store: Database,
    rain: Annotated[int | None, Query(ge=-json_body.INT_LIMIT, le=json_body.INT_LIMIT,
                                       description="Rain datastream id (mm/h)")] = None,
    stage: Annotated[int | None, Query(ge=-json_body.INT_LIMIT, le=json_body.INT_LIMIT,
                                       description="River stage datastream id (m above the gauge zero)")] = None,
    side: Annotated[str, Query(description=f"Grid side the stage applies to: {', '.join(SIDES)}")] = "east",
    datum_m: Annotated[float, Query(description="Gauge zero elevation, m T.P.")] = 0.0,
    window_s: Annotated[float, Query(gt=0, le=7 * 86400, description="Window length, s")] = 3 * 3600,
    end: Annotated[str | None, Query(description="Window end (ISO 8601 with zone); default now")] = None,
) -> dict[str, Any]:
    """The observations of ``rain`` and ``stage`` over the window ending at ``end`` (default now) as
    ``overrides`` ({rain: {series}, boundaries: {side: [[t, WSE]]}}), t from the window's start."""
    try:
        moment = parse_moment(end, "end") if end is not None else datetime.now(UTC)
    except SensorInputError as exc:
        raise Problem(422, str(exc), "validation") from None
    window = Window(moment, window_s)
    with store.session() as session:
        overrides = live_forcing(session, window, rain, stage, side, datum_m)
    return {"window": {"start": iso(window.start), "end": iso(window.end), "seconds": window_s},
            "overrides": overrides}
