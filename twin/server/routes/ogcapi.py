"""``/ogcapi/{city}``: the City as OGC API – Features (Part 1 Core, Part 2 CRS, Part 3 CQL2 filters).

One API per City, so that QGIS, ArcGIS or GDAL (``OAPIF:https://host/ogcapi/<city>``) add it as
one connection. Collections are the City's layers (``twin.opendata.layers``), one per finished
scenario, the public footfall aggregates and, for staff, the sensor stations. Access follows
the roles of the rest of the API: what the public map shows is open to all; sensor stations
need a staff key or session (and are not even listed otherwise).

Query errors answer 400 as OGC 17-069r4 requires (``/req/core/query-param-invalid``,
``/req/core/query-param-unknown``), in problem+json like every other error.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import geopandas as gpd
from fastapi import APIRouter, Query, Request, Response

from twin.errors import TwinInputError
from twin.opendata import crs as ogc_crs
from twin.opendata import licence
from twin.opendata.collections import Collection
from twin.opendata.cql import GEOMETRY, Queryable, parse_filter
from twin.opendata.features import dumps, features
from twin.opendata.footfall_days import TYPES as FOOTFALL_TYPES
from twin.opendata.footfall_days import daily_aggregates
from twin.opendata.layers import FOOTFALL, SENSORS
from twin.opendata.sensor_stations import TYPES as SENSOR_TYPES
from twin.opendata.sensor_stations import stations
from twin.opendata.tables import FrameTable, Table, Where
from twin.sensors import footfall
from twin.sensors.footfall_areas import areas_path
from twin.server.app_state import AppSettings, Cities, Database, Jobs, Published
from twin.server.auth import Role, RoleCheck, is_staff, requires
from twin.server.cities import City
from twin.server.labels import LABELS
from twin.server.problems import Problem
from twin.server.routes.footfall import city_areas
from twin.server.settings import Settings
from twin.store.database import Store

router = APIRouter(prefix="/ogcapi", tags=["ogcapi"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
#: Days of footfall answered when ``datetime`` is not given, and the most one request may ask for.
FOOTFALL_DAYS = 28
MAX_FOOTFALL_DAYS = 366
GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"  # FastAPI writes OpenAPI 3.1
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
]
_STAFF = RoleCheck((Role.STAFF, Role.ADMIN))
_ITEM_PARAMS = frozenset({"limit", "offset", "bbox", "bbox-crs", "crs", "filter", "filter-lang", "filter-crs",
                          "datetime", "f"})
_ONE_PARAMS = frozenset({"crs", "f"})

Format = Annotated[str | None, Query(pattern="^(json|geojson)$", description="Answer format (JSON only)")]


def _json(body: Any, media_type: str = JSON, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), media_type=media_type, headers={"Link": f'<{licence.LICENCE_URL}>; rel="license"',
                                                                  **(headers or {})})


def _bad(exc: TwinInputError) -> Problem:
    return Problem(400, str(exc), "bad-query")


def _only(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise Problem(400, f"Unknown query parameter(s) {', '.join(unknown)}; this operation takes "
                           f"{', '.join(sorted(allowed)) or 'none'}.", "bad-query")


@router.get("", dependencies=[requires(Role.ANONYMOUS)])
def apis(request: Request, cities: Cities) -> Response:
    """The OGC API – Features landing page of every City."""
    base = str(request.base_url).rstrip("/")
    return _json({"apis": [{"city": city_id, "title": cities.get(city_id).manifest.get("name") or city_id,
                            "href": f"{base}/ogcapi/{city_id}"} for city_id in cities.ids()],
                  **licence.attribution(*(cities.get(c).manifest for c in cities.ids())).notice()})


@router.get("/{city_id}", dependencies=[requires(Role.ANONYMOUS)])
def landing(city_id: str, request: Request, cities: Cities, f: Format = None) -> Response:
    """Landing page of the City's OGC API – Features."""
    _only(request, frozenset({"f"}))
    city = cities.get(city_id)
    base = _base(request, city_id)
    root = str(request.base_url).rstrip("/")
    name = city.manifest.get("name") or city_id
    credit = licence.attribution(city.manifest)
    return _json({
        "title": f"machi-twin: {name}",
        "description": f"PLATEAU city model {name!r} and what the twin computed on it, as OGC API – Features. "
                       f"{credit.text}",
        **credit.notice(),
        "links": [
            {"rel": "self", "type": JSON, "title": "This document", "href": base},
            {"rel": "service-desc", "type": OPENAPI, "title": "The API definition", "href": f"{root}/openapi.json"},
            {"rel": "conformance", "type": JSON, "title": "Conformance classes", "href": f"{base}/conformance"},
            {"rel": "data", "type": JSON, "title": "Collections", "href": f"{base}/collections"},
            {"rel": "license", "type": "text/html", "title": licence.LICENCE_TITLE, "href": licence.LICENCE_URL},
            {"rel": "describedby", "type": "application/ld+json", "title": "DCAT-AP catalogue",
             "href": f"{root}/catalog.jsonld"},
        ],
    })


