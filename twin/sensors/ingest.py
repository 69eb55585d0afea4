"""Storing observations: validation, ownership, idempotency, alerts and events in one transaction."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from twin.sensors import alerts, events
from twin.sensors.errors import SensorInputError
from twin.sensors.times import period
from twin.store.models import Datastream, Observation, ObservedProperty

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
COUNT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
TRUTH = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_TruthObservation"
CATEGORY = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CategoryObservation"
GENERIC = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"
NUMERIC_TYPES = (MEASUREMENT, COUNT)


@dataclass(frozen=True)
class Writer:
    """Who writes: a key id, and whether it may write every datastream (admin)."""

    key_id: str
    admin: bool


@dataclass(frozen=True)
class NewObservation:
    """One observation as received, times already parsed to UTC."""

    datastream_id: int
    phenomenon_time: datetime
    result: Any
    phenomenon_end: datetime | None = None
    result_time: datetime | None = None
    parameters: dict | None = None
    feature_of_interest_id: int | None = None


#: One stored observation: its id and the row written.
Stored = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class _Stream:
    id: int
    name: str
    owner: str | None
    observation_type: str
    valid_range: tuple[float, float] | None
    thresholds: dict[str, float]
    public: bool


def store_observations(session: Session, writer: Writer, batch: list[NewObservation]) -> list[int]:
    """Store ``batch`` (all or nothing) and return the id of each; re-sent ones keep their first id."""
    streams = _streams(session, {o.datastream_id for o in batch})
    rows = {}
    for n, obs in enumerate(batch):
        stream = streams.get(obs.datastream_id)
        where = f"observation {n}" if len(batch) > 1 else "observation"
        if stream is None:
            raise SensorInputError(f"{where}: no Datastream {obs.datastream_id}", 422, "unknown-datastream")
        if not writer.admin and stream.owner != writer.key_id:
            raise SensorInputError(f"Datastream {stream.id} belongs to another key", 403, "forbidden")
        rows.setdefault((obs.datastream_id, obs.phenomenon_time), _row(obs, stream, where))
    # One INSERT … ON CONFLICT DO NOTHING RETURNING: the rows it returns are the new ones; only
    # re-sent observations (none, usually) need a second look-up for their first id.
    ids = {(stream, moment): id_ for id_, stream, moment in _insert(session, list(rows.values()))}
    fresh = [row for key, row in rows.items() if key in ids]
    if fresh:
        _announce(session, streams, [fresh])
    resent = [key for key in rows if key not in ids]
    if resent:
        ids |= _ids(session, resent)
    return [ids[(o.datastream_id, o.phenomenon_time)] for o in batch]


def store_each(session: Session, posts: list[tuple[Writer, list[NewObservation]]]) -> list[list[Stored] | None]:
    """Store the observations of many posts (writers) with one statement, each post all or nothing.

    Each post gets, per observation, ``(id, stored row)`` or None when it was stored before (a
    re-sent one); or None for the whole post when it is refused (unknown datastream, not the
    writer's, invalid), with nothing of it written, for the caller to answer the slow way. The
    events and alerts are those of one :func:`store_observations` call per post.
    """
    streams = _streams(session, {obs.datastream_id for _, batch in posts for obs in batch})
    accepted: list[tuple[int, list[dict[str, Any]]]] = []
    for n, (writer, batch) in enumerate(posts):
        if all((stream := streams.get(obs.datastream_id)) is not None and (writer.admin or stream.owner ==
               writer.key_id) for obs in batch):
            try:
                accepted.append((n, [_row(obs, streams[obs.datastream_id], "observation") for obs in batch]))
            except SensorInputError:
                continue
    stored: list[list[Stored] | None] = [None] * len(posts)
    rows = [row for _, post_rows in accepted for row in post_rows]
    ids = {(stream, moment): id_ for id_, stream, moment in _insert(session, rows)} if rows else {}
    fresh: list[list[dict[str, Any]]] = []
    for n, post_rows in accepted:  # the first of a (datastream, time) twice in one group is the new one
        found = [(ids.pop((row["datastream_id"], row["phenomenon_time"]), None), row) for row in post_rows]
        stored[n] = [(id_, row) if id_ is not None else None for id_, row in found]
        fresh.append([row for id_, row in found if id_ is not None])
    _announce(session, streams, [rows_ for rows_ in fresh if rows_])
    return stored


#: Built once: building a statement and its cache key costs more than running it on a few rows.
_STREAMS = (select(Datastream.id, Datastream.name, Datastream.owner_key_id, Datastream.observation_type,
                   Datastream.properties, ObservedProperty.properties)
            .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
            .where(Datastream.id.in_(bindparam("ids", expanding=True))))
_INSERTS = {name: dialect.insert(Observation.__table__).on_conflict_do_nothing(
                index_elements=["datastream_id", "phenomenon_time"]).returning(
                Observation.__table__.c.id, Observation.__table__.c.datastream_id,
                Observation.__table__.c.phenomenon_time)
            for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))}


def _streams(session: Session, ids: set[int]) -> dict[int, _Stream]:
    found = {}
    for id_, name, owner, kind, props, op_props in session.connection().execute(_STREAMS, {"ids": list(ids)}):
        bounds = (op_props or {}).get("range")
        found[id_] = _Stream(id_, name, owner, kind, (float(bounds[0]), float(bounds[1])) if bounds else None,
                             alerts.thresholds_of(props), (props or {}).get("public", True) is not False)
    return found


def _row(obs: NewObservation, stream: _Stream, where: str) -> dict[str, Any]:
    result = obs.result
    number: float | None = None
    if stream.observation_type in NUMERIC_TYPES or stream.valid_range is not None:
        if isinstance(result, bool) or not isinstance(result, int | float) or not math.isfinite(result):
            raise SensorInputError(f"{where}: result must be a finite number for Datastream {stream.id}, "
                                   f"got {result!r}")
        if stream.observation_type == COUNT and result != int(result):
            raise SensorInputError(f"{where}: a count must be a whole number, got {result!r}")
        number = float(result)
        if stream.valid_range and not stream.valid_range[0] <= number <= stream.valid_range[1]:
            low, high = stream.valid_range
            raise SensorInputError(f"{where}: result {result} is outside the physical range [{low}, {high}] "
                                   f"of Datastream {stream.id}", 422, "out-of-range")
    elif stream.observation_type == TRUTH and not isinstance(result, bool):
        raise SensorInputError(f"{where}: result must be true or false, got {result!r}")
    elif isinstance(result, int | float) and not isinstance(result, bool):
        number = float(result)
    return {"datastream_id": obs.datastream_id, "phenomenon_time": obs.phenomenon_time,
            "phenomenon_end": obs.phenomenon_end, "result_time": obs.result_time or obs.phenomenon_end
            or obs.phenomenon_time, "result_number": number, "result_json": None if number is not None else result,
            "parameters": obs.parameters, "feature_of_interest_id": obs.feature_of_interest_id}


def _insert(session: Session, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING (id, datastream, time) of the rows that were new.

    A concurrent request may store the same (datastream, time) between our read and write, and
    a re-sent observation must not fail: conflicting rows are skipped, not errors. A Core
    statement on the session's connection: the ORM's bulk insert costs more than the insert.
    """
    connection = session.connection()
    return connection.execute(_INSERTS[connection.dialect.name], rows)


def _ids(session: Session, keys: list[tuple[int, datetime]]) -> dict[tuple[int, datetime], int]:
    """Stored ids of (datastream, time) keys: one range query per datastream."""
    by_stream: dict[int, list[datetime]] = defaultdict(list)
    for stream_id, moment in keys:
        by_stream[stream_id].append(moment)
    found = {}
    for stream_id, moments in by_stream.items():
        wanted = set(moments)
        query = select(Observation.id, Observation.phenomenon_time).where(
            Observation.datastream_id == stream_id,
            Observation.phenomenon_time.between(min(moments), max(moments)))
        found.update({(stream_id, t): id_ for id_, t in session.execute(query) if t in wanted})
    return found


def _announce(session: Session, streams: dict[int, _Stream], batches: list[list[dict[str, Any]]]) -> None:
    """Alert changes and one ``observations`` event per datastream of each batch, in the same transaction."""
    logged: list[tuple[str, Any, bool]] = []
    for fresh in batches:
        by_stream: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in fresh:
            by_stream[row["datastream_id"]].append(row)
        for stream_id, rows in by_stream.items():
            stream = streams[stream_id]
            logged.append(("observations", {
                "datastream": stream_id, "name": stream.name,
                "observations": [{"phenomenonTime": period(r["phenomenon_time"], r["phenomenon_end"]),
                                  "result": r["result_number"] if r["result_number"] is not None
                                  else r["result_json"]} for r in rows]}, stream.public))
            if stream.thresholds:
                values = [(r["phenomenon_time"], r["result_number"]) for r in rows if r["result_number"] is not None]
                logged.extend(("alert", {**change.to_json(), "name": stream.name}, True)
                              for change in alerts.advance(session, stream_id, stream.thresholds, values))
    events.append_all(session, logged)
