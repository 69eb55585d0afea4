"""FIWARE NGSI-v2 entities of Smart Data Models onto the SensorThings store, and back.

An NGSI entity is a Thing with ``properties.ngsiId`` and ``properties.ngsiType``; each
numeric attribute is a Datastream with ``properties.attribute``. So an entity sent over
NGSI reads back over SensorThings, and a Thing made over SensorThings with those
properties reads back over NGSI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from twin.sensors.alerts import thresholds_of
from twin.sensors.errors import SensorInputError
from twin.sensors.ingest import (
    COUNT,
    MEASUREMENT,
    NewObservation,
    Writer,
    store_observations,
)
from twin.sensors.sta_write import create_location
from twin.sensors.times import iso, parse_moment
from twin.store import models as m

_SDM = "https://smartdatamodels.org/dataModel"


@dataclass(frozen=True)
class Attribute:
    """A numeric attribute of a data model: its unit, physical range and observation type."""

    unit: str
    symbol: str
    low: float
    high: float
    observation_type: str = MEASUREMENT


@dataclass(frozen=True)
class DataModel:
    """A Smart Data Model: numeric attributes, the time attribute(s), and who may read it anonymously."""

    domain: str
    attributes: dict[str, Attribute]
    time: tuple[str, ...]
    public: bool = True

    @property
    def interval(self) -> bool:
        return len(self.time) == 2


_LEVEL = Attribute("metre", "m", -50.0, 100.0)
MODELS: dict[str, DataModel] = {
    "WaterObserved": DataModel("Environment", {"height": _LEVEL, "flow": Attribute("cubic metre per second",
                                                                                   "m3/s", 0.0, 1e6)},
                               ("dateObserved",)),
    "FloodMonitoring": DataModel("Environment", {"currentLevel": _LEVEL}, ("observationDateTime",)),
    "WeatherObserved": DataModel("Weather", {"precipitation": Attribute("millimetre per hour", "mm/h", 0.0, 500.0)},
                                 ("dateObserved",)),
    "CrowdFlowObserved": DataModel("Transportation", {
        "peopleCount": Attribute("people", "{people}", 0.0, 1e6, COUNT),
        "occupancy": Attribute("ratio", "1", 0.0, 1.0),
        "averageCrowdSpeed": Attribute("metre per second", "m/s", 0.0, 20.0),
    }, ("dateObservedFrom", "dateObservedTo"), public=False),
}
#: FloodMonitoring threshold attributes → alert thresholds (``alertLevel``/``dangerLevel`` are the model's).
THRESHOLD_ATTRIBUTES = {"standbyLevel": "standby", "alertLevel": "caution", "evacuationLevel": "evacuation",
                        "dangerLevel": "danger"}


def _value(attribute: Any) -> Any:
    """An attribute's value in normalized (``{"value": …}``) or keyValues form."""
    return attribute.get("value") if isinstance(attribute, dict) and "value" in attribute else attribute


def _model(type_: Any) -> DataModel:
    if type_ not in MODELS:
        raise SensorInputError(f"type {type_!r} is not served; use one of {', '.join(MODELS)}")
    return MODELS[type_]


#: Built once: building a JSON-path query and its cache key costs more than running it.
_THING = select(m.Thing).where(m.Thing.properties["ngsiId"].as_string() == bindparam("entity_id"))
_STREAM = select(m.Datastream).where(m.Datastream.thing_id == bindparam("thing_id"),
                                     m.Datastream.properties["attribute"].as_string() == bindparam("attribute"))


def find_thing(session: Session, entity_id: str) -> m.Thing | None:
    return session.scalar(_THING, {"entity_id": entity_id})


def upsert(session: Session, writer: Writer, entity: Any, *, create_only: bool = False,
           existing_only: str | None = None) -> list[int]:
    """Store an entity's attributes as observations; create its Thing and Datastreams on first sight."""
    batch = observations_of(session, writer, entity, create_only=create_only, existing_only=existing_only)
    return store_observations(session, writer, batch) if batch else []


def observations_of(session: Session, writer: Writer, entity: Any, *, create_only: bool = False,
                    existing_only: str | None = None, new_streams: bool = True) -> list[NewObservation]:
    """The observations an entity's attributes make, its Thing and Datastreams created on first sight.

    With ``new_streams=False`` an attribute without its Datastream yet is refused (409) instead:
    then, for an entity that changes no thresholds, every refusal comes before anything is written.
    """
    if not isinstance(entity, dict):
        raise SensorInputError("an entity must be a JSON object")
    entity_id = existing_only or entity.get("id")
    if not isinstance(entity_id, str) or not entity_id:
        raise SensorInputError("entity id: expected a non-empty string")
    thing = find_thing(session, entity_id)
    if thing is None and existing_only:
        raise SensorInputError(f"no entity {entity_id!r}", 404, "not-found")
    if thing is not None and create_only:
        raise SensorInputError(f"entity {entity_id!r} exists already", 422, "already-exists")
    type_ = entity.get("type") if thing is None else (thing.properties or {}).get("ngsiType")
    if thing is not None and entity.get("type") not in (None, type_):
        raise SensorInputError(f"entity {entity_id!r} is a {type_}, not a {entity.get('type')}")
    model = _model(type_)
    if thing is None:
        thing = _new_thing(session, writer, entity_id, type_, entity.get("location"))
    elif not writer.admin and thing.owner_key_id != writer.key_id:
        raise SensorInputError(f"entity {entity_id!r} belongs to another key", 403, "forbidden")
    start, end = _times(entity, model)
    thresholds = {THRESHOLD_ATTRIBUTES[k]: _value(v) for k, v in entity.items() if k in THRESHOLD_ATTRIBUTES}
    batch = []
    for name, spec in model.attributes.items():
        if name not in entity:
            continue
        stream = _datastream(session, writer, thing, type_, name, spec, model.public, new_streams)
        if thresholds:
            stream.properties = {**(stream.properties or {}),
                                 "thresholds": {**thresholds_of(stream.properties), **thresholds}}
        batch.append(NewObservation(stream.id, start, _value(entity[name]), phenomenon_end=end))
    session.flush()
    return batch


