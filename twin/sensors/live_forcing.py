"""A flood scenario's forcing from live gauges: rain and a boundary stage from datastreams.

"The last 3 hours of gauge G, then hold": the observations of a datastream over a time
window become a scenario series with ``t = 0`` at the window's start; after the window the
series keeps its last value (``sim.flood.Series`` holds past its last time). A river gauge
reads the stage above its zero (量水標零点高); ``datum_m`` (T.P.) turns it into the water
surface elevation the flood boundary needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from sim.flood.forcing import SIDES
from twin.errors import TwinInputError
from twin.sensors.times import iso
from twin.store.models import Datastream, Observation


@dataclass(frozen=True)
class Window:
    """[end − seconds, end] in UTC."""

    end: datetime
    seconds: float

    @property
    def start(self) -> datetime:
        return self.end - timedelta(seconds=self.seconds)


def gauge_series(session: Session, datastream_id: int, window: Window) -> list[list[float]]:
    """``[[t_s, value], ...]`` of a datastream's numeric observations in ``window``, t from its start."""
    stream = session.get(Datastream, datastream_id)
    if stream is None:
        raise TwinInputError(f"datastream {datastream_id}: no such datastream")
    rows = session.execute(
        select(Observation.phenomenon_time, Observation.result_number)
        .where(Observation.datastream_id == datastream_id, Observation.phenomenon_time >= window.start,
               Observation.phenomenon_time <= window.end, Observation.result_number.is_not(None))
        .order_by(Observation.phenomenon_time)).all()
    if not rows:
        raise TwinInputError(f"datastream {datastream_id} ({stream.name}): no numeric observations between "
                             f"{iso(window.start)} and {iso(window.end)}")
    return [[(moment - window.start).total_seconds(), float(value)] for moment, value in rows]


def live_forcing(session: Session, window: Window, rain: int | None = None, stage: int | None = None,
                 side: str = "east", datum_m: float = 0.0) -> dict:
    """Scenario overrides ``{"rain": {"series": …}, "boundaries": {side: [[t, wse], …]}}`` from the
    rain datastream (mm/h) and the river stage datastream (m above ``datum_m``)."""
    if rain is None and stage is None:
        raise TwinInputError("give a rain datastream, a stage datastream or both")
    if side not in SIDES:
        raise TwinInputError(f"side {side!r}: one of {', '.join(SIDES)}")
    if window.seconds <= 0:
        raise TwinInputError(f"window of {window.seconds:g} s: it must be positive")
    out: dict = {}
    if rain is not None:
        series = gauge_series(session, rain, window)
        if min(v for _, v in series) < 0:
            raise TwinInputError(f"datastream {rain}: negative rain in the window")
        out["rain"] = {"series": series}
    if stage is not None:
        out["boundaries"] = {side: [[t, datum_m + v] for t, v in gauge_series(session, stage, window)]}
    return out