@router.get("/{city_id}/conformance", dependencies=[requires(Role.ANONYMOUS)])
def conformance(city_id: str, request: Request, cities: Cities, f: Format = None) -> Response:
    """The conformance classes the API implements."""
    _only(request, frozenset({"f"}))
    cities.get(city_id)
    return _json({"conformsTo": CONFORMANCE})


@router.get("/{city_id}/collections", dependencies=[requires(Role.ANONYMOUS)])
def list_collections(city_id: str, request: Request, cities: Cities, jobs: Jobs, published: Published,
                     settings: AppSettings, f: Format = None) -> Response:
    """Every collection the caller may read (``sensors`` is listed to staff only)."""
    _only(request, frozenset({"f"}))
    city = cities.get(city_id)
    base = _base(request, city_id)
    found = _collections(request, city, jobs, published, settings, is_staff(request))
    return _json({"links": [{"rel": "self", "type": JSON, "href": f"{base}/collections"}],
                  "collections": [_describe(c, base, city) for c in found],
                  **licence.attribution(city.manifest).notice()})


@router.get("/{city_id}/collections/{collection_id}", dependencies=[requires(Role.ANONYMOUS)])
def get_collection(city_id: str, collection_id: str, request: Request, cities: Cities, jobs: Jobs,
                   published: Published, settings: AppSettings, f: Format = None) -> Response:
    """One collection: title, extent, CRSs, links to its items and queryables."""
    _only(request, frozenset({"f"}))
    city = cities.get(city_id)
    collection = _collection(request, city, collection_id, jobs, published, settings)
    return _json(_describe(collection, _base(request, city_id), city))


@router.get("/{city_id}/collections/{collection_id}/queryables", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"application/schema+json": {}}}})
def get_queryables(city_id: str, collection_id: str, request: Request, cities: Cities, jobs: Jobs,
                   published: Published, settings: AppSettings, f: Format = None) -> Response:
    """The properties a CQL2 filter may name, as a JSON Schema (OGC API – Features Part 3)."""
    _only(request, frozenset({"f"}))
    collection = _collection(request, cities.get(city_id), collection_id, jobs, published, settings)
    base = _base(request, city_id)
    properties: dict[str, Any] = {GEOMETRY: {"format": "geometry-any", "title": "Geometry",
                                             "x-ogc-role": "primary-geometry"}}
    for name, item in _queryables(collection).items():
        if name != GEOMETRY:
            properties[name] = {"type": item.type, "title": LABELS.get(name, (name, name))[1]}
    return _json({"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$id": f"{base}/collections/{collection.id}/queryables", "type": "object",
                  "title": collection.title_en, "properties": properties, "additionalProperties": False},
                 media_type="application/schema+json")


@router.get("/{city_id}/collections/{collection_id}/items", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {GEOJSON: {"schema": {"type": "object", "required": ["type", "features"]}}}}})
def get_items(
    city_id: str,
    collection_id: str,
    request: Request,
    cities: Cities,
    jobs: Jobs,
    published: Published,
    settings: AppSettings,
    store: Database,
    limit: Annotated[int, Query(ge=1, description=f"Features per page (at most {MAX_LIMIT}; more is cut to it)")]
    = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=2**53, description="Matching features to skip")] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy (or 6 numbers) in bbox-crs, default CRS84",
                                      examples=["139.47,35.925,139.473,35.928"])] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox (CRS84, EPSG:6668, EPSG:6697)")]
    = None,
    crs: Annotated[str | None, Query(description="CRS of the answer's geometry (CRS84, EPSG:6668, EPSG:6697)")] = None,
    filter: Annotated[str | None, Query(description="CQL2 text, e.g. height > 20 AND S_INTERSECTS(geometry, "
                                                    "POLYGON((...)))")] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", pattern="^cql2-text$")] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", description="CRS of geometries in the filter")] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", description="Dates or an interval (footfall: the days)")]
    = None,
    f: Format = None,
) -> Response:
    """A page of the collection's features (GeoJSON), with ``numberMatched`` and a ``next`` link.

    Open to all but the ``sensors`` collection, which needs a staff key or session (401/403)."""
    _only(request, _ITEM_PARAMS)
    city = cities.get(city_id)
    collection = _collection(request, city, collection_id, jobs, published, settings)
    limit = min(limit, MAX_LIMIT)
    try:
        answer_crs = ogc_crs.parse_crs(crs, "crs")
        area = ogc_crs.bbox_to_lonlat(_numbers(bbox), ogc_crs.parse_crs(bbox_crs, "bbox-crs")) if bbox else None
        where = _where(collection, area, filter, filter_crs)
        table = _table(store, city, collection, settings, datetime_)
    except TwinInputError as exc:
        raise _bad(exc) from None
    page = published.selector.page(table, where, offset, limit, collection.layer.stored_columns(
        collection.layer.columns(table)), cache=collection.cacheable)
    base = _base(request, city_id)
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)},
             {"rel": "collection", "type": JSON, "href": f"{base}/collections/{collection.id}"},
             {"rel": "license", "type": "text/html", "href": licence.LICENCE_URL}]
    if offset + limit < page.matched:
        links.append({"rel": "next", "type": GEOJSON,
                      "href": str(request.url.include_query_params(offset=offset + limit, limit=limit))})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON,
                      "href": str(request.url.include_query_params(offset=max(0, offset - limit), limit=limit))})
    body = {"type": "FeatureCollection", "numberMatched": page.matched, "numberReturned": len(page.rows),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"), **licence.attribution(city.manifest).notice(),
            "features": features(page.rows, collection.layer, answer_crs), "links": links}
    return _json(body, GEOJSON, {"Content-Crs": f"<{answer_crs}>"})


