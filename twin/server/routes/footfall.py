"""``/api/footfall/{city}``: people counters per area by hour and day, k-anonymised for the public."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from twin.sensors import footfall
from twin.sensors.errors import SensorInputError
from twin.sensors.footfall_areas import Area, load_areas, parse_areas, save_areas
from twin.server.app_state import AppSettings, Cities, Database
from twin.server.auth import Role, is_staff, requires
from twin.server.cities import City
from twin.server.problems import Problem
from twin.server.routes.sta import MAX_ENTITY_BYTES, read_json
from twin.server.settings import Settings
from twin.store.database import Store

router = APIRouter(prefix="/api/footfall", tags=["footfall"])
#: Counters this far (degrees, about 200 m) outside a city's bounding box still belong to it.
_MARGIN = 0.002
MAX_DAYS = 366

Start = Annotated[date | None, Query(description="First local (JST) day; default: `days` days ending today.")]
Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="Number of days.")]
AreaId = Annotated[str | None, Query(description="An area id; all the city's counters when omitted.")]


def _rules(request: Request, settings: Settings) -> footfall.Rules:
    """Staff (a staff or admin key or session) see detail; everyone else k-anonymised aggregates."""
    return footfall.Rules(not is_staff(request), settings.footfall_k, settings.footfall_min_counters)


def _period(start: date | None, days: int) -> footfall.Period:
    if start is None:
        start = datetime.now(footfall.LOCAL).date() - timedelta(days=days - 1)
    return footfall.Period(start, days)


def city_areas(city: City, data_dir: Path) -> tuple[tuple[float, float, float, float], list[Area]]:
    """The city's bounding box widened by ``_MARGIN`` and its areas."""
    lon0, lat0, lon1, lat1 = city.manifest["bbox"]
    try:
        areas = load_areas(data_dir, city.id)
    except (SensorInputError, ValueError) as exc:
        raise Problem(500, f"The areas file of {city.id!r} is unreadable: {exc}", "bad-areas") from None
    return (lon0 - _MARGIN, lat0 - _MARGIN, lon1 + _MARGIN, lat1 + _MARGIN), areas


def _selection(city: City, data_dir: Path, area_id: str | None, session) -> tuple[list[footfall.Counter], str]:
    """The counters of ``area_id`` (or of the whole city) and the selection's label."""
    bbox, areas = city_areas(city, data_dir)
    found = footfall.counters(session, bbox)
    if area_id is None:
        return found, city.id
    area = next((a for a in areas if a.id == area_id), None)
    if area is None:
        raise Problem(404, f"City {city.id!r} has no area {area_id!r}.", "unknown-area")
    return footfall.members([area], found)[area_id], area_id


def _read(store: Store, work) -> Any:
    def run():
        with store.session() as session:
            return work(session)
    return run_in_threadpool(run)


@router.get("/{city_id}/areas", dependencies=[requires(Role.ANONYMOUS)])
async def get_areas(city_id: str, settings: AppSettings, cities: Cities, store: Database) -> dict[str, Any]:
    """The city's named areas (GeoJSON) with how many counters each holds."""

    def work(session):
        bbox, areas = city_areas(cities.get(city_id), settings.data_dir)
        inside = footfall.members(areas, footfall.counters(session, bbox))
        return {"type": "FeatureCollection", "features": [a.feature(counters=len(inside[a.id])) for a in areas]}

    return await _read(store, work)


@router.put("/{city_id}/areas", dependencies=[requires(Role.ADMIN)])
async def put_areas(city_id: str, request: Request, settings: AppSettings, cities: Cities) -> dict[str, Any]:
    """Replace the city's areas with a FeatureCollection of polygons (``properties.id``, ``name``, ``name_en``)."""
    cities.get(city_id)
    try:
        areas = parse_areas(await read_json(request, MAX_ENTITY_BYTES))
    except SensorInputError as exc:
        raise Problem(exc.status, str(exc), exc.slug) from None
    save_areas(settings.data_dir, city_id, areas)
    return {"type": "FeatureCollection", "features": [a.feature() for a in areas]}


@router.get("/{city_id}/counters", dependencies=[requires(Role.ANONYMOUS)])
async def get_counters(city_id: str, request: Request, settings: AppSettings, cities: Cities, store: Database,
                       start: Start = None, days: Days = 7) -> dict[str, Any]:
    """The city's people counters and their areas; staff also get each counter's total over the period."""
    rules, period = _rules(request, settings), _period(start, days)

    def work(session):
        bbox, areas = city_areas(cities.get(city_id), settings.data_dir)
        found = footfall.counters(session, bbox)
        inside = footfall.members(areas, found)
        cells = {} if rules.public else footfall.hourly_cells(session, [c.datastream_id for c in found], period)
        rows = footfall.counter_totals(cells, found, rules)
        for row, counter in zip(rows, found, strict=True):
            row["areas"] = [a.id for a in areas if counter in inside[a.id]]
        return {"period": {"start": period.start.isoformat(), "days": period.days}, "detail": not rules.public,
                "counters": rows}

    return await _read(store, work)


