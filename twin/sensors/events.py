"""The live event log behind ``/api/stream``: ids grow monotonically, the log keeps ``KEEP`` rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from twin.store.models import SensorEvent

#: Events kept for clients that resume with ``Last-Event-ID``.
KEEP = 10_000
_PRUNE_EVERY = 500


_INSERT = insert(SensorEvent.__table__).returning(SensorEvent.__table__.c.id, sort_by_parameter_order=True)


def append(session: Session, kind: str, data: Any, public: bool) -> None:
    """Log one event in the caller's transaction (so it exists only if the data does)."""
    append_all(session, [(kind, data, public)])


def append_all(session: Session, items: list[tuple[str, Any, bool]]) -> None:
    """Log ``(kind, data, public)`` events in order with one INSERT, in the caller's transaction."""
    if not items:
        return
    now = datetime.now(UTC)
    ids = session.connection().execute(_INSERT, [{"kind": kind, "public": public, "data": data,
                                                    "created_at": now} for kind, data, public in items]).scalars()
    due = [id_ for id_ in ids if id_ % _PRUNE_EVERY == 0]
    if due:
        session.execute(delete(SensorEvent).where(SensorEvent.id <= max(due) - KEEP))


def since(session: Session, last_id: int, public_only: bool, limit: int = 500) -> list[SensorEvent]:
    """Events after ``last_id``, oldest first (only public ones for anonymous readers)."""
    query = select(SensorEvent).where(SensorEvent.id > last_id).order_by(SensorEvent.id).limit(limit)
    if public_only:
        query = query.where(SensorEvent.public)
    return list(session.scalars(query))


def latest_id(session: Session) -> int:
    """The newest event id (0 for an empty log)."""
    return session.scalar(select(func.max(SensorEvent.id))) or 0
