"""``/api/cities``: converted cities, their manifests and their buildings as GeoJSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from twin.flood.breach_site import rivers
from twin.server.app_state import Cities
from twin.server.auth import Role, requires
from twin.server.cities import SUMMARY_COLUMNS, City, detail_properties, feature
from twin.server.labels import NAMED_BY, labels_for, value_names
from twin.server.problems import Problem

router = APIRouter(prefix="/api/cities", tags=["cities"])
MAX_LIMIT = 1000


class CitySummary(BaseModel):
    id: str
    name: str
    bbox: list[float] | None = None
    center: list[float] | None = None
    counts: dict[str, int | None] = {}
    tileset: str | None = None
    terrain_tileset: str | None = None
    href: str


class CityList(BaseModel):
    cities: list[CitySummary]


@router.get("", response_model=CityList, dependencies=[requires(Role.ANONYMOUS)])
def list_cities(cities: Cities) -> CityList:
    """Every converted city in the data folder."""
    return CityList(cities=[_summary(cities.get(city_id)) for city_id in cities.ids()])


@router.get("/{city_id}", dependencies=[requires(Role.ANONYMOUS)])
def city_manifest(city_id: str, cities: Cities) -> dict[str, Any]:
    """The city's manifest (``city.json``) with the URLs of its tilesets."""
    city = cities.get(city_id)
    return {**city.manifest, "links": _links(city)}


@router.get("/{city_id}/rivers", dependencies=[requires(Role.STAFF)])
def city_rivers(city_id: str, cities: Cities) -> dict[str, Any]:
    """The names of the city's rivers (its water bodies, named by them or by its hazard layers), where a
    scenario's breach can be placed (``river`` of ``POST /api/scenarios``)."""
    return {"city": city_id, "rivers": rivers(cities.get(city_id).folder)}


@router.get("/{city_id}/buildings", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"application/geo+json": {}}}})
def list_buildings(
    city_id: str,
    request: Request,
    cities: Cities,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)",
                                      examples=["139.66,35.27,139.68,35.29"])] = None,
    usage: Annotated[str | None, Query(description="comma-separated usage codes or labels")] = None,
    min_height: Annotated[float | None, Query(ge=0, description="metres")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Buildings as a GeoJSON FeatureCollection (footprints), paged, with the total count."""
    table = cities.get(city_id).buildings()
    usages = [u.strip() for u in usage.split(",") if u.strip()] if usage else None
    page = table.query(parse_bbox(bbox), usages, min_height, limit, offset)
    links = [{"rel": "self", "href": str(request.url), "type": "application/geo+json"}]
    if offset + limit < page.total:
        links.append({"rel": "next", "type": "application/geo+json",
                      "href": str(request.url.include_query_params(offset=offset + limit, limit=limit))})
    return {"type": "FeatureCollection",
            "numberMatched": page.total, "numberReturned": len(page.rows),
            "features": [feature(row, SUMMARY_COLUMNS) for _, row in page.rows.iterrows()],
            "links": links}


@router.get("/{city_id}/buildings/{gml_id}", dependencies=[requires(Role.ANONYMOUS)])
def building_detail(city_id: str, gml_id: str, cities: Cities) -> dict[str, Any]:
    """One building with every attribute (codes decoded), display labels of its fields and names of its
    coded values (usage, class, flood-risk kinds and scales) in Japanese and English."""
    row = cities.get(city_id).buildings().get(gml_id)
    if row is None:
        raise Problem(404, f"No building {gml_id!r} in city {city_id!r}.", "unknown-building")
    body = feature(row, [])
    body["properties"] = detail_properties(row)
    names = list(body["properties"]) + list(body["properties"].get("attributes") or {})
    names += [k for r in body["properties"].get("flood_risks") or [] for k in r]
    body["labels"] = labels_for(list(dict.fromkeys(names)))
    body["value_names"] = value_names()
    body["named_by"] = {field: {"names": names, "code_field": code} for field, (names, code) in NAMED_BY.items()}
    return body


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise Problem(422, f"bbox {text!r}: expected four numbers west,south,east,north", "validation") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise Problem(422, f"bbox {text!r}: need west ≤ east and south ≤ north within ±180/±90", "validation")
    return west, south, east, north


def _links(city: City) -> dict[str, str | None]:
    def tile(key: str) -> str | None:
        path = city.folder.file(key)
        return f"/tiles/{city.id}/{path.relative_to(city.folder.path).as_posix()}" if path else None

    return {"self": f"/api/cities/{city.id}", "buildings": f"/api/cities/{city.id}/buildings",
            "tileset": tile("tileset"), "terrain_tileset": tile("terrain_tileset")}


def _summary(city: City) -> CitySummary:
    manifest, links = city.manifest, _links(city)
    return CitySummary(id=city.id, name=manifest.get("name") or city.id, bbox=manifest.get("bbox"),
                       center=manifest.get("center"), counts=manifest.get("counts") or {},
                       tileset=links["tileset"], terrain_tileset=links["terrain_tileset"], href=links["self"])
