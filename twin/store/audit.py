"""The append-only audit log: who did what, when, from where. Rows are added, never changed.

Besides this module offering no update or delete, migration 0003 installs triggers that
make the database itself refuse UPDATE and DELETE on ``audit_log`` (SQLite and PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from twin.store.database import Store
from twin.store.models import AuditEntry

#: The kinds of entries: a state-changing request, a sign-in or sign-out, a refused request.
ACTIONS = ("write", "signin", "signout", "denied")


@dataclass(frozen=True)
class AuditRecord:
    """One entry as written and as read back."""

    actor: str
    role: str
    action: str
    method: str
    path: str
    status: int
    client: str
    detail: str = ""
    at: datetime | None = None
    id: int | None = None


class AuditLog:
    """Append entries to, and page through, the audit log of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, record: AuditRecord) -> int:
        """Write ``record`` (stamped now if it has no time); its id."""
        with self._store.session.begin() as session:
            return append_all(session, [record])[0]

    def query(self, *, since: datetime | None = None, actor: str | None = None, action: str | None = None,
              before_id: int | None = None, limit: int = 100) -> list[AuditRecord]:
        """Entries newest first, filtered, at most ``limit``, older than ``before_id`` if given."""
        statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if since is not None:
            statement = statement.where(AuditEntry.at >= since)
        if actor is not None:
            statement = statement.where(AuditEntry.actor == actor)
        if action is not None:
            statement = statement.where(AuditEntry.action == action)
        if before_id is not None:
            statement = statement.where(AuditEntry.id < before_id)
        with self._store.session() as session:
            return [AuditRecord(r.actor, r.role, r.action, r.method, r.path, r.status, r.client, r.detail,
                                r.at, r.id) for r in session.scalars(statement)]


_INSERT = insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id, sort_by_parameter_order=True)


def append_all(session: Session, records: list[AuditRecord]) -> list[int]:
    """Write ``records`` in the caller's transaction (so an entry exists only if its write does); their ids."""
    if not records:
        return []
    now = datetime.now(UTC)
    rows = [{"at": r.at or now, "actor": r.actor[:120], "role": r.role, "action": r.action, "method": r.method,
             "path": r.path[:500], "status": r.status, "client": r.client[:100], "detail": r.detail[:500]}
            for r in records]
    return list(session.connection().execute(_INSERT, rows).scalars())
