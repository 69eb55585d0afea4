"""``/api/stream``: server-sent events of new observations and alerts, resumable with ``Last-Event-ID``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from twin.sensors.alerts import LABELS
from twin.sensors.times import iso
from twin.server.app_state import Database, Feed, Nowcasts
from twin.server.auth import SESSION_COOKIE, Role, RoleCheck, requires
from twin.store.models import AlertState

router = APIRouter(prefix="/api", tags=["sensors"])
#: How often the log is read for new events, and how often an idle stream sends a comment.
POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15.0
_STAFF = RoleCheck((Role.STAFF, Role.SENSOR, Role.ADMIN))


def _is_staff(request: Request) -> bool:
    """Whether the request carries a valid staff/sensor/admin key or session (anonymous readers see public events)."""
    if "authorization" not in request.headers and SESSION_COOKIE not in request.cookies:
        return False
    _STAFF(request)  # a wrong key is a 401, not a silent downgrade
    return True


@router.get("/stream", dependencies=[requires(Role.ANONYMOUS)])
async def stream(request: Request, feed: Feed, last_event_id: Annotated[str | None, Header()] = None,
                 after: int | None = None) -> StreamingResponse:
    """``observations`` and ``alert`` events; ``Last-Event-ID`` (or ``?after=``) resumes after that id.

    Without either, the stream starts with new events only. Footfall counters are shown to keys only.
    """
    public_only = not _is_staff(request)
    start = after if after is not None else int(last_event_id) if last_event_id and last_event_id.isdigit() else None

    async def lines() -> AsyncIterator[str]:
        last = start if start is not None else await feed.newest()
        yield "retry: 2000\n\n"
        idle = 0.0
        while not await request.is_disconnected():
            batch = await feed.after(last, public_only, POLL_SECONDS)
            for event in batch:
                yield f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"
                last = event.id
            if batch:
                idle = 0.0
                continue
            idle += POLL_SECONDS
            if idle >= HEARTBEAT_SECONDS:
                idle = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(lines(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/alerts", dependencies=[requires(Role.ANONYMOUS)])
def alert_states(request: Request, store: Database, nowcasts: Nowcasts) -> dict:
    """The current alert level of every gauge with thresholds; to staff also each City's
    current forecast alerts (``forecasts``: its latest valid forecast's, ``twin.nowcast``)."""
    with store.session() as session:
        states = session.scalars(select(AlertState).order_by(AlertState.datastream_id))
        answer: dict[str, Any] = {"alerts": [
            {"datastream": s.datastream_id, "level": s.level, "label": LABELS[s.level], "value": s.value,
             "phenomenonTime": iso(s.phenomenon_time), "since": iso(s.since)} for s in states]}
    if _is_staff(request):
        answer["forecasts"] = nowcasts.alerts(datetime.now(UTC))
    return answer
