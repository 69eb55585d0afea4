"""``create_app(settings)``: the FastAPI application of ``twin serve``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from twin.convert.imports import ImportRunner
from twin.ensembles.jobs import EnsembleRunner
from twin.nowcast.service import NowcastService
from twin.scenarios.jobs import JobRunner
from twin.server import problems
from twin.server.audit import AuditTrail
from twin.server.auth import CSRF_HEADER, document_roles, role_registry
from twin.server.cities import CityRegistry
from twin.server.event_feed import EventFeed
from twin.server.hazard_maps import HazardMaps
from twin.server.headers import SecurityHeaders, viewer_policy
from twin.server.limits import BodyLimit
from twin.server.observation_posts import ObservationPosts
from twin.server.open_data import OpenData
from twin.server.ratelimit import Limit, RateLimiter
from twin.server.retention import prune_periodically
from twin.server.routes import (
    audit,
    catalog,
    cities,
    ckan,
    downloads,
    ensembles,
    footfall,
    hazard,
    imports,
    keys,
    live_forcing,
    ngsi,
    nowcast,
    ogcapi,
    scenario_reports,
    scenarios,
    session,
    shelters,
    sta,
    stream,
    tiles,
    viewer,
)
from twin.server.settings import Settings
from twin.server.tile_responses import TileResponses
from twin.store import open_store
from twin.store.apikeys import ApiKeys
from twin.store.audit import AuditLog
from twin.store.group_commit import GroupCommit
from twin.store.retention import set_audit_retention
from twin.store.users import Users

#: Already compressed or served compressed by ``twin.server.static``; never gzip twice.
_NO_GZIP = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "model/gltf-binary", "application/octet-stream",
            "image/ktx2", "application/wasm")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The server for ``settings.data_dir``: opens (and migrates) the database at once."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.database)
    writes = GroupCommit(store.session)

    jobs = JobRunner(settings.data_dir)  # marks the jobs a restart cut off as failed, now
    nowcasts = NowcastService(settings.data_dir, store)
    ensemble_jobs = EnsembleRunner(settings.data_dir, settings.ensemble_workers, settings.ensemble_scheduler)

    set_audit_retention(store, settings.audit_retention_days)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pruning = asyncio.create_task(prune_periodically(store, settings))
        if settings.nowcast:
            nowcasts.start()  # resumes every configured City from its last saved state
        yield
        nowcasts.stop()
        pruning.cancel()
        with suppress(asyncio.CancelledError):
            await pruning
        jobs.shutdown()
        ensemble_jobs.shutdown()
        writes.close()
        store.close()

    # No /docs or /redoc: they load Swagger/ReDoc from a CDN, which the offline CSP forbids.
    app = FastAPI(title="machi-twin", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="PLATEAU city models as a digital twin. Each operation's `x-roles` "
                              "lists the roles that may call it (`anonymous` = everyone).")
    app.state.settings = settings
    app.state.store = store
    app.state.keys = ApiKeys(store)
    app.state.users = Users(store, timedelta(hours=settings.session_hours))
    app.state.audit = AuditLog(store)
    app.state.limiter = RateLimiter(Limit(settings.write_rate, settings.write_burst),
                                    Limit(settings.expensive_per_minute / 60, settings.expensive_burst),
                                    frozenset(settings.expensive_routes))
    app.state.writes = writes
    app.state.cities = CityRegistry(settings.data_dir)
    app.state.jobs = jobs
    app.state.imports = ImportRunner(settings.data_dir, settings.imports)
    app.state.hazard_maps = HazardMaps()
    app.state.nowcasts = nowcasts
    app.state.ensembles = ensemble_jobs
    app.state.open_data = OpenData(settings.data_dir)
    app.state.event_feed = EventFeed(store, stream.POLL_SECONDS)
    problems.install(app)
    # live_forcing and scenario_reports before scenarios: their fixed paths are not job ids
    for module in (session, audit, cities, imports, hazard, keys, tiles, viewer, sta, ngsi, stream, footfall, live_forcing,
                   nowcast, scenario_reports, downloads, ensembles, scenarios, shelters, ogcapi, catalog, ckan):
        app.include_router(module.router)
    role_registry(app)  # fails now if a route declares no role

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document(document_roles(app, FastAPI.openapi(app)))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(TileResponses)  # innermost: replays tile answers after the first one
    app.add_middleware(ObservationPosts, keys=app.state.keys, limiter=app.state.limiter, writes=writes)
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=6, exclude_content_types=_NO_GZIP)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Last-Event-ID", CSRF_HEADER])
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(AuditTrail, audit=app.state.audit)
    app.add_middleware(SecurityHeaders, viewer_csp=viewer_policy(settings.imagery_origin))
    return app
