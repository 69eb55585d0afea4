"""SensorThings POST: entity creation (deep insert of Things) and ``CreateObservations``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from twin.sensors.errors import SensorInputError
from twin.sensors.ingest import GENERIC, NewObservation, Writer, store_observations
from twin.sensors.times import parse_moment, parse_period
from twin.store import models as m


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SensorInputError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _text(body: dict, key: str, where: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str):
        raise SensorInputError(f"{where}.{key}: expected a string" + (" (required)" if value is None else ""))
    return value


def _json_object(body: dict, key: str, where: str, required: bool = False) -> dict | None:
    value = body.get(key)
    if value is None and not required:
        return None
    return _object(value, f"{where}.{key}")


def _list(body: dict, key: str, where: str) -> list:
    value = body.get(key, [])
    if not isinstance(value, list):
        raise SensorInputError(f"{where}.{key}: expected a JSON array")
    return value


def _reference(body: dict) -> int | None:
    """The ``@iot.id`` of a reference to an existing entity, if ``body`` is one."""
    id_ = body.get("@iot.id")
    if id_ is None:
        return None
    if isinstance(id_, bool) or not isinstance(id_, int):
        raise SensorInputError(f"@iot.id: expected an integer, got {id_!r}")
    return id_


def _existing(session: Session, model: type[m.Base], id_: int, what: str) -> Any:
    row = session.get(model, id_)
    if row is None:
        raise SensorInputError(f"no {what} {id_}", 422, f"unknown-{what.lower()}")
    return row


def _owned(writer: Writer, owner: str | None, what: str) -> None:
    if not writer.admin and owner != writer.key_id:
        raise SensorInputError(f"{what} belongs to another key", 403, "forbidden")


def create_location(session: Session, body: dict, where: str = "Location") -> m.Location:
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.Location, id_, "Location")
    row = m.Location(name=_text(body, "name", where), description=_text(body, "description", where, ""),
                     encoding_type=_text(body, "encodingType", where, "application/geo+json"),
                     location=_json_object(body, "location", where, required=True),
                     properties=_json_object(body, "properties", where))
    session.add(row)
    return row


def create_sensor(session: Session, body: dict, where: str = "Sensor") -> m.Sensor:
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.Sensor, id_, "Sensor")
    metadata = body.get("metadata", "")
    row = m.Sensor(name=_text(body, "name", where), description=_text(body, "description", where, ""),
                   encoding_type=_text(body, "encodingType", where, "text/plain"),
                   metadata_=metadata if isinstance(metadata, str) else str(metadata),
                   properties=_json_object(body, "properties", where))
    session.add(row)
    return row


def create_observed_property(session: Session, body: dict, where: str = "ObservedProperty") -> m.ObservedProperty:
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.ObservedProperty, id_, "ObservedProperty")
    properties = _json_object(body, "properties", where)
    bounds = (properties or {}).get("range")
    if bounds is not None and not (isinstance(bounds, list) and len(bounds) == 2
                                   and all(isinstance(b, int | float) for b in bounds) and bounds[0] <= bounds[1]):
        raise SensorInputError(f"{where}.properties.range: expected [min, max] numbers")
    row = m.ObservedProperty(name=_text(body, "name", where), definition=_text(body, "definition", where, ""),
                             description=_text(body, "description", where, ""), properties=properties)
    session.add(row)
    return row


def create_feature(session: Session, body: dict, where: str = "FeatureOfInterest") -> m.FeatureOfInterest:
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.FeatureOfInterest, id_, "FeatureOfInterest")
    row = m.FeatureOfInterest(name=_text(body, "name", where), description=_text(body, "description", where, ""),
                              encoding_type=_text(body, "encodingType", where, "application/geo+json"),
                              feature=_json_object(body, "feature", where, required=True),
                              properties=_json_object(body, "properties", where))
    session.add(row)
    return row


def create_datastream(session: Session, writer: Writer, body: dict, thing: m.Thing | None = None,
                      where: str = "Datastream") -> m.Datastream:
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.Datastream, id_, "Datastream")
    if thing is None:
        thing_body = _json_object(body, "Thing", where, required=True)
        thing = create_thing(session, writer, thing_body, f"{where}.Thing")
    _owned(writer, thing.owner_key_id, f"Thing {thing.id}")
    unit = _json_object(body, "unitOfMeasurement", where, required=True)
    properties = _json_object(body, "properties", where)
    thresholds = (properties or {}).get("thresholds")
    if thresholds is not None and not (isinstance(thresholds, dict) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in thresholds.values())):
        raise SensorInputError(f"{where}.properties.thresholds: expected an object of numbers")
    sensor = create_sensor(session, _json_object(body, "Sensor", where, required=True), f"{where}.Sensor")
    observed = create_observed_property(session, _json_object(body, "ObservedProperty", where, required=True),
                                        f"{where}.ObservedProperty")
    session.flush()
    row = m.Datastream(name=_text(body, "name", where), description=_text(body, "description", where, ""),
                       unit_of_measurement=unit, observation_type=_text(body, "observationType", where, GENERIC),
                       properties=properties, owner_key_id=writer.key_id, thing_id=thing.id,
                       sensor_id=sensor.id, observed_property_id=observed.id)
    session.add(row)
    session.flush()
    return row


def create_thing(session: Session, writer: Writer, body: dict, where: str = "Thing") -> m.Thing:
    """A Thing with its new or referenced Locations and new Datastreams (deep insert)."""
    body = _object(body, where)
    if (id_ := _reference(body)) is not None:
        return _existing(session, m.Thing, id_, "Thing")
    thing = m.Thing(name=_text(body, "name", where), description=_text(body, "description", where, ""),
                    properties=_json_object(body, "properties", where), owner_key_id=writer.key_id)
    session.add(thing)
    session.flush()
    locations = [create_location(session, item, f"{where}.Locations[{n}]")
                 for n, item in enumerate(_list(body, "Locations", where))]
    if locations:
        session.flush()
        session.execute(m.thing_locations.insert(), [{"thing_id": thing.id, "location_id": loc.id}
                                                     for loc in locations])
        history = m.HistoricalLocation(thing_id=thing.id, time=datetime.now(UTC))
        session.add(history)
        session.flush()
        session.execute(m.historical_location_locations.insert(),
                        [{"historical_location_id": history.id, "location_id": loc.id} for loc in locations])
    for n, item in enumerate(_list(body, "Datastreams", where)):
        create_datastream(session, writer, item, thing, f"{where}.Datastreams[{n}]")
    return thing


def parse_observation(session: Session, body: Any, datastream_id: int | None,
                      where: str = "Observation") -> NewObservation:
    """A NewObservation from STA JSON; ``datastream_id`` comes from the path when posted under one."""
    body = _object(body, where)
    if datastream_id is None:
        datastream = _json_object(body, "Datastream", where, required=True)
        datastream_id = _reference(datastream)
        if datastream_id is None:
            raise SensorInputError(f"{where}.Datastream: expected a reference {{\"@iot.id\": …}}")
    if "result" not in body:
        raise SensorInputError(f"{where}.result: required")
    start, end = (parse_period(body["phenomenonTime"], f"{where}.phenomenonTime")
                  if "phenomenonTime" in body else (datetime.now(UTC), None))
    result_time = body.get("resultTime")
    feature = _json_object(body, "FeatureOfInterest", where)
    return NewObservation(
        datastream_id=datastream_id, phenomenon_time=start, phenomenon_end=end, result=body["result"],
        result_time=parse_moment(result_time, f"{where}.resultTime") if result_time is not None else None,
        parameters=_json_object(body, "parameters", where),
        feature_of_interest_id=create_feature(session, feature, f"{where}.FeatureOfInterest").id
        if feature is not None else None)


_COMPONENTS = {"phenomenonTime", "result", "resultTime", "parameters", "FeatureOfInterest/id"}


def parse_data_arrays(session: Session, body: Any) -> list[NewObservation]:
    """The observations of a ``CreateObservations`` body (``components`` + ``dataArray`` per Datastream)."""
    if not isinstance(body, list):
        raise SensorInputError("CreateObservations: expected a JSON array of data arrays")
    batch = []
    for n, item in enumerate(body):
        where = f"[{n}]"
        item = _object(item, where)
        datastream_id = _reference(_json_object(item, "Datastream", where, required=True))
        components = _list(item, "components", where)
        if datastream_id is None or not components or not set(components) <= _COMPONENTS \
                or "result" not in components:
            raise SensorInputError(f"{where}: needs a Datastream reference and components among "
                                   f"{sorted(_COMPONENTS)} including result")
        for k, values in enumerate(_list(item, "dataArray", where)):
            if not isinstance(values, list) or len(values) != len(components):
                raise SensorInputError(f"{where}.dataArray[{k}]: expected {len(components)} values")
            fields = dict(zip(components, values))
            if "FeatureOfInterest/id" in fields:
                fields["FeatureOfInterest"] = {"@iot.id": fields.pop("FeatureOfInterest/id")}
            batch.append(parse_observation(session, fields, datastream_id, f"{where}.dataArray[{k}]"))
    return batch


def create(session: Session, writer: Writer, set_name: str, body: Any, parent: tuple[str, int] | None) -> int:
    """Create one entity of ``set_name`` (under ``parent`` = (set, id) when posted to a navigation)."""
    if set_name == "Observations":
        datastream_id = parent[1] if parent and parent[0] == "Datastreams" else None
        return store_observations(session, writer, [parse_observation(session, body, datastream_id)])[0]
    if set_name == "Datastreams" and parent and parent[0] == "Things":
        thing = _existing(session, m.Thing, parent[1], "Thing")
        return create_datastream(session, writer, body, thing).id
    makers = {"Things": lambda: create_thing(session, writer, body),
              "Datastreams": lambda: create_datastream(session, writer, body),
              "Locations": lambda: create_location(session, body),
              "Sensors": lambda: create_sensor(session, body),
              "ObservedProperties": lambda: create_observed_property(session, body),
              "FeaturesOfInterest": lambda: create_feature(session, body)}
    if set_name not in makers or parent is not None:
        raise SensorInputError(f"cannot create entities at {set_name!r} here", 405, "not-allowed")
    row = makers[set_name]()
    session.flush()
    return row.id
