"""Sensor stations as features (staff only), and the datastreams the catalogue lists.

People counters are left out: their values leave the twin only as the public footfall
aggregates (``twin.opendata.footfall_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from twin.lonlat import LONLAT
from twin.sensors.footfall import PEOPLE_COUNT
from twin.store import models as m

COLUMNS = ("id", "name", "description", "datastreams")
#: JSON Schema types of the columns a filter may name (``datastreams`` is a list).
TYPES = {"id": "string", "name": "string", "description": "string"}


def stations(session: Session, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    """Things inside ``bbox`` (lon0, lat0, lon1, lat1) with at least one datastream that is not a people counter."""
    query = (select(m.Thing.id, m.Thing.name, m.Thing.description, m.Location.location, m.Datastream.id,
                    m.Datastream.name, m.ObservedProperty.name, m.Datastream.unit_of_measurement)
             .join(m.thing_locations, m.thing_locations.c.thing_id == m.Thing.id)
             .join(m.Location, m.Location.id == m.thing_locations.c.location_id)
             .join(m.Datastream, m.Datastream.thing_id == m.Thing.id)
             .join(m.ObservedProperty, m.ObservedProperty.id == m.Datastream.observed_property_id)
             .where(m.ObservedProperty.definition != PEOPLE_COUNT)
             .order_by(m.Thing.id, m.Datastream.id))
    things: dict[int, dict] = {}
    for thing_id, name, description, location, stream_id, stream, observed, unit in session.execute(query):
        try:
            point = shape(location).representative_point()
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
        if not (bbox[0] <= point.x <= bbox[2] and bbox[1] <= point.y <= bbox[3]):
            continue
        thing = things.setdefault(thing_id, {"id": str(thing_id), "name": name, "description": description,
                                             "datastreams": {}, "geometry": point})
        thing["datastreams"].setdefault(stream_id, {"id": stream_id, "name": stream, "observed_property": observed,
                                                    "unit": (unit or {}).get("symbol")})
    for thing in things.values():
        for stream in thing["datastreams"].values():
            latest = session.execute(select(m.Observation.phenomenon_time, m.Observation.result_number)
                                     .where(m.Observation.datastream_id == stream["id"])
                                     .order_by(m.Observation.phenomenon_time.desc()).limit(1)).first()
            stream["latest"] = None if latest is None else {"time": latest[0].isoformat(), "value": latest[1]}
        thing["datastreams"] = list(thing["datastreams"].values())
    frame = pd.DataFrame([{k: t[k] for k in COLUMNS} for t in things.values()], columns=list(COLUMNS))
    return gpd.GeoDataFrame(frame, geometry=[t["geometry"] for t in things.values()], crs=LONLAT)


@dataclass(frozen=True)
class StreamInfo:
    """What the catalogue says of a datastream: names, unit, and when it last had a value."""

    id: int
    name: str
    description: str
    observed_property: str
    unit: str | None
    latest: datetime | None


def datastreams(session: Session) -> list[StreamInfo]:
    """Every datastream but the people counters', with the time of its latest observation."""
    latest = func.max(m.Observation.phenomenon_time)
    query = (select(m.Datastream.id, m.Datastream.name, m.Datastream.description, m.ObservedProperty.name,
                    m.Datastream.unit_of_measurement, latest)
             .join(m.ObservedProperty, m.ObservedProperty.id == m.Datastream.observed_property_id)
             .outerjoin(m.Observation, m.Observation.datastream_id == m.Datastream.id)
             .where(m.ObservedProperty.definition != PEOPLE_COUNT)
             .group_by(m.Datastream.id, m.Datastream.name, m.Datastream.description, m.ObservedProperty.name,
                       m.Datastream.unit_of_measurement)
             .order_by(m.Datastream.id))
    found = []
    for ident, name, description, observed, unit, when in session.execute(query):
        if isinstance(when, str):  # SQLite answers an aggregate of the moment column as text
            when = datetime.fromisoformat(when)
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        found.append(StreamInfo(ident, name, description or "", observed, (unit or {}).get("symbol"), when))
    return found
