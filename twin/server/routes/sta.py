"""OGC SensorThings API 1.1 subset at ``/sta/v1.1`` (reads for keys, writes for sensor/admin keys)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from twin.sensors.errors import SensorInputError
from twin.sensors.ingest import Writer, store_observations
from twin.sensors.sta_entities import SETS
from twin.sensors.sta_query import parse_query
from twin.sensors.sta_read import read, resolve
from twin.sensors.sta_write import create, parse_data_arrays
from twin.server import json_body
from twin.server.auth import Role, requires
from twin.server.problems import Problem
from twin.store.apikeys import KeyInfo

router = APIRouter(prefix="/sta/v1.1", tags=["SensorThings"])
PREFIX = "/sta/v1.1"
#: Largest request bodies accepted: one entity, and a CreateObservations batch.
MAX_ENTITY_BYTES = 1 << 20
MAX_BATCH_BYTES = 16 << 20
#: Ids are 64-bit: longer digit strings name nothing (and never reach the database).
_POST_PATH = re.compile(r"([A-Za-z]+)(?:\((\d{1,18})\)/([A-Za-z]+))?")
T = TypeVar("T")

Reader = Annotated[KeyInfo, requires(Role.STAFF, Role.SENSOR)]
Writer_ = Annotated[KeyInfo, requires(Role.SENSOR)]


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body, refusing more than ``limit`` bytes (413) before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"The body is larger than {limit} bytes.", "too-large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"The body is larger than {limit} bytes.", "too-large")
        chunks.append(chunk)
    try:
        return json_body.loads(b"".join(chunks))
    except ValueError as exc:  # also UnicodeDecodeError; numbers out of range, nesting too deep
        raise Problem(400, f"The body is not acceptable JSON: {exc}", "bad-json") from None


def writer_of(key: KeyInfo) -> Writer:
    return Writer(key_id=key.id, admin=key.role == Role.ADMIN)


def in_session(request: Request, work: Callable[..., T], *args: Any, write: bool = False) -> T:
    """Run ``work(session, *args)`` in one transaction; sensor input errors become problem+json."""
    store = request.app.state.store
    try:
        if write:  # joined with concurrent writes into one commit, answered once committed
            return request.app.state.writes.run(lambda session: work(session, *args))
        with store.session() as session:
            return work(session, *args)
    except SensorInputError as exc:
        raise Problem(exc.status, str(exc), exc.slug) from None


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("")
def service_root(request: Request, _: Reader) -> dict:
    """The entity sets and the conformance classes served."""
    base = base_url(request)
    return {"value": [{"name": name, "url": f"{base}/{name}"} for name in SETS],
            "serverSettings": {"conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/create-entity",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array"]}}


@router.get("/{path:path}")
def get_resource(path: str, request: Request, _: Reader) -> dict:
    """An entity set, an entity or a navigation, with ``$top $skip $count $orderby $select $expand $filter``."""
    params = dict(request.query_params)

    def answer(session):
        query = parse_query(params)
        following = {**params, "$skip": str(query.skip + query.top)}
        next_link = f"{base_url(request)}/{path}?{urlencode(following)}"
        return read(session, base_url(request), resolve(session, path), query, next_link)

    return in_session(request, answer)


@router.post("/CreateObservations", status_code=201)
async def create_observations(request: Request, key: Writer_) -> list[str]:
    """Many observations in ``dataArray`` form, stored all or nothing; answers their self links."""
    body = await read_json(request, MAX_BATCH_BYTES)
    writer, base = writer_of(key), base_url(request)

    def work(session):
        return store_observations(session, writer, parse_data_arrays(session, body))

    ids = await run_in_threadpool(in_session, request, work, write=True)
    return [f"{base}/Observations({i})" for i in ids]


@router.post("/{path:path}", status_code=201)
async def create_entity(path: str, request: Request, key: Writer_) -> JSONResponse:
    """Create an entity (Things with Locations and Datastreams in one go); ``Location`` names it."""
    match = _POST_PATH.fullmatch(path.strip("/"))
    if match is None or (match.group(1) if match.group(3) is None else match.group(3)) not in SETS:
        raise Problem(404, f"Cannot create entities at {path!r}.", "not-found")
    parent_set, parent_id, child = match.groups()
    set_name, parent = (child, (parent_set, int(parent_id))) if child else (parent_set, None)
    body = await read_json(request, MAX_ENTITY_BYTES)
    writer, base = writer_of(key), base_url(request)

    def work(session):
        id_ = create(session, writer, set_name, body, parent)
        query = parse_query({})
        return read(session, base, resolve(session, f"{set_name}({id_})"), query, None)

    entity = await run_in_threadpool(in_session, request, work, write=True)
    return JSONResponse(entity, 201, headers={"Location": entity["@iot.selfLink"]})