def _times(entity: dict, model: DataModel) -> tuple[datetime, datetime | None]:
    missing = [t for t in model.time if t not in entity]
    if missing:
        raise SensorInputError(f"entity {entity.get('id')!r}: {', '.join(missing)} required (with a time zone)")
    moments = [parse_moment(_value(entity[t]), t) for t in model.time]
    if model.interval and moments[1] < moments[0]:
        raise SensorInputError(f"{model.time[1]} is before {model.time[0]}")
    return moments[0], moments[1] if model.interval else None


def _new_thing(session: Session, writer: Writer, entity_id: str, type_: str, location: Any) -> m.Thing:
    thing = m.Thing(name=entity_id, description=f"NGSI-v2 {type_}", owner_key_id=writer.key_id,
                    properties={"ngsiId": entity_id, "ngsiType": type_})
    session.add(thing)
    session.flush()
    geometry = _value(location)
    if isinstance(geometry, dict):
        place = create_location(session, {"name": entity_id, "location": geometry})
        session.flush()
        session.execute(m.thing_locations.insert(), {"thing_id": thing.id, "location_id": place.id})
    return thing


def _datastream(session: Session, writer: Writer, thing: m.Thing, type_: str, name: str, spec: Attribute,
                public: bool, new: bool = True) -> m.Datastream:
    stream = session.scalar(_STREAM, {"thing_id": thing.id, "attribute": name})
    if stream is not None:
        return stream
    if not new:
        raise SensorInputError(f"entity {thing.name!r} has no {name!r} yet", 409, "new-attribute")
    definition = f"{_SDM}.{MODELS[type_].domain}/{type_}#{name}"
    observed = session.scalar(select(m.ObservedProperty).where(m.ObservedProperty.definition == definition))
    if observed is None:
        observed = m.ObservedProperty(name=name, definition=definition, description=f"{type_} {name}",
                                      properties={"range": [spec.low, spec.high]})
        session.add(observed)
    sensor = m.Sensor(name=f"{thing.name} {name}", description="an NGSI-v2 device", encoding_type="text/plain",
                      metadata_="")
    session.add(sensor)
    session.flush()
    stream = m.Datastream(name=f"{thing.name} {name}", description=f"{type_}.{name}",
                          unit_of_measurement={"name": spec.unit, "symbol": spec.symbol, "definition": ""},
                          observation_type=spec.observation_type, thing_id=thing.id, sensor_id=sensor.id,
                          observed_property_id=observed.id, owner_key_id=writer.key_id,
                          properties={"attribute": name, "public": public})
    session.add(stream)
    session.flush()
    return stream


def list_entities(session: Session, type_: str | None, ids: list[str] | None, limit: int, offset: int,
                  key_values: bool) -> tuple[list[dict[str, Any]], int]:
    """One page of entities (ordered by creation) and the total count."""
    ngsi_type = m.Thing.properties["ngsiType"].as_string()
    query = select(m.Thing).where(ngsi_type.is_not(None))
    if type_ is not None:
        query = query.where(ngsi_type == type_)
    if ids:
        query = query.where(m.Thing.properties["ngsiId"].as_string().in_(ids))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    things = session.scalars(query.order_by(m.Thing.id).offset(offset).limit(limit))
    return [entity_of(session, thing, key_values) for thing in things], total


def entity_of(session: Session, thing: m.Thing, key_values: bool) -> dict[str, Any]:
    """The NGSI-v2 form of a Thing: the latest value of each attribute and its time."""
    type_ = (thing.properties or {})["ngsiType"]
    model = MODELS.get(type_)
    attrs: dict[str, tuple[Any, str]] = {}
    latest: m.Observation | None = None
    for stream in session.scalars(select(m.Datastream).where(m.Datastream.thing_id == thing.id)):
        name = (stream.properties or {}).get("attribute") or stream.name
        last = session.scalar(select(m.Observation).where(m.Observation.datastream_id == stream.id)
                              .order_by(m.Observation.phenomenon_time.desc()).limit(1))
        if last is not None:
            value = last.result_number if last.result_number is not None else last.result_json
            if stream.observation_type == COUNT and isinstance(value, float):
                value = int(value)
            attrs[name] = (value, "Number" if isinstance(value, int | float) else "StructuredValue")
            latest = last if latest is None or last.phenomenon_time > latest.phenomenon_time else latest
        for attribute, level in THRESHOLD_ATTRIBUTES.items():
            limit = thresholds_of(stream.properties).get(level)
            if limit is not None and type_ == "FloodMonitoring":
                attrs[attribute] = (limit, "Number")
    if latest is not None and model is not None:
        times = (latest.phenomenon_time, latest.phenomenon_end)
        for name, moment in zip(model.time, times):
            attrs[name] = (iso(moment), "DateTime")
    place = session.scalar(select(m.Location).join(m.thing_locations, m.thing_locations.c.location_id == m.Location.id)
                           .where(m.thing_locations.c.thing_id == thing.id).limit(1))
    if place is not None:
        attrs["location"] = (place.location, "geo:json")
    body: dict[str, Any] = {"id": thing.properties["ngsiId"], "type": type_}
    for name, (value, kind) in attrs.items():
        body[name] = value if key_values else {"type": kind, "value": value, "metadata": {}}
    return body
