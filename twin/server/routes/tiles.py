"""``/tiles/{city}/...``: a converted city's 3D Tiles (tileset JSON, glb, textures)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from twin.server.app_state import Cities
from twin.server.auth import Role, requires
from twin.server.static import TILE_SUFFIXES, safe_file, serve_file

router = APIRouter(tags=["tiles"])
#: Re-converting a city rewrites its tiles, so clients revalidate after a short while.
CACHE_CONTROL = "public, max-age=300"


@router.get("/tiles/{city_id}/{path:path}", response_class=Response,
                  dependencies=[requires(Role.ANONYMOUS)],
                  responses={200: {"content": {"application/json": {}, "model/gltf-binary": {}}}})
async def tile_file(city_id: str, path: str, request: Request, cities: Cities) -> Response:
    """A tileset or tile content file of a city (ETag, Range and gzip supported)."""
    return serve_file(request, safe_file(cities.get(city_id).folder.path, path, TILE_SUFFIXES), CACHE_CONTROL)
