"""Every error as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from citygml.errors import CityGMLError
from sim.errors import SimInputError
from twin.errors import TwinInputError

MEDIA_TYPE = "application/problem+json"
#: Seconds a client should wait before retrying while the database is away.
DATABASE_RETRY_AFTER = 5
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error answered as problem+json; ``slug`` names its type under ``/problems/``."""

    def __init__(self, status: int, detail: str, slug: str | None = None, *,
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = headers
        self.extensions = extensions


def problem_response(request: Request, status: int, detail: str, slug: str | None = None,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(jsonable_encoder(body), status, headers=headers, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every 4xx/5xx into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, exc.slug, exc.headers, **exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, detail, headers=headers)

    async def _bad_input(request: Request, exc: Exception) -> JSONResponse:
        # Bad input found below the routes (a scenario, a dataset, a job's options): the one
        # place it becomes an answer, 422 with the library's own message.
        return problem_response(request, 422, str(exc), "bad-input")

    for error in (TwinInputError, CityGMLError, SimInputError):
        app.add_exception_handler(error, _bad_input)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem_response(request, 422, detail, "validation", errors=errors)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A database that went away (server down, file gone, connection dropped, locked) is
        # a temporary outage: 503 with Retry-After; the pool reconnects when it is back.
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            log.warning("database unavailable on %s: %s", request.url.path, exc.orig)
            return problem_response(request, 503, "The database is unavailable; retry shortly.",
                                    "database-unavailable", headers={"Retry-After": str(DATABASE_RETRY_AFTER)})
        return await _crash(request, exc)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(request, 500, "The server failed; the error is in its log.")


#: The body of every error answer, as documented in the OpenAPI spec.
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"}},
}


def document(schema: dict) -> dict:
    """Document every operation's errors as they are sent: ``4XX``/``5XX`` (and 422) as problem+json."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem = {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", **problem}
            responses.setdefault("4XX", {"description": "Refused (see the problem's type)", **problem})
            responses.setdefault("5XX", {"description": "Server failure or unavailable", **problem})
    return schema
