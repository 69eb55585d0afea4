"""``/api/audit``: the append-only audit log, newest first, for ``admin`` only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel
from starlette.concurrency import run_in_threadpool

from twin.server.app_state import Audit
from twin.server.auth import Role, requires

router = APIRouter(prefix="/api", tags=["audit"])


class Entry(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    method: str
    path: str
    status: int
    client: str
    detail: str


class AuditPage(BaseModel):
    entries: list[Entry]
    next: str | None = None


@router.get("/audit", response_model=AuditPage, dependencies=[requires(Role.ADMIN)])
async def audit(request: Request, log: Audit,
                since: Annotated[AwareDatetime | None, Query(description="Entries at or after this moment")] = None,
                actor: Annotated[str | None, Query(max_length=120, description="e.g. key:gauge-1, user:sato")] = None,
                action: Literal["write", "signin", "signout", "denied"] | None = None,
                before: Annotated[int | None, Query(ge=1, lt=2**63, description="Entries older than this id")] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> AuditPage:
    """Writes, sign-ins and refused requests: who, what, when, from where. ``next`` links the older page."""
    records = await run_in_threadpool(log.query, since=since, actor=actor, action=action, before_id=before,
                                      limit=limit)
    entries = [Entry(id=r.id, at=r.at, actor=r.actor, role=r.role, action=r.action, method=r.method,
                     path=r.path, status=r.status, client=r.client, detail=r.detail) for r in records]
    following = None
    if len(entries) == limit:
        params = {**request.query_params, "before": str(entries[-1].id)}
        following = str(request.url.include_query_params(**params))
    return AuditPage(entries=entries, next=following)