@router.get("/{city_id}/summary", dependencies=[requires(Role.ANONYMOUS)])
async def get_summary(city_id: str, request: Request, settings: AppSettings, cities: Cities, store: Database,
                      area: AreaId = None, start: Start = None, days: Days = 28) -> dict[str, Any]:
    """Hourly counts, daily totals, hourly profile, busiest hours and week-over-week change of an area."""
    rules, period = _rules(request, settings), _period(start, days)

    def work(session):
        chosen, label = _selection(cities.get(city_id), settings.data_dir, area, session)
        ids = [c.datastream_id for c in chosen]
        cells = footfall.area_cells(footfall.hourly_cells(session, ids, period), ids)
        return {"city": city_id, "area": area, "label": label, "counters": len(chosen), "timezone": "+09:00",
                **footfall.summary(cells, period, rules, len(chosen))}

    return await _read(store, work)


@router.get("/{city_id}/compare", dependencies=[requires(Role.ANONYMOUS)])
async def get_comparison(city_id: str, request: Request, settings: AppSettings, cities: Cities, store: Database,
                         a: Annotated[date, Query(description="First day of period A (JST).")],
                         b: Annotated[date, Query(description="First day of period B (JST).")],
                         area: AreaId = None, days: Annotated[int, Query(ge=1, le=31)] = 1) -> dict[str, Any]:
    """Period A against period B (e.g. an event day against the same weekday a week before)."""
    rules = _rules(request, settings)
    first, second = footfall.Period(a, days), footfall.Period(b, days)

    def work(session):
        chosen, _ = _selection(cities.get(city_id), settings.data_dir, area, session)
        ids = [c.datastream_id for c in chosen]
        cells = footfall.area_cells({**footfall.hourly_cells(session, ids, first),
                                     **footfall.hourly_cells(session, ids, second)}, ids)
        return {"city": city_id, "area": area, "counters": len(chosen), "timezone": "+09:00",
                **footfall.comparison(cells, first, second, rules, len(chosen))}

    return await _read(store, work)


@router.get("/{city_id}/counters/{datastream_id}/hourly", dependencies=[requires(Role.STAFF)])
async def get_counter_series(city_id: str, datastream_id: int, settings: AppSettings, cities: Cities, store: Database,
                             start: Start = None, days: Days = 7) -> dict[str, Any]:
    """One counter's own hourly series (staff only: the public never sees a device's series)."""
    period = _period(start, days)

    def work(session):
        bbox, _ = city_areas(cities.get(city_id), settings.data_dir)
        counter = next((c for c in footfall.counters(session, bbox) if c.datastream_id == datastream_id), None)
        if counter is None:
            raise Problem(404, f"No people counter {datastream_id} in city {city_id!r}.", "unknown-counter")
        cells = footfall.hourly_cells(session, [datastream_id], period)
        return {"datastream": datastream_id, "name": counter.name, "timezone": "+09:00",
                "hourly": [{"time": footfall.local_time(h).isoformat(), "count": cells.get((datastream_id, h), 0.0)}
                           for h in period.hours]}

    return await _read(store, work)


@router.get("/{city_id}/hourly.csv", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
async def get_csv(city_id: str, request: Request, settings: AppSettings, cities: Cities, store: Database,
                  area: AreaId = None, start: Start = None, days: Days = 28,
                  per: Annotated[str, Query(pattern="^(area|counter)$")] = "area") -> Response:
    """The hourly counts as CSV: per area (empty where withheld), or per counter for staff."""
    rules, period = _rules(request, settings), _period(start, days)
    if per == "counter" and rules.public:
        raise Problem(403, "Per-counter series are for staff keys only.", "forbidden")

    def work(session):
        bbox, areas = city_areas(cities.get(city_id), settings.data_dir)
        found = footfall.counters(session, bbox)
        cells = footfall.hourly_cells(session, [c.datastream_id for c in found], period)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if per == "counter":
            writer.writerow(["counter", "datastream", "time", "people"])
            for counter in found:
                for hour in period.hours:
                    writer.writerow([counter.name, counter.datastream_id, footfall.local_time(hour).isoformat(),
                                     _number(cells.get((counter.datastream_id, hour), 0.0))])
            return out.getvalue()
        groups = footfall.members(areas, found)
        if area is None:
            chosen = [(None, found), *groups.items()]
        elif area in groups:
            chosen = [(area, groups[area])]
        else:
            raise Problem(404, f"City {city_id!r} has no area {area!r}.", "unknown-area")
        writer.writerow(["area", "time", "people", "suppressed"])
        for area_id, members in chosen:
            ids = [c.datastream_id for c in members]
            result = footfall.summary(footfall.area_cells(cells, ids), period, rules, len(members))
            for cell in result["hourly"]:
                writer.writerow([area_id or city_id, cell["time"], _number(cell["count"]), int(cell["suppressed"])])
        return out.getvalue()

    text = await _read(store, work)
    name = f"footfall-{city_id}-{area or 'all'}-{period.start.isoformat()}.csv"
    # Headers are latin-1: an ASCII fallback name, and the real one (an area may be named in Japanese) per RFC 6266/5987.
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"})


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
