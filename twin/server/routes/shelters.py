"""``/api/cities/{city}/shelters``: the city's flood shelters as GeoJSON points (for the viewer's layer)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request

from twin.server.auth import Role, requires
from twin.server.problems import Problem

router = APIRouter(prefix="/api/cities", tags=["cities"])


@router.get("/{city_id}/shelters", dependencies=[requires(Role.ANONYMOUS)])
def list_shelters(city_id: str, request: Request) -> dict[str, Any]:
    """The shelters the City was converted with (a FeatureCollection of points in lon/lat);
    an empty collection when it has none."""
    city = request.app.state.cities.get(city_id)  # 404 unknown-city
    name = (city.manifest.get("files") or {}).get("shelters")
    if not name:
        return {"type": "FeatureCollection", "features": []}
    try:
        collection = json.loads((city.folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Problem(500, f"The shelters of city {city_id!r} cannot be read: {exc}", "bad-city-data") from None
    features = [f for f in collection.get("features", []) if (f.get("geometry") or {}).get("type") == "Point"]
    return {"type": "FeatureCollection", "features": features}
