"""Single observations stored before routing (ASGI middleware), many per transaction.

A device posting one value at a time is the commonest write, and the routes did the most for
it: FastAPI's routing and dependencies, two worker-thread hops, an ORM insert, a read-back of
the new entity and the audit entry in a transaction of its own. Here
``POST /sta/v1.1/Observations``, ``POST /sta/v1.1/Datastreams(id)/Observations`` and the
NGSI-v2 ``POST /ngsi/v2/entities/{id}/attrs`` sent with an API key this process has verified
before are parsed in the event loop, rate limited, and queued; the posts waiting together are
written as one job of the group commit (:mod:`twin.store.group_commit`): the key rows (revoked
or expired keys write nothing), one INSERT of the SensorThings observations, the NGSI
attributes through :func:`twin.sensors.ngsi.upsert`, their events and alerts, and their audit
entries, all in one transaction. Each post is answered once that transaction has committed:
SensorThings with the entity built from what was stored, NGSI with 204. The middleware sits
inside the body limit, audit, CORS and security-header middlewares, so those apply as to any
route.

Anything else takes the route unchanged, body replayed: no or unknown key, a session cookie, a
key without the role, invalid JSON or input, a datastream or entity that is unknown or another
key's, a re-sent SensorThings observation (the route answers its first id), a
FeatureOfInterest to create, NGSI thresholds to change or an attribute without its datastream
yet, chunked or large bodies, a failed transaction. So errors keep the routes' answers, and the
routes are the reference the tests compare this path with.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from twin.sensors import ngsi
from twin.sensors.errors import SensorInputError
from twin.sensors.ingest import NewObservation, Writer, store_each
from twin.sensors.sta_entities import SETS
from twin.sensors.sta_query import Query
from twin.sensors.sta_read import entity_json
from twin.sensors.sta_write import parse_observation
from twin.server import json_body
from twin.server.audit import RECORDED
from twin.server.limits import replay_body
from twin.server.problems import Problem, problem_response
from twin.server.ratelimit import CHECKED, RateLimiter
from twin.server.routes.sta import MAX_ENTITY_BYTES, PREFIX
from twin.store import audit
from twin.store.apikeys import ApiKeys, KeyInfo, live_ids
from twin.store.audit import AuditRecord
from twin.store.group_commit import GroupCommit

#: The paths, and the routes they would take (for the rate limiter's route-specific limits).
_STA_PATH = re.compile(re.escape(PREFIX) + r"/(?:Datastreams\((\d{1,18})\)/)?Observations")
_STA_ROUTE = PREFIX + "/{path}"
_NGSI_PATH = re.compile(r"/ngsi/v2/entities/([^/]+)/attrs")
_NGSI_ROUTE = "/ngsi/v2/entities/{entity_id}/attrs"
_WRITER_ROLES = ("sensor", "admin")
_OBSERVATIONS = SETS["Observations"]
_PLAIN_QUERY = Query()


@dataclass(frozen=True)
class EntityAttributes:
    """An NGSI-v2 attribute update of an existing entity, as posted."""

    entity_id: str
    body: dict[str, Any]


@dataclass
class _Post:
    """One queued post: who, what, its audit entry, and where its answer goes."""

    writer: Writer
    item: NewObservation | EntityAttributes
    record: AuditRecord
    loop: asyncio.AbstractEventLoop
    answer: asyncio.Future = field(repr=False)


class ObservationPosts:
    """ASGI middleware answering plain single-observation POSTs (see the module docstring)."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, limiter: RateLimiter, writes: GroupCommit) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.queue = PostQueue(writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        sta = _STA_PATH.fullmatch(scope["path"])
        ngsi_ = _NGSI_PATH.fullmatch(scope["path"]) if sta is None else None
        key = self._key(scope) if sta is not None or ngsi_ is not None else None
        if key is None or not _small_body(scope):
            await self.app(scope, receive, send)
            return
        body, complete = await _read(receive)
        if not complete:
            return  # the client went away
        replay = replay_body(body, receive)
        item = (_observation(body, int(sta.group(1)) if sta.group(1) else None) if sta is not None
                else _attributes(body, ngsi_.group(1)))  # type: ignore[union-attr]
        if item is None or key.role not in _WRITER_ROLES:
            await self.app(scope, replay, send)
            return
        state = scope.setdefault("state", {})
        actor = f"key:{key.name}"
        state["actor"], state["role"] = actor, key.role
        client = scope.get("client")
        try:
            self.limiter.check("POST", _STA_ROUTE if sta is not None else _NGSI_ROUTE,
                               [f"ip:{client[0] if client else '-'}", actor])
        except Problem as refused:  # the audit middleware records the 429 as for any route
            response = problem_response(Request(scope), refused.status, refused.detail, refused.slug,
                                        refused.headers)
            await response(scope, replay, send)
            return
        state[CHECKED] = True  # a post sent on to the route has had its token taken
        record = AuditRecord(actor=actor, role=key.role, action="write", method="POST", path=scope["path"],
                             status=201 if sta is not None else 204, client=client[0] if client else "")
        stored = await self.queue.put(Writer(key_id=key.id, admin=key.role == "admin"), item, record)
        if stored is None:  # the route answers as if it were the first to see the request
            del state["actor"], state["role"]
            await self.app(scope, replay, send)
            return
        state[RECORDED] = True
        await _answer_of(scope, stored)(scope, replay, send)

    def _key(self, scope: Scope) -> KeyInfo | None:
        """The bearer key of the request if this process verified it before (the row is checked later)."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, token = get_authorization_scheme_param(value.decode("latin-1"))
                return self.keys.verified_before(token) if scheme.lower() == "bearer" and token else None
        return None


class PostQueue:
    """Posts waiting for the writer thread; those waiting together become one group-commit job."""

    def __init__(self, writes: GroupCommit) -> None:
        self.writes = writes
        self._waiting: list[_Post] = []
        self._queued = False  # a job is queued that will take every waiting post
        self._lock = threading.Lock()

    async def put(self, writer: Writer, item: NewObservation | EntityAttributes, record: AuditRecord) -> Any:
        """Once committed: ``(id, stored row)`` of an observation, the ids of an NGSI update; or
        None when the post must take the route."""
        loop = asyncio.get_running_loop()
        post = _Post(writer, item, record, loop, loop.create_future())
        with self._lock:
            self._waiting.append(post)
            start, self._queued = not self._queued, True
        if start:
            self._submit()
        return await post.answer

    def _submit(self) -> None:
        taken: list[_Post] = []

        def job(session: Session) -> list[Any]:
            if not taken:  # the first run takes the waiting posts; a rerun of the group keeps them
                with self._lock:
                    taken.extend(self._waiting)
                    self._waiting, self._queued = [], False
            return _store(session, taken)

        self.writes.submit(job).add_done_callback(lambda done: _answer(taken, done))


def _store(session: Session, posts: list[_Post]) -> list[Any]:
    """The posts of live keys, and an audit entry for each one stored; None for the others.

    A SensorThings post gets ``(id, stored row)`` (None if re-sent: the route answers its first
    id); an NGSI one the list of what :func:`store_each` stored of it.
    """
    live = live_ids(session, {p.writer.key_id for p in posts})
    batches: dict[int, list[NewObservation]] = {}
    for n, post in enumerate(posts):
        if post.writer.key_id not in live:
            continue
        if isinstance(post.item, NewObservation):
            batches[n] = [post.item]
            continue
        try:  # without new datastreams or thresholds, a refusal comes before any write
            batches[n] = ngsi.observations_of(session, post.writer, post.item.body,
                                              existing_only=post.item.entity_id, new_streams=False)
        except SensorInputError:
            continue
    stored: list[Any] = [None] * len(posts)
    for n, entries in zip(batches, store_each(session, [(posts[n].writer, b) for n, b in batches.items()]),
                          strict=True):
        stored[n] = entries[0] if entries is not None and isinstance(posts[n].item, NewObservation) else entries
    audit.append_all(session, [p.record for p, entry in zip(posts, stored, strict=True) if entry is not None])
    return stored


def _answer(posts: list[_Post], done: Any) -> None:
    """Hand each post its result (None for all when the transaction failed) in its event loop."""
    try:
        results = done.result()
    except Exception:
        results = [None] * len(posts)
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any]]] = defaultdict(list)
    for post, result in zip(posts, results, strict=True):
        by_loop[post.loop].append((post.answer, result))
    for loop, answers in by_loop.items():
        loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future, Any]]) -> None:
    for future, result in answers:
        if not future.done():  # the request may have been cancelled (client gone)
            future.set_result(result)


def _small_body(scope: Scope) -> bool:
    """Whether the body is declared, not chunked, and small enough for one entity."""
    length = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return False
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
    return length is not None and length <= MAX_ENTITY_BYTES


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The body, and False if the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _observation(body: bytes, datastream_id: int | None) -> NewObservation | None:
    """The observation of a plain SensorThings body; None for invalid input or a FeatureOfInterest to create."""
    try:
        parsed = json_body.loads(body)
        if not isinstance(parsed, dict) or "FeatureOfInterest" in parsed:
            return None
        return parse_observation(None, parsed, datastream_id)  # type: ignore[arg-type]
    except (ValueError, SensorInputError):
        return None


def _attributes(body: bytes, entity_id: str) -> EntityAttributes | None:
    """An NGSI attribute update that changes no thresholds; None for anything else."""
    try:
        parsed = json_body.loads(body)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or any(name in ngsi.THRESHOLD_ATTRIBUTES for name in parsed):
        return None
    return EntityAttributes(entity_id, parsed)


def _answer_of(scope: Scope, stored: Any) -> Response:
    """201 with the new SensorThings entity (as the GET route renders it), or NGSI's 204."""
    if not isinstance(stored, tuple):
        return Response(status_code=204)
    id_, row = stored
    base = str(Request(scope).base_url).rstrip("/") + PREFIX
    entity = entity_json(None, base, _OBSERVATIONS, SimpleNamespace(id=id_, **row), _PLAIN_QUERY)  # type: ignore[arg-type]
    return JSONResponse(entity, 201, headers={"Location": entity["@iot.selfLink"]})
