"""``/catalog``: every dataset and API of the twin, as DCAT-AP 3 JSON-LD or as a page people read."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from twin.opendata.catalog import Catalogue, html_page, json_ld
from twin.opendata.features import dumps
from twin.server.app_state import AppSettings, Cities, Database, Jobs, Published
from twin.server.auth import Role, requires
from twin.server.open_data import catalogue

router = APIRouter(tags=["catalog"])
JSON_LD = "application/ld+json"
HTML = "text/html; charset=utf-8"


async def current(request: Request, cities: Cities, jobs: Jobs, published: Published,
                  settings: AppSettings, store: Database) -> Catalogue:
    """The catalogue as of now, at the URL the request came to."""
    base = str(request.base_url).rstrip("/")
    return await run_in_threadpool(catalogue, base, cities, jobs, published, store, settings)


@router.get("/catalog", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {"text/html": {}, JSON_LD: {}}}})
async def get_catalog(request: Request, cities: Cities, jobs: Jobs, published: Published,
                      settings: AppSettings, store: Database) -> Response:
    """The catalogue: HTML for browsers, DCAT-AP 3 JSON-LD for an ``Accept`` of ``application/ld+json`` or JSON."""
    found = await current(request, cities, jobs, published, settings, store)
    accept = request.headers.get("accept", "")
    if "text/html" in accept and "application/ld+json" not in accept:
        return Response(html_page(found), media_type=HTML, headers={"Vary": "Accept"})
    return Response(dumps(json_ld(found)), media_type=JSON_LD, headers={"Vary": "Accept"})


@router.get("/catalog.jsonld", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {JSON_LD: {}}}})
async def get_catalog_jsonld(request: Request, cities: Cities, jobs: Jobs, published: Published,
                             settings: AppSettings, store: Database) -> Response:
    """The catalogue as DCAT-AP 3 JSON-LD (its context inline)."""
    found = await current(request, cities, jobs, published, settings, store)
    return Response(dumps(json_ld(found)), media_type=JSON_LD)
