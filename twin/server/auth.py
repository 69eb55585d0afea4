"""Roles and the one mechanism that declares and checks them: ``requires(...)``.

Every route declares its roles with ``dependencies=[requires(...)]`` (or a parameter
``= requires(...)``); ``route_roles`` reads them back from the routes themselves, so the
registry can't drift from what is enforced, and ``create_app`` refuses to start when
a route declares none. ``admin`` may do everything; ``anonymous`` means open to all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from collections.abc import Iterator

from fastapi import Depends, FastAPI, Request, routing
from fastapi.routing import APIRoute
from fastapi.security.utils import get_authorization_scheme_param

from twin.server.problems import Problem
from twin.store.apikeys import ApiKeys, KeyInfo


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    STAFF = "staff"
    SENSOR = "sensor"
    ADMIN = "admin"


KEY_ROLES = (Role.STAFF, Role.SENSOR, Role.ADMIN)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="machi-twin"'}


class RoleCheck:
    """A dependency that lets a request through when its key has one of ``roles``."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = roles

    def __call__(self, request: Request) -> KeyInfo | None:
        if Role.ANONYMOUS in self.roles:
            return None
        scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "This endpoint needs an API key: send 'Authorization: Bearer <key>'.",
                          "unauthorized", headers=_CHALLENGE)
        keys: ApiKeys = request.app.state.keys
        key = keys.verify(token)
        if key is None:
            raise Problem(401, "The API key is unknown or revoked.", "unauthorized", headers=_CHALLENGE)
        if key.role not in self.roles:
            raise Problem(403, f"Role {key.role!r} may not do this; needs one of "
                               f"{', '.join(r.value for r in self.roles)}.", "forbidden")
        return key


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
        for method in sorted(route.methods):
            registry[(method, route.path_format)] = roles
    return registry


def document_roles(app: FastAPI, schema: dict) -> dict:
    """Add ``x-roles`` and the bearer security requirement to every operation of ``schema``."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http", "scheme": "bearer", "description": "An API key from `twin keys create`."}
    for (method, path), roles in role_registry(app).items():
        operation = schema.get("paths", {}).get(path, {}).get(method.lower())
        if operation is None:
            continue
        operation["x-roles"] = [r.value for r in roles]
        if Role.ANONYMOUS not in roles:
            operation["security"] = [{"apiKey": []}]
    return schema
