"""Answering SensorThings GET requests: resource paths, collections, entities and ``$expand``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from twin.sensors.errors import SensorInputError
from twin.sensors.sta_entities import SETS, EntitySet
from twin.sensors.sta_query import Expand, Query

#: Ids are 64-bit: longer digit strings name nothing (and never reach the database).
_SEGMENT = re.compile(r"([A-Za-z]+)(?:\((\d{1,18})\))?")


@dataclass(frozen=True)
class Resource:
    """What a path names: a set narrowed by a condition, and whether it is one entity."""

    entity_set: EntitySet
    where: Any
    single: bool
    id: int | None = None


def resolve(session: Session, path: str) -> Resource:
    """``Things``, ``Things(1)``, ``Things(1)/Datastreams``, ``Observations(5)/Datastream``; 404 if missing."""
    segments = [s for s in path.strip("/").split("/") if s]
    if not 1 <= len(segments) <= 2:
        raise SensorInputError(f"unsupported resource path {path!r}", 404, "not-found")
    head = _SEGMENT.fullmatch(segments[0])
    if head is None or head.group(1) not in SETS:
        raise SensorInputError(f"no entity set {segments[0]!r}", 404, "not-found")
    entity_set, id_ = SETS[head.group(1)], head.group(2)
    if id_ is None:
        if len(segments) > 1:
            raise SensorInputError(f"{path!r}: name one entity before a navigation", 404, "not-found")
        return Resource(entity_set, None, single=False)
    parent_id = int(id_)
    if session.get(entity_set.model, parent_id) is None:
        raise SensorInputError(f"no {entity_set.singular} {parent_id}", 404, "not-found")
    if len(segments) == 1:
        return Resource(entity_set, entity_set.model.id == parent_id, single=True, id=parent_id)
    navigation = entity_set.navigation.get(segments[1])
    if navigation is None:
        raise SensorInputError(f"a {entity_set.singular} has no {segments[1]!r}", 404, "not-found")
    return Resource(SETS[navigation.target], navigation.where(parent_id), single=not navigation.many,
                    id=parent_id)


def read(session: Session, base: str, resource: Resource, query: Query, next_link: str | None) -> dict[str, Any]:
    """The JSON of a resource; ``next_link`` is the URL of the next page (``$skip`` replaced by the caller)."""
    if resource.single:
        rows = _rows(session, resource.entity_set, resource.where, Query(top=1))
        if not rows:
            raise SensorInputError(f"no {resource.entity_set.singular} here", 404, "not-found")
        return entity_json(session, base, resource.entity_set, rows[0], query)
    return collection_json(session, base, resource.entity_set, resource.where, query, next_link)


def collection_json(session: Session, base: str, entity_set: EntitySet, where: Any, query: Query,
                    next_link: str | None) -> dict[str, Any]:
    rows = _rows(session, entity_set, where, query, extra=1)
    body: dict[str, Any] = {}
    if query.count:
        counted = select(func.count()).select_from(entity_set.model)
        for condition in _conditions(entity_set, where, query):
            counted = counted.where(condition)
        body["@iot.count"] = session.scalar(counted)
    if len(rows) > query.top and next_link is not None:
        body["@iot.nextLink"] = next_link
    body["value"] = [entity_json(session, base, entity_set, row, query) for row in rows[:query.top]]
    return body


def entity_json(session: Session, base: str, entity_set: EntitySet, row: Any, query: Query) -> dict[str, Any]:
    """One entity with its links, ``$select``-ed, with its ``$expand``-ed neighbours."""
    link = f"{base}/{entity_set.name}({row.id})"
    body = {"@iot.id": row.id, "@iot.selfLink": link, **entity_set.render(row)}
    for name in entity_set.navigation:
        body[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    if query.select is not None:
        wanted = {"@iot.id" if s == "id" else s for s in query.select}
        unknown = wanted - set(body) - {"selfLink"}
        if unknown:
            raise SensorInputError(f"$select: {entity_set.name} have no {', '.join(sorted(unknown))}",
                                   400, "bad-query")
        body = {k: v for k, v in body.items() if k in wanted or (k == "@iot.selfLink" and "selfLink" in wanted)}
    for item in query.expand:
        body.update(_expanded(session, base, entity_set, row.id, item))
    return body


def _expanded(session: Session, base: str, entity_set: EntitySet, id_: int, item: Expand) -> dict[str, Any]:
    navigation = entity_set.navigation.get(item.navigation)
    if navigation is None:
        raise SensorInputError(f"$expand: a {entity_set.singular} has no {item.navigation!r}", 400, "bad-query")
    target = SETS[navigation.target]
    if not navigation.many:
        rows = _rows(session, target, navigation.where(id_), Query(top=1))
        return {item.navigation: entity_json(session, base, target, rows[0], item.query) if rows else None}
    page = collection_json(session, base, target, navigation.where(id_), item.query, None)
    out = {item.navigation: page["value"]}
    if "@iot.count" in page:
        out[f"{item.navigation}@iot.count"] = page["@iot.count"]
    return out


def _conditions(entity_set: EntitySet, where: Any, query: Query) -> list[Any]:
    conditions = [] if where is None else [where]
    if query.filter is not None:
        conditions.append(entity_set.where(query.filter))
    return conditions


def _rows(session: Session, entity_set: EntitySet, where: Any, query: Query, extra: int = 0) -> list[Any]:
    statement = select(entity_set.model)
    for condition in _conditions(entity_set, where, query):
        statement = statement.where(condition)
    order = [entity_set.order(name, desc) for name, desc in query.orderby]
    statement = statement.order_by(*order, entity_set.model.id).offset(query.skip).limit(query.top + extra)
    return list(session.scalars(statement))
