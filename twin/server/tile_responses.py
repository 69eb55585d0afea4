"""Repeat tile requests answered from memory, before routing (ASGI middleware).

A 3D Tiles client asks for the same few hundred files over and over; routing, dependency
resolution and the worker-thread hop of a FastAPI route cost several times more than
sending the bytes. The first ``GET /tiles/...`` of a file goes through the route
(``twin.server.routes.tiles``: path checks, city lookup, roles) and its complete 200 answer is
kept, with the real file it came from; later plain GETs of the same URL (same gzip choice)
are replayed as long as that file's mtime and size are unchanged. Anything else (Range,
conditional requests, errors, large files streamed in parts) always goes through the route.
Outer middlewares (security headers, gzip) still see every answer.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where ``twin.server.static.serve_file`` notes the file behind an answer: (path, mtime_ns, size).
SERVED_FILE = "twin.served_file"
PREFIX = "/tiles/"
#: Requests with these headers need the route's own answer (206, 304, 412).
_BYPASS = (b"range", b"if-none-match", b"if-modified-since", b"if-range")


@dataclass(frozen=True)
class _Answer:
    file: str
    stamp: tuple[int, int]
    headers: list[tuple[bytes, bytes]]
    body: bytes


class TileResponses:
    """ASGI middleware holding up to ``max_bytes`` of tile answers."""

    def __init__(self, app: ASGIApp, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._answers: OrderedDict[tuple[str, bool], _Answer] = OrderedDict()
        self._size = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PREFIX) \
                or scope["query_string"] or any(name in _BYPASS for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        key = (scope["path"], any(n == b"accept-encoding" and b"gzip" in v for n, v in scope["headers"]))
        answer = self._answers.get(key)
        if answer is not None and _stamp(answer.file) == answer.stamp:
            self._answers.move_to_end(key)
            await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
            await send({"type": "http.response.body", "body": answer.body})
            return
        if answer is not None:
            self._forget(key)
        start: list[Message] = []
        complete = [False]

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)
            elif message["type"] == "http.response.body" and len(start) == 1 and start[0]["status"] == 200:
                complete[0] = not message.get("more_body", False) and not complete[0]
                if complete[0] and SERVED_FILE in scope:
                    self._keep(key, scope[SERVED_FILE], list(start[0]["headers"]), message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)

    def _keep(self, key: tuple[str, bool], served: tuple[str, int, int], headers: list, body: bytes) -> None:
        file, mtime_ns, size = served
        if len(body) > self.max_bytes // 16:
            return
        self._forget(key)
        self._answers[key] = _Answer(file, (mtime_ns, size), headers, body)
        self._size += len(body)
        while self._size > self.max_bytes:
            _, dropped = self._answers.popitem(last=False)
            self._size -= len(dropped.body)

    def _forget(self, key: tuple[str, bool]) -> None:
        dropped = self._answers.pop(key, None)
        if dropped is not None:
            self._size -= len(dropped.body)


def _stamp(file: str) -> tuple[int, int] | None:
    try:
        info = os.stat(file)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size
