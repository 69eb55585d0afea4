"""Roles and the one mechanism that declares and checks them: ``requires(...)``.

Every route declares its roles with ``dependencies=[requires(...)]`` (or a parameter
``= requires(...)``); ``route_roles`` reads them back from the routes themselves, so the
registry can't drift from what is enforced, and ``create_app`` refuses to start when
a route declares none. ``admin`` may do everything; ``anonymous`` means open to all.

A caller is either a bearer API key or an operator's session cookie (password + TOTP
sign-in, ``/api/session``). A request made with the cookie that changes state must echo
the session's CSRF token in ``X-CSRF-Token`` (double submit: the token is also in the
``twin_csrf`` cookie the page can read); bearer-key requests are never cookie-authenticated
and need none. The same check takes a token from the caller's rate-limit buckets and tells
the audit log who the caller is.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Depends, FastAPI, Request, routing
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param

from twin.server.problems import Problem
from twin.server.ratelimit import CHECKED, RateLimiter
from twin.store.apikeys import ApiKeys, KeyInfo
from twin.store.users import Users


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    STAFF = "staff"
    SENSOR = "sensor"
    ADMIN = "admin"


KEY_ROLES = (Role.STAFF, Role.SENSOR, Role.ADMIN)
SESSION_COOKIE = "twin_session"
CSRF_COOKIE = "twin_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="machi-twin"'}


@dataclass(frozen=True)
class SessionUser:
    """An operator signed in with a session cookie; like a key with no id (owns no sensors)."""

    name: str
    role: str
    id: None = None


Caller = KeyInfo | SessionUser


class RoleCheck:
    """A dependency that lets a request through when its key or session has one of ``roles``."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> Caller | None:
        if Role.ANONYMOUS in self.roles:
            _limit(request, None)
            return None
        caller = self._caller(request)
        request.state.actor, request.state.role = _actor(caller), caller.role
        if caller.role not in self.roles:
            request.state.audit_detail = f"role {caller.role} not in {'/'.join(self.roles)}"
            raise Problem(403, f"Role {caller.role!r} may not do this; needs one of "
                               f"{', '.join(r.value for r in self.roles)}.", "forbidden")
        _limit(request, caller)
        return caller

    def _caller(self, request: Request) -> Caller:
        authorization = request.headers.get("Authorization")
        if authorization is None and SESSION_COOKIE in request.cookies:
            return _session_user(request, request.cookies[SESSION_COOKIE])
        scheme, token = get_authorization_scheme_param(authorization)
        if scheme.lower() != "bearer" or not token:
            request.state.audit_detail = "no credentials"
            raise Problem(401, "This endpoint needs an API key ('Authorization: Bearer <key>') "
                               "or a signed-in session.", "unauthorized", headers=_CHALLENGE)
        keys: ApiKeys = request.app.state.keys
        key = keys.verify(token)
        if key is None:
            request.state.audit_detail = f"unknown, revoked or expired key {token[:17]}"
            raise Problem(401, "The API key is unknown, revoked or expired.", "unauthorized",
                          headers=_CHALLENGE)
        return key


def _session_user(request: Request, token: str) -> SessionUser:
    """The operator of a session cookie; state-changing requests must carry its CSRF token."""
    users: Users = request.app.state.users
    live = users.session(token)
    if live is None:
        request.state.audit_detail = "expired or unknown session"
        raise Problem(401, "The session has expired or was ended: sign in again.", "unauthorized",
                      headers=_CHALLENGE)
    user = SessionUser(live.user.name, live.user.role)
    if request.method not in SAFE_METHODS:
        echoed = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(echoed.encode(), live.csrf_token.encode()):
            request.state.actor, request.state.role = _actor(user), user.role
            request.state.audit_detail = "missing or wrong CSRF token"
            raise Problem(403, f"A request made with the session cookie must send its CSRF token in "
                               f"{CSRF_HEADER}.", "csrf")
    return user


def _actor(caller: Caller) -> str:
    return f"key:{caller.name}" if isinstance(caller, KeyInfo) else f"user:{caller.name}"


def _limit(request: Request, caller: Caller | None) -> None:
    """Take a token from the caller's and the client address's buckets (429 when empty)."""
    if request.scope.get("state", {}).get(CHECKED):
        return
    limiter: RateLimiter = request.app.state.limiter
    route = request.scope.get("route")
    identities = [f"ip:{request.client.host if request.client else '-'}"]
    if caller is not None:
        identities.append(_actor(caller))
    limiter.check(request.method, getattr(route, "path_format", None), identities)


def is_staff(request: Request) -> bool:
    """Whether the caller is staff (a staff or admin key or session) on a route open to all.

    No credentials, or another role's (a sensor key), is not staff; a wrong key or an expired
    session is still refused (401), never silently read as anonymous.
    """
    if "authorization" not in request.headers and SESSION_COOKIE not in request.cookies:
        return False
    try:
        RoleCheck((Role.STAFF, Role.ADMIN))(request)
    except Problem as problem:
        if problem.status == 403:
            return False
        raise
    return True


def requires(*roles: Role) -> Any:
    """The dependency of a route open to ``roles`` (``admin`` is always added)."""
    if not roles:
        raise ValueError("requires() needs at least one role")
    allowed = tuple(dict.fromkeys((*roles, Role.ADMIN))) if Role.ANONYMOUS not in roles else (Role.ANONYMOUS,)
    return Depends(RoleCheck(allowed))


def route_roles(route: APIRoute) -> tuple[Role, ...] | None:
    """The roles a route declared, or None if it declared none."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, RoleCheck):
            return dependency.call.roles
        pending.extend(dependency.dependencies)
    return None


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route of ``app``, included routers flattened (their dependencies merged)."""
    contexts = getattr(routing, "iter_route_contexts", None)  # FastAPI ≥ 0.16x nests included routers
    routes = [c.route for c in contexts(app.routes)] if contexts else app.routes
    yield from (r for r in routes if isinstance(r, APIRoute))


def role_registry(app: FastAPI) -> dict[tuple[str, str], tuple[Role, ...]]:
    """(method, path as in OpenAPI) → roles for every route; raises if a route declares none."""
    registry: dict[tuple[str, str], tuple[Role, ...]] = {}
    for route in api_routes(app):
        roles = route_roles(route)
        if roles is None:
            raise RuntimeError(f"route {route.path} declares no role: add requires(...)")
        for method in sorted(route.methods or ()):
            registry[(method, route.path_format)] = roles
    return registry


def document_roles(app: FastAPI, schema: dict) -> dict:
    """Add ``x-roles`` and the bearer security requirement to every operation of ``schema``."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "An API key from `twin keys create`."}
    schemes["session"] = {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                          "description": f"An operator session from POST /api/session; writes also need "
                                         f"the {CSRF_HEADER} header."}
    for (method, path), roles in role_registry(app).items():
        operation = schema.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        operation["x-roles"] = [r.value for r in roles]
        if Role.ANONYMOUS not in roles:
            operation["security"] = [{"apiKey": []}, {"session": []}]
    return schema
