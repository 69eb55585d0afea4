"""ASGI middleware that appends every write, sign-in and refused request to the audit log.

Who comes from what :class:`twin.server.auth.RoleCheck` (or the sign-in route) put in the
request state; where from is the client address. The entry is written before the response
starts, so whoever saw an answer to a write can be sure it is in the log.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twin.server.ratelimit import WRITE_METHODS
from twin.store.audit import AuditLog, AuditRecord

DENIED = frozenset({401, 403, 429})
#: Set in the request state by a handler that wrote the request's audit entry itself, in the
#: transaction of its write (``twin.server.observation_posts``).
RECORDED = "twin.audit_recorded"
SESSION_PATH = "/api/session"
log = logging.getLogger(__name__)


def action_of(method: str, path: str, status: int) -> str | None:
    """The audit action of a request, or None if it is not recorded (a granted read)."""
    if path == SESSION_PATH and method in ("POST", "DELETE"):
        return "signin" if method == "POST" else "signout"
    if status in DENIED:
        return "denied"
    if method in WRITE_METHODS:
        return "write"
    return None


class AuditTrail:
    """Record writes, sign-ins and 401/403/429 answers in ``audit``."""

    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                action = action_of(scope["method"], scope["path"], message["status"])
                if action is not None and not state.get(RECORDED):
                    await self._record(scope, state, action, message["status"])
            await send(message)

        await self.app(scope, receive, send_recorded)

    async def _record(self, scope: Scope, state: dict, action: str, status: int) -> None:
        client = scope.get("client")
        record = AuditRecord(actor=state.get("actor", "anonymous"), role=state.get("role", "anonymous"),
                             action=action, method=scope["method"], path=scope["path"], status=status,
                             client=client[0] if client else "", detail=state.get("audit_detail", ""))
        try:
            await run_in_threadpool(self.audit.append, record)
        except Exception:  # an unwritable log must not turn every answer into a crash; it is logged loudly
            log.exception("could not write the audit entry %s", record)
