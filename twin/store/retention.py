"""Retention: raw sensor observations and audit entries older than their settings are deleted.

The audit log is append-only in the database (migration 0003); migration 0004 lets the database
delete only entries older than the retention held in ``retention_policy``. ``prune`` deletes
with the cutoff computed by the database's own clock, the same clock its trigger judges by,
so a pruning never trips the guard. See docs/data-policy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, text

from twin.store.database import Store
from twin.store.models import Observation

#: The least audit retention the database accepts (migration 0004's CHECK).
AUDIT_FLOOR_DAYS = 30
_AUDIT_CUTOFF = {
    "sqlite": "datetime('now', '-' || (SELECT audit_days FROM retention_policy WHERE id = 1) || ' days')",
    "postgresql": "(now() AT TIME ZONE 'UTC') - make_interval(days => (SELECT audit_days FROM retention_policy "
                  "WHERE id = 1))",
}


@dataclass(frozen=True)
class Pruned:
    """How many rows one pruning deleted."""

    observations: int
    audit_entries: int


def set_audit_retention(store: Store, days: int) -> None:
    """Write the audit log's retention where the database's guard reads it."""
    if days < AUDIT_FLOOR_DAYS:
        raise ValueError(f"the audit log is kept at least {AUDIT_FLOOR_DAYS} days")
    with store.session.begin() as session:
        session.execute(text("UPDATE retention_policy SET audit_days = :days WHERE id = 1"), {"days": days})


def prune(store: Store, sensor_days: int, now: datetime | None = None) -> Pruned:
    """Delete observations whose phenomenon time is more than ``sensor_days`` old, and expired audit entries."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=sensor_days)
    with store.session.begin() as session:
        observations = session.execute(delete(Observation).where(Observation.phenomenon_time < cutoff)).rowcount
    dialect = store.engine.dialect.name
    audit = 0
    if dialect in _AUDIT_CUTOFF:
        with store.session.begin() as session:
            audit = session.execute(text(f"DELETE FROM audit_log WHERE at < {_AUDIT_CUTOFF[dialect]}")).rowcount
    return Pruned(observations or 0, audit or 0)
