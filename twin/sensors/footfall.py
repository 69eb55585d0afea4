"""Footfall: people-counter observations summed per counter and per named area, by hour and day.

A people counter is a Datastream whose ObservedProperty is Smart Data Models'
``CrowdFlowObserved#peopleCount`` (what NGSI-v2 ``CrowdFlowObserved`` entities create; the
simulator uses the same definition over SensorThings). Each observation counts the
people of one interval and is credited to the hour its interval starts in.

The database sums observations into (counter, UTC hour) cells in SQL (SQLite and
PostgreSQL); everything else is built from those cells in local time (Japan Standard Time,
UTC+9, which keeps no daylight saving, so a local hour is a UTC hour shifted by 9).

Disclosure control for the public (statistical small-cell suppression, as in
Eurostat's/ONS's practice for published counts): an area-hour cell counting fewer than
``k`` people is withheld, an area with fewer than ``min_counters`` counters is withheld as a
whole (its series would be one device's), and withheld cells add to no published figure —
day totals, profiles, weeks and comparisons are sums of published cells only and say
``partial`` when some were left out, so nothing withheld can be recovered by subtraction.
Staff see every cell and each counter's own series.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from shapely.geometry import Point, shape
from sqlalchemy import BigInteger, Integer, cast, func, select
from sqlalchemy.orm import Session

from twin.sensors.footfall_areas import Area
from twin.store import models as m

PEOPLE_COUNT = "https://smartdatamodels.org/dataModel.Transportation/CrowdFlowObserved#peopleCount"
LOCAL = timezone(timedelta(hours=9), "JST")
_OFFSET_HOURS = 9
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class Counter:
    """A people counter: its Datastream, name and place (lon, lat)."""

    datastream_id: int
    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Rules:
    """What a reader may see: everything (staff), or k-anonymised aggregates (public)."""

    public: bool
    k: int = 10
    min_counters: int = 2

    def hides(self, people: float) -> bool:
        return self.public and people < self.k


@dataclass(frozen=True)
class Period:
    """``days`` local days from ``start``."""

    start: date
    days: int

    @property
    def utc_range(self) -> tuple[datetime, datetime]:
        begin = datetime.combine(self.start, datetime.min.time(), LOCAL).astimezone(UTC)
        return begin, begin + timedelta(days=self.days)

    @property
    def hours(self) -> range:
        """Local hour numbers (hours since 1970-01-01 00:00 local) of the period."""
        first = (self.start - _EPOCH_DAY).days * 24
        return range(first, first + 24 * self.days)


def counters(session: Session, bbox: tuple[float, float, float, float] | None = None) -> list[Counter]:
    """Every people counter that has a location (inside ``bbox`` = lon0, lat0, lon1, lat1 if given)."""
    query = (select(m.Datastream.id, m.Thing.name, m.Location.location)
             .join(m.ObservedProperty, m.ObservedProperty.id == m.Datastream.observed_property_id)
             .join(m.Thing, m.Thing.id == m.Datastream.thing_id)
             .join(m.thing_locations, m.thing_locations.c.thing_id == m.Thing.id)
             .join(m.Location, m.Location.id == m.thing_locations.c.location_id)
             .where(m.ObservedProperty.definition == PEOPLE_COUNT)
             .order_by(m.Datastream.id, m.Location.id))
    found: dict[int, Counter] = {}
    for stream_id, name, geometry in session.execute(query):
        if stream_id in found:
            continue
        try:
            point = shape(geometry).representative_point()
        except (ValueError, TypeError, AttributeError, KeyError):
            continue  # a location that is not GeoJSON places nothing
        if bbox is None or (bbox[0] <= point.x <= bbox[2] and bbox[1] <= point.y <= bbox[3]):
            found[stream_id] = Counter(stream_id, name, point.x, point.y)
    return list(found.values())


def members(areas: list[Area], found: list[Counter]) -> dict[str, list[Counter]]:
    """The counters inside each area (a counter on a shared edge belongs to both)."""
    return {a.id: [c for c in found if a.geometry.covers(Point(c.lon, c.lat))] for a in areas}


def _hour_number(dialect: str):
    """SQL for the UTC hour number (hours since the epoch) of an observation's phenomenon time."""
    column = m.Observation.phenomenon_time
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer) // 3600
    return cast(func.floor(func.extract("epoch", column) / 3600), BigInteger)


def hourly_cells(session: Session, stream_ids: list[int], period: Period) -> dict[tuple[int, int], float]:
    """(counter, local hour number) → people counted, summed in the database."""
    if not stream_ids:
        return {}
    begin, end = period.utc_range
    hour = _hour_number(session.get_bind().dialect.name).label("hour")
    query = (select(m.Observation.datastream_id, hour, func.sum(m.Observation.result_number))
             .where(m.Observation.datastream_id.in_(stream_ids), m.Observation.phenomenon_time >= begin,
                    m.Observation.phenomenon_time < end, m.Observation.result_number.is_not(None))
             .group_by(m.Observation.datastream_id, hour))
    return {(stream, int(number) + _OFFSET_HOURS): float(people) for stream, number, people in session.execute(query)}


