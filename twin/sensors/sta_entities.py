"""The SensorThings entity sets over the store: columns, JSON form, navigation, filters as SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from twin.sensors.errors import SensorInputError
from twin.sensors.sta_query import Compare, Filter, Logical, Not, Path
from twin.sensors.times import iso, period
from twin.store import models as m

Condition = Callable[[int], ColumnElement[bool]]


@dataclass(frozen=True)
class Navigation:
    """A link from one entity to a set: ``where(parent_id)`` selects the targets."""

    target: str
    many: bool
    where: Condition


@dataclass
class EntitySet:
    """One SensorThings entity set: its table, queryable properties and links."""

    name: str
    singular: str
    model: type[m.Base]
    columns: dict[str, InstrumentedAttribute]
    render: Callable[[Any], dict[str, Any]]
    navigation: dict[str, Navigation] = field(default_factory=dict)

    def column(self, path: Path) -> tuple[Any, bool]:
        """The SQL expression of ``path`` and whether it is a JSON value."""
        head, *rest = path.parts
        if head in ("id", "@iot.id"):
            head = "id"
        if head not in self.columns:
            raise SensorInputError(f"{self.name} have no property {head!r}", 400, "bad-query")
        column = self.columns[head]
        if rest:
            if head != "properties" and head != "parameters":
                raise SensorInputError(f"{'/'.join(path.parts)}: only properties/… paths go deeper",
                                       400, "bad-query")
            return column[tuple(rest)], True
        return column, False

    def where(self, tree: Filter) -> ColumnElement[bool]:
        """``$filter`` as a SQL condition."""
        if isinstance(tree, Logical):
            join = and_ if tree.op == "and" else or_
            return join(self.where(tree.left), self.where(tree.right))
        if isinstance(tree, Not):
            return not_(self.where(tree.operand))
        return self._compare(tree)

    def _compare(self, tree: Compare) -> ColumnElement[bool]:
        column, is_json = self.column(tree.path)
        value = tree.value
        if tree.path.parts == ("result",) and isinstance(value, str | bool):
            column, is_json = m.Observation.result_json, True
        if is_json:
            column = (column.as_boolean() if isinstance(value, bool) else column.as_float()
                      if isinstance(value, int | float) else column.as_string())
        if isinstance(value, datetime) and tree.path.parts[0] not in ("phenomenonTime", "resultTime", "time"):
            raise SensorInputError(f"{'/'.join(tree.path.parts)} is not a time", 400, "bad-query")
        if value is None:
            if tree.op not in ("eq", "ne"):
                raise SensorInputError("null compares only with eq or ne", 400, "bad-query")
            return column.is_(None) if tree.op == "eq" else column.is_not(None)
        return {"eq": column.__eq__, "ne": column.__ne__, "gt": column.__gt__, "ge": column.__ge__,
                "lt": column.__lt__, "le": column.__le__}[tree.op](value)

    def order(self, name: str, descending: bool) -> Any:
        column, _ = self.column(Path(tuple(name.split("/"))))
        return column.desc() if descending else column.asc()


def _common(row: Any) -> dict[str, Any]:
    return {"name": row.name, "description": row.description, "properties": row.properties or {}}


def _thing(row: m.Thing) -> dict[str, Any]:
    return _common(row)


def _location(row: m.Location) -> dict[str, Any]:
    return {**_common(row), "encodingType": row.encoding_type, "location": row.location}


def _historical_location(row: m.HistoricalLocation) -> dict[str, Any]:
    return {"time": iso(row.time)}


def _sensor(row: m.Sensor) -> dict[str, Any]:
    return {**_common(row), "encodingType": row.encoding_type, "metadata": row.metadata_}


def _observed_property(row: m.ObservedProperty) -> dict[str, Any]:
    return {**_common(row), "definition": row.definition}


def _datastream(row: m.Datastream) -> dict[str, Any]:
    return {**_common(row), "unitOfMeasurement": row.unit_of_measurement, "observationType": row.observation_type}


def _feature(row: m.FeatureOfInterest) -> dict[str, Any]:
    return {**_common(row), "encodingType": row.encoding_type, "feature": row.feature}


def _observation(row: m.Observation) -> dict[str, Any]:
    result = row.result_number if row.result_number is not None else row.result_json
    if result is not None and isinstance(result, float) and result.is_integer() and row.result_json is None:
        result = int(result) if abs(result) < 2**53 else result
    return {"phenomenonTime": period(row.phenomenon_time, row.phenomenon_end), "result": result,
            "resultTime": iso(row.result_time), "parameters": row.parameters or {}}


def _by_child(child_fk: InstrumentedAttribute, child: type[m.Base], parent: type[m.Base]) -> Condition:
    """The one parent of a child row: ``parent.id = (child.fk where child.id = id)``."""
    return lambda id_: parent.id == select(child_fk).where(child.id == id_).scalar_subquery()


def _through(table: Any, mine: str, theirs: str, target: type[m.Base]) -> Condition:
    return lambda id_: target.id.in_(select(table.c[theirs]).where(table.c[mine] == id_))


_NAMED = ("name", "description", "properties")


def _cols(model: type[m.Base], **extra: InstrumentedAttribute) -> dict[str, InstrumentedAttribute]:
    named = {k: getattr(model, k) for k in _NAMED if hasattr(model, k)}
    return {"id": model.id, **named, **extra}


SETS: dict[str, EntitySet] = {s.name: s for s in (
    EntitySet("Things", "Thing", m.Thing, _cols(m.Thing), _thing, {
        "Datastreams": Navigation("Datastreams", True, lambda i: m.Datastream.thing_id == i),
        "Locations": Navigation("Locations", True, _through(m.thing_locations, "thing_id", "location_id",
                                                            m.Location)),
        "HistoricalLocations": Navigation("HistoricalLocations", True,
                                          lambda i: m.HistoricalLocation.thing_id == i),
    }),
    EntitySet("Locations", "Location", m.Location, _cols(m.Location, encodingType=m.Location.encoding_type),
              _location, {
        "Things": Navigation("Things", True, _through(m.thing_locations, "location_id", "thing_id", m.Thing)),
        "HistoricalLocations": Navigation("HistoricalLocations", True, _through(
            m.historical_location_locations, "location_id", "historical_location_id", m.HistoricalLocation)),
    }),
    EntitySet("HistoricalLocations", "HistoricalLocation", m.HistoricalLocation,
              {"id": m.HistoricalLocation.id, "time": m.HistoricalLocation.time}, _historical_location, {
        "Thing": Navigation("Things", False, _by_child(m.HistoricalLocation.thing_id, m.HistoricalLocation,
                                                       m.Thing)),
        "Locations": Navigation("Locations", True, _through(
            m.historical_location_locations, "historical_location_id", "location_id", m.Location)),
    }),
    EntitySet("Sensors", "Sensor", m.Sensor, _cols(m.Sensor, encodingType=m.Sensor.encoding_type), _sensor, {
        "Datastreams": Navigation("Datastreams", True, lambda i: m.Datastream.sensor_id == i),
    }),
    EntitySet("ObservedProperties", "ObservedProperty", m.ObservedProperty,
              _cols(m.ObservedProperty, definition=m.ObservedProperty.definition), _observed_property, {
        "Datastreams": Navigation("Datastreams", True, lambda i: m.Datastream.observed_property_id == i),
    }),
    EntitySet("Datastreams", "Datastream", m.Datastream,
              _cols(m.Datastream, observationType=m.Datastream.observation_type), _datastream, {
        "Thing": Navigation("Things", False, _by_child(m.Datastream.thing_id, m.Datastream, m.Thing)),
        "Sensor": Navigation("Sensors", False, _by_child(m.Datastream.sensor_id, m.Datastream, m.Sensor)),
        "ObservedProperty": Navigation("ObservedProperties", False, _by_child(
            m.Datastream.observed_property_id, m.Datastream, m.ObservedProperty)),
        "Observations": Navigation("Observations", True, lambda i: m.Observation.datastream_id == i),
    }),
    EntitySet("FeaturesOfInterest", "FeatureOfInterest", m.FeatureOfInterest,
              _cols(m.FeatureOfInterest, encodingType=m.FeatureOfInterest.encoding_type), _feature, {
        "Observations": Navigation("Observations", True, lambda i: m.Observation.feature_of_interest_id == i),
    }),
    EntitySet("Observations", "Observation", m.Observation,
              {"id": m.Observation.id, "phenomenonTime": m.Observation.phenomenon_time,
               "resultTime": m.Observation.result_time, "result": m.Observation.result_number,
               "parameters": m.Observation.parameters}, _observation, {
        "Datastream": Navigation("Datastreams", False, _by_child(m.Observation.datastream_id, m.Observation,
                                                                 m.Datastream)),
        "FeatureOfInterest": Navigation("FeaturesOfInterest", False, _by_child(
            m.Observation.feature_of_interest_id, m.Observation, m.FeatureOfInterest)),
    }),
)}
