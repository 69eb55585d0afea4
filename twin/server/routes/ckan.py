"""``/ckan/api/3/action/…`` (and ``/ckan/api/action/…``): the catalogue through CKAN's read API.

Point a CKAN client or harvester at ``https://host/ckan``. Read actions only, with GET (as
CKAN's harvester and ``ckanapi.RemoteCKAN(…, get_only=True)`` call them); errors answer in
CKAN's shape (``success: false`` with ``error.__type``) so clients raise their own exceptions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from twin.errors import TwinInputError
from twin.opendata import ckan
from twin.server.app_state import AppSettings, Cities, Database, Jobs, Published
from twin.server.auth import Role, requires
from twin.server.routes.catalog import current

router = APIRouter(tags=["ckan"])
PREFIXES = ("/ckan/api/3/action", "/ckan/api/action")
_ERROR = {"type": "object", "required": ["success", "error"],
          "properties": {"success": {"const": False}, "error": {"type": "object"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Not found (CKAN error)", "content": {"application/json": {"schema": _ERROR}}},
    409: {"description": "Bad search (CKAN error)", "content": {"application/json": {"schema": _ERROR}}},
}


def _answer(request: Request, action: str, result: Any) -> JSONResponse:
    return JSONResponse({"help": f"{str(request.base_url).rstrip('/')}/ckan/api/3/action/help_show?name={action}",
                         "success": True, "result": result})


def _error(request: Request, action: str, status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"help": f"{str(request.base_url).rstrip('/')}/ckan/api/3/action/help_show?name={action}",
                         "success": False, "error": {"__type": kind, "message": message}}, status_code=status)


async def package_list(request: Request, cities: Cities, jobs: Jobs, published: Published, settings: AppSettings,
                       store: Database,
                       limit: Annotated[int | None, Query(ge=0, le=10_000)] = None,
                       offset: Annotated[int, Query(ge=0)] = 0) -> JSONResponse:
    """The names of every package (dataset)."""
    names = [d.id for d in (await current(request, cities, jobs, published, settings, store)).datasets]
    return _answer(request, "package_list", names[offset:None if limit is None else offset + limit])


async def package_show(request: Request, cities: Cities, jobs: Jobs, published: Published, settings: AppSettings,
                       store: Database,
                       id: Annotated[str, Query(max_length=200, description="A package name or id")]) -> JSONResponse:
    """One package with its resources."""
    found = await current(request, cities, jobs, published, settings, store)
    dataset = found.dataset(id)
    if dataset is None:
        return _error(request, "package_show", 404, "Not Found Error", "Not found")
    return _answer(request, "package_show", ckan.package(found, dataset))


async def package_search(request: Request, cities: Cities, jobs: Jobs, published: Published, settings: AppSettings,
                         store: Database,
                         q: Annotated[str | None, Query(max_length=1000)] = None,
                         fq: Annotated[str | None, Query(max_length=1000)] = None,
                         rows: Annotated[int, Query(ge=0, le=ckan.MAX_ROWS)] = ckan.DEFAULT_ROWS,
                         start: Annotated[int, Query(ge=0)] = 0,
                         sort: Annotated[str | None, Query(max_length=100)] = None) -> JSONResponse:
    """Packages whose text holds every word of ``q`` and that match ``fq`` (``key:value`` terms)."""
    found = await current(request, cities, jobs, published, settings, store)
    try:
        return _answer(request, "package_search", ckan.search(found, q, fq, rows, start, sort))
    except TwinInputError as exc:
        return _error(request, "package_search", 409, "Search Query Error", str(exc))


async def organization_list(request: Request, cities: Cities, jobs: Jobs, published: Published,
                            settings: AppSettings, store: Database, all_fields: bool = False) -> JSONResponse:
    """The publishing organisation (names, or whole dicts with ``all_fields``)."""
    found = await current(request, cities, jobs, published, settings, store)
    org = ckan.organisation(found)
    return _answer(request, "organization_list", [org if all_fields else org["name"]])


for prefix in PREFIXES:
    for action in (package_list, package_show, package_search, organization_list):
        router.add_api_route(f"{prefix}/{action.__name__}", action, methods=["GET"],
                             dependencies=[requires(Role.ANONYMOUS)], responses=_ERRORS,
                             operation_id=f"ckan_{action.__name__}_{'v3' if '/3/' in prefix else 'plain'}")
