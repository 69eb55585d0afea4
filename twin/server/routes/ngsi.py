"""FIWARE NGSI-v2 subset at ``/ngsi/v2``: Orion notifications and entities of Smart Data Models."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from twin.sensors import ngsi
from twin.server import json_body
from twin.server.auth import Role, requires
from twin.server.problems import Problem
from twin.server.routes.sta import (
    MAX_BATCH_BYTES,
    MAX_ENTITY_BYTES,
    in_session,
    read_json,
    writer_of,
)
from twin.store.apikeys import KeyInfo

router = APIRouter(prefix="/ngsi/v2", tags=["NGSI-v2"])

Reader = Annotated[KeyInfo, requires(Role.STAFF, Role.SENSOR)]
Writer = Annotated[KeyInfo, requires(Role.SENSOR)]


def _options(options: str | None) -> set[str]:
    return set((options or "").split(",")) - {""}


@router.post("/notify", status_code=204)
async def notify(request: Request, key: Writer) -> Response:
    """An Orion subscription notification ``{"subscriptionId", "data": [entities]}``, stored all or nothing."""
    body = await read_json(request, MAX_BATCH_BYTES)
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise Problem(422, 'A notification is {"subscriptionId": …, "data": [entities]}.', "validation")
    writer = writer_of(key)

    def work(session):
        for entity in body["data"]:
            ngsi.upsert(session, writer, entity)

    await run_in_threadpool(in_session, request, work, write=True)
    return Response(status_code=204)


@router.post("/entities", status_code=201)
async def create_entity(request: Request, key: Writer, options: str | None = None) -> Response:
    """Create an entity (``options=upsert`` updates an existing one); ``Location`` names it."""
    body = await read_json(request, MAX_ENTITY_BYTES)
    writer, upsert = writer_of(key), "upsert" in _options(options)

    def work(session):
        ngsi.upsert(session, writer, body, create_only=not upsert)

    await run_in_threadpool(in_session, request, work, write=True)
    return Response(status_code=201, headers={"Location": f"/ngsi/v2/entities/{body['id']}?type={body['type']}"})


@router.post("/entities/{entity_id}/attrs", status_code=204)
async def upsert_attributes(entity_id: str, request: Request, key: Writer) -> Response:
    """Add or update attributes of an existing entity (new values become observations)."""
    body = await read_json(request, MAX_ENTITY_BYTES)
    if not isinstance(body, dict):
        raise Problem(422, "Attributes must be a JSON object.", "validation")
    writer = writer_of(key)

    def work(session):
        ngsi.upsert(session, writer, body, existing_only=entity_id)

    await run_in_threadpool(in_session, request, work, write=True)
    return Response(status_code=204)


@router.get("/entities")
def list_entities(request: Request, response: Response, _: Reader, type: str | None = None,
                  id: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 20,
                  offset: Annotated[int, Query(ge=0, le=json_body.INT_LIMIT)] = 0,
                  options: str | None = None) -> list[dict[str, Any]]:
    """Entities, newest values per attribute; ``options=keyValues,count`` (→ ``Fiware-Total-Count``)."""
    flags = _options(options)
    ids = id.split(",") if id else None
    entities, total = in_session(request, ngsi.list_entities, type, ids, limit, offset, "keyValues" in flags)
    if "count" in flags:
        response.headers["Fiware-Total-Count"] = str(total)
    return entities


@router.get("/entities/{entity_id}")
def get_entity(entity_id: str, request: Request, _: Reader, options: str | None = None) -> dict[str, Any]:
    """One entity by id."""
    def work(session):
        thing = ngsi.find_thing(session, entity_id)
        if thing is None:
            raise Problem(404, f"No entity {entity_id!r}.", "not-found")
        return ngsi.entity_of(session, thing, "keyValues" in _options(options))

    return in_session(request, work)
