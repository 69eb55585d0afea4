"""The operations console: its page, its modules, CesiumJS, and ``/api/config``."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from twin import depth_classes
from twin.opendata import licence
from twin.server.app_state import AppSettings, Cities
from twin.server.auth import Role, requires
from twin.server.problems import Problem
from twin.server.static import safe_file, serve_file

router = APIRouter(tags=["viewer"])
DEPTH_CLASSES_MODULE = (
    "// Written by the server from twin/depth_classes.py: MLIT inundation-depth classes and the wet depth.\n"
    + "".join(f"export const {name.upper()} = {json.dumps(value, ensure_ascii=False)};\n"
              for name, value in depth_classes.as_json().items())
).encode()


class ViewerConfig(BaseModel):
    imagery_url: str | None
    imagery_credit: str
    attribution: str


@router.get("/", response_class=Response, dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/html": {}}}})
def console_page(request: Request, settings: AppSettings) -> Response:
    """The operations console page."""
    return serve_file(request, safe_file(settings.viewer_dir, "index.html"), "no-cache")


@router.get("/hazard", response_class=Response, dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/html": {}}}})
def hazard_page(request: Request, settings: AppSettings) -> Response:
    """The public hazard map (no login, no cookies, nothing from outside)."""
    return serve_file(request, safe_file(settings.viewer_dir, "hazard.html"), "no-cache")


@router.get("/footfall", response_class=Response, dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/html": {}}}})
def footfall_page(request: Request, settings: AppSettings) -> Response:
    """The area-management footfall dashboard (k-anonymised aggregates; staff sessions see counters)."""
    return serve_file(request, safe_file(settings.viewer_dir, "footfall.html"), "no-cache")


@router.get("/src/shared/depth-classes.js", response_class=Response, dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/javascript": {}}}})
def depth_classes_module() -> Response:
    """The MLIT depth classes as an ES module, written from ``twin.depth_classes`` (the viewer's only copy)."""
    return Response(DEPTH_CLASSES_MODULE, media_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


@router.get("/src/{path:path}", response_class=Response, dependencies=[requires(Role.ANONYMOUS)])
def viewer_module(path: str, request: Request, settings: AppSettings) -> Response:
    """The viewer's own ES modules and styles."""
    return serve_file(request, safe_file(settings.viewer_dir / "src", path), "no-cache")


@router.get("/cesium/{path:path}", response_class=Response, dependencies=[requires(Role.ANONYMOUS)])
def cesium_file(path: str, request: Request, settings: AppSettings) -> Response:
    """CesiumJS's built files (``viewer/node_modules/cesium/Build/Cesium``)."""
    root = settings.cesium_dir
    if not root.is_dir():
        raise Problem(404, "CesiumJS is not installed: run `npm ci` in viewer/.", "no-cesium")
    return serve_file(request, safe_file(root, path), "public, max-age=86400")


@router.get("/api/config", response_model=ViewerConfig, tags=["viewer"], dependencies=[requires(Role.ANONYMOUS)])
def viewer_config(settings: AppSettings, cities: Cities) -> ViewerConfig:
    """What the viewer needs to know: optional imagery and the attribution to show (what the Cities
    served credit: PLATEAU, and GSI when a City's terrain came from a GSI DEM)."""
    credit = licence.attribution(*(cities.get(c).manifest for c in cities.ids()))
    return ViewerConfig(imagery_url=settings.imagery_url, imagery_credit=settings.imagery_credit,
                        attribution=credit.text)
