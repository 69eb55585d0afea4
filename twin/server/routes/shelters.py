"""``/api/cities/{city}/shelters``: the city's flood shelters as GeoJSON points (for the viewer's layer)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from twin.city.shelters import takes_floods
from twin.server.app_state import Cities
from twin.server.auth import Role, requires
from twin.server.problems import Problem

router = APIRouter(prefix="/api/cities", tags=["cities"])


@router.get("/{city_id}/shelters", dependencies=[requires(Role.ANONYMOUS)])
def list_shelters(city_id: str, cities: Cities) -> dict[str, Any]:
    """The City's flood shelters (a FeatureCollection of points in lon/lat; the same rule as the
    evacuation and the public map, ``twin.city.shelters.takes_floods``); empty when it has none."""
    city = cities.get(city_id)  # 404 unknown-city
    path = city.folder.file("shelters")
    if path is None:
        return {"type": "FeatureCollection", "features": []}
    try:
        collection = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise Problem(500, f"The shelters of city {city_id!r} cannot be read: {exc}", "bad-city-data") from None
    features = [f for f in collection.get("features", []) if (f.get("geometry") or {}).get("type") == "Point"
                and takes_floods(f.get("properties") or {})]
    return {"type": "FeatureCollection", "features": features}