@router.get("/{city_id}/collections/{collection_id}/items/{feature_id}", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {GEOJSON: {"schema": {"type": "object", "required": ["type"]}}}}})
def get_item(city_id: str, collection_id: str, feature_id: str, request: Request, cities: Cities, jobs: Jobs,
             published: Published, settings: AppSettings, store: Database,
             crs: Annotated[str | None, Query(description="CRS of the geometry (CRS84, EPSG:6668, EPSG:6697)")] = None,
             f: Format = None) -> Response:
    """One feature by its id."""
    _only(request, _ONE_PARAMS)
    city = cities.get(city_id)
    collection = _collection(request, city, collection_id, jobs, published, settings)
    try:
        answer_crs = ogc_crs.parse_crs(crs, "crs")
        table = _table(store, city, collection, settings, None)
    except TwinInputError as exc:
        raise _bad(exc) from None
    key = collection.layer.id_column
    where = Where(equals=(*collection.equals, (key, feature_id)), columns=(key,))
    page = published.selector.page(table, where, 0, 1, collection.layer.stored_columns(collection.layer.columns(table)),
                                   cache=False)
    if page.matched == 0:
        raise Problem(404, f"No feature {feature_id!r} in collection {collection_id!r}.", "not-found")
    base = _base(request, city_id)
    (feature,) = features(page.rows, collection.layer, answer_crs)
    feature["links"] = [{"rel": "self", "type": GEOJSON, "href": str(request.url)},
                        {"rel": "collection", "type": JSON, "href": f"{base}/collections/{collection.id}"},
                        {"rel": "license", "type": "text/html", "href": licence.LICENCE_URL}]
    feature.update(licence.attribution(city.manifest).notice())
    return _json(feature, GEOJSON, {"Content-Crs": f"<{answer_crs}>"})


# -- helpers ---------------------------------------------------------------------------------