def area_cells(cells: dict[tuple[int, int], float], stream_ids: list[int]) -> dict[int, float]:
    """Local hour number → people over the counters ``stream_ids``."""
    wanted = set(stream_ids)
    summed: dict[int, float] = defaultdict(float)
    for (stream, hour), people in cells.items():
        if stream in wanted:
            summed[hour] += people
    return dict(summed)


def local_time(hour: int) -> datetime:
    return datetime.combine(_EPOCH_DAY, datetime.min.time(), LOCAL) + timedelta(hours=hour)


def _share(value: float | None, whole: float | None) -> float | None:
    return None if value is None or not whole else round((value - whole) / whole, 4)


def summary(cells: dict[int, float], period: Period, rules: Rules, counters_in_area: int) -> dict[str, Any]:
    """Hourly cells, daily totals, mean hourly profile, busiest hours and week-over-week change.

    Hours without observations are missing (``count`` None, not suppressed) and left out of
    the means; a day total is ``partial`` when some of its hours were withheld.
    """
    withheld_area = rules.public and counters_in_area < rules.min_counters
    published: dict[int, float] = {}
    hourly = []
    for hour in period.hours:
        people = cells.get(hour)  # None: no observation in that hour (not the same as nobody)
        hidden = people is not None and (withheld_area or rules.hides(people))
        if people is not None and not hidden:
            published[hour] = people
        hourly.append({"time": local_time(hour).isoformat(), "count": None if hidden else people,
                       "suppressed": hidden})
    daily = []
    for day in range(period.days):
        hours = range(period.hours.start + 24 * day, period.hours.start + 24 * (day + 1))
        shown = [published[h] for h in hours if h in published]
        daily.append({"date": (period.start + timedelta(days=day)).isoformat(),
                      "count": sum(shown) if shown else None,
                      "partial": bool(shown) and any(h in cells and h not in published for h in hours)})
    profile = []
    for hour_of_day in range(24):
        values = [published[h] for h in period.hours[hour_of_day::24] if h in published]
        profile.append({"hour": hour_of_day, "mean": round(sum(values) / len(values), 2) if values else None,
                        "days": len(values)})
    busiest = sorted((p for p in profile if p["mean"] is not None), key=lambda p: -p["mean"])[:3]
    return {"period": {"start": period.start.isoformat(), "days": period.days}, "k": rules.k if rules.public else None,
            "suppressed": withheld_area, "hourly": hourly, "daily": daily, "profile": profile,
            "busiest": [{"hour": p["hour"], "mean": p["mean"]} for p in busiest],
            "weekOverWeek": _week_over_week(daily)}


def _week_over_week(daily: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The period's last 7 days against the 7 before them (None when the period is shorter than 14 days)."""
    if len(daily) < 14:
        return None
    this, last = daily[-7:], daily[-14:-7]

    def total(days: list[dict[str, Any]]) -> float | None:
        shown = [d["count"] for d in days if d["count"] is not None]
        return sum(shown) if shown else None

    now, before = total(this), total(last)
    return {"thisWeek": {"from": this[0]["date"], "to": this[-1]["date"], "count": now},
            "lastWeek": {"from": last[0]["date"], "to": last[-1]["date"], "count": before},
            "change": _share(now, before),
            "partial": any(d["partial"] or d["count"] is None for d in this + last)}


def comparison(cells: dict[int, float], first: Period, second: Period, rules: Rules,
               counters_in_area: int) -> dict[str, Any]:
    """Two periods side by side: people per hour of day (summed over each period's days) and totals."""
    sides = []
    for period in (first, second):
        result = summary(cells, period, rules, counters_in_area)
        by_hour = []
        for hour_of_day in range(24):
            values = [c["count"] for c in result["hourly"][hour_of_day::24] if c["count"] is not None]
            by_hour.append(sum(values) if values else None)
        shown = [c for c in by_hour if c is not None]
        sides.append({"start": period.start.isoformat(), "days": period.days, "byHour": by_hour,
                      "total": sum(shown) if shown else None,
                      "partial": any(c["suppressed"] for c in result["hourly"])})
    a, b = sides
    peak = [max(range(24), key=lambda h: s["byHour"][h] or 0) if s["total"] else None for s in sides]
    return {"a": {**a, "peakHour": peak[0]}, "b": {**b, "peakHour": peak[1]},
            "change": _share(a["total"], b["total"]), "difference": None if a["total"] is None or b["total"] is None
            else a["total"] - b["total"], "k": rules.k if rules.public else None,
            "suppressed": rules.public and counters_in_area < rules.min_counters}


def counter_totals(cells: dict[tuple[int, int], float], found: list[Counter], rules: Rules) -> list[dict[str, Any]]:
    """Each counter's place, and for staff its total over the period.

    The public gets places only: per-device totals over periods of its choosing would add up
    to a per-device series.
    """
    totals: dict[int, float] = defaultdict(float)
    for (stream, _), people in cells.items():
        totals[stream] += people
    rows = []
    for counter in found:
        row: dict[str, Any] = {"name": counter.name, "lon": counter.lon, "lat": counter.lat}
        if not rules.public:
            row |= {"datastream": counter.datastream_id, "count": totals.get(counter.datastream_id, 0.0)}
        rows.append(row)
    return rows