def _base(request: Request, city_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/ogcapi/{city_id}"


def _collections(request: Request, city: City, jobs: Jobs, published: Published, settings: AppSettings,
                 staff: bool) -> list[Collection]:
    found = list(published.collections(city, jobs))
    bbox = tuple(city.manifest.get("bbox") or ()) or None
    now = datetime.now(UTC).replace(microsecond=0)
    if areas_path(settings.data_dir, city.id).is_file():
        found.append(Collection(FOOTFALL.key, FOOTFALL.title, FOOTFALL.title_en,
                                f"{FOOTFALL.description} Default: the last {FOOTFALL_DAYS} days.", FOOTFALL, None,
                                bbox, now, keywords=("footfall",), cacheable=False))
    if staff:
        found.append(Collection(SENSORS.key, SENSORS.title, SENSORS.title_en, SENSORS.description, SENSORS, None,
                                bbox, now, keywords=("sensors",), cacheable=False))
    return found


def _collection(request: Request, city: City, collection_id: str, jobs: Jobs, published: Published,
                settings: AppSettings) -> Collection:
    staff = collection_id == SENSORS.key and _staff_or_refuse(request)
    for collection in _collections(request, city, jobs, published, settings, staff):
        if collection.id == collection_id:
            return collection
    raise Problem(404, f"City {city.id!r} has no collection {collection_id!r}.", "unknown-collection")


def _staff_or_refuse(request: Request) -> bool:
    _STAFF(request)  # 401 without credentials, 403 for another role
    return True


def _table(store: Store, city: City, collection: Collection, settings: Settings, when: str | None) -> Table:
    if collection.table is not None:
        return collection.table
    bbox, areas = city_areas(city, settings.data_dir)
    with store.session() as session:
        if collection.layer is FOOTFALL:
            frame = daily_aggregates(session, bbox, areas, _days(when), settings.footfall_k,
                                     settings.footfall_min_counters)
            path = areas_path(settings.data_dir, city.id)
        else:
            frame = stations(session, bbox)
            path = city.folder.path
    return FrameTable(path, frame if len(frame) else gpd.GeoDataFrame(frame, geometry=[], crs=frame.crs))


def _days(when: str | None) -> footfall.Period:
    """The local days a ``datetime`` value covers (a date, a moment, or an interval with ``..`` ends)."""
    today = datetime.now(footfall.LOCAL).date()
    if when is None:
        return footfall.Period(today - timedelta(days=FOOTFALL_DAYS - 1), FOOTFALL_DAYS)
    parts = when.split("/")
    if len(parts) > 2:
        raise TwinInputError(f"datetime {when!r}: a date, a moment or an interval start/end")
    first = _day(parts[0], today - timedelta(days=MAX_FOOTFALL_DAYS - 1), when)
    last = _day(parts[-1], today, when)
    if last < first:
        raise TwinInputError(f"datetime {when!r}: the interval ends before it starts")
    days = (last - first).days + 1
    if days > MAX_FOOTFALL_DAYS:
        raise TwinInputError(f"datetime {when!r}: at most {MAX_FOOTFALL_DAYS} days at once")
    return footfall.Period(first, days)


def _day(text: str, open_end: date, whole: str) -> date:
    if text in ("", ".."):
        return open_end
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TwinInputError(f"datetime {whole!r}: {text!r} is not an RFC 3339 date or date-time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(footfall.LOCAL)
    return moment.date()


def _numbers(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TwinInputError(f"bbox {text!r}: expected comma-separated numbers") from None


def _queryables(collection: Collection) -> dict[str, Queryable]:
    """Scalar published columns (JSON text columns aside) and the geometry."""
    types = collection.layer.types(collection.table) if collection.table is not None else _sample_types(collection)
    found = {name: Queryable(name, kind) for name, kind in types.items()}
    found[GEOMETRY] = Queryable(GEOMETRY, "geometry")
    return found


def _sample_types(collection: Collection) -> dict[str, str]:
    """Types of the database-backed collections' columns (fixed by their builders)."""
    return dict(FOOTFALL_TYPES if collection.layer is FOOTFALL else SENSOR_TYPES)


def _where(collection: Collection, bbox: tuple[float, float, float, float] | None, text: str | None,
           filter_crs: str | None) -> Where:
    if text is None:
        return Where(bbox=bbox, equals=collection.equals, key=f"{collection.id}|{bbox}")
    source_crs = ogc_crs.parse_crs(filter_crs, "filter-crs")
    convert: Callable[[Any], Any] | None = None
    if ogc_crs.lat_first(source_crs):
        def convert(coordinates: Any) -> Any:
            return ogc_crs.coordinates_to_lonlat(coordinates, source_crs)
    parsed = parse_filter(text, _queryables(collection), convert)
    layer = collection.layer

    def test(frame: Any) -> Any:
        return parsed.test(layer.finish(frame))

    return Where(bbox=bbox, equals=collection.equals, test=test,
                 columns=tuple(layer.stored_columns(list(parsed.columns))), spatial=parsed.spatial,
                 within=parsed.envelope, key=f"{collection.id}|{bbox}|{source_crs}|{text}")


def _describe(collection: Collection, base: str, city: City) -> dict[str, Any]:
    href = f"{base}/collections/{collection.id}"
    credit = licence.attribution(city.manifest)
    body: dict[str, Any] = {
        "id": collection.id, "title": f"{collection.title} / {collection.title_en}",
        "description": f"{collection.description} {credit.text}", "keywords": list(collection.keywords),
        "itemType": "feature", "crs": list(ogc_crs.SUPPORTED), "storageCrs": ogc_crs.STORAGE,
        "links": [
            {"rel": "self", "type": JSON, "href": href},
            {"rel": "items", "type": GEOJSON, "title": "Features", "href": f"{href}/items"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
             "title": "Queryables", "href": f"{href}/queryables"},
            {"rel": "license", "type": "text/html", "title": licence.LICENCE_TITLE, "href": licence.LICENCE_URL},
        ],
        "updated": collection.updated.isoformat(),
        **credit.notice(),
    }
    if collection.bbox is not None:
        body["extent"] = {"spatial": {"bbox": [list(collection.bbox)], "crs": ogc_crs.CRS84}}
    return body
