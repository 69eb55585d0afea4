"""Files served from a folder without ever leaving it: types, ETag/304, Range, gzip.

Refused: ``..`` or ``.`` segments (also when percent-encoded: the router decodes them
first), absolute paths, backslashes, NUL, hidden names, extensions not on the list, and
anything whose real path (symlinks resolved) is outside the folder.
"""

from __future__ import annotations

import gzip
import hashlib
import stat
import threading
from collections import OrderedDict
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response

from twin.server.problems import Problem
from twin.server.tile_responses import SERVED_FILE

MEDIA_TYPES = {
    ".json": "application/json", ".geojson": "application/geo+json",
    ".glb": "model/gltf-binary", ".gltf": "model/gltf+json", ".bin": "application/octet-stream",
    ".subtree": "application/octet-stream",
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
    ".ktx2": "image/ktx2", ".svg": "image/svg+xml", ".gif": "image/gif",
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8",
    ".ttf": "font/ttf", ".woff": "font/woff", ".woff2": "font/woff2",
}
TILE_SUFFIXES = frozenset({".json", ".glb", ".gltf", ".bin", ".subtree", ".png", ".jpg", ".jpeg",
                           ".webp", ".ktx2"})
_COMPRESSIBLE = frozenset({".json", ".geojson", ".gltf", ".html", ".js", ".mjs", ".css", ".svg",
                           ".xml", ".txt", ".wasm"})
_GZIP_LIMIT = 16 * 1024 * 1024
#: Files up to this size are answered from memory: no file handle and no worker thread per
#: request, which is most of the cost of a tile request (bench/load.py).
_MEMORY_FILE_LIMIT = 2 * 1024 * 1024


def safe_file(root: Path, relative: str, suffixes: frozenset[str] | None = None) -> Path:
    """The regular file ``relative`` names inside ``root``, or a 400/404 Problem."""
    parts = relative.split("/")
    if (not relative or relative.startswith("/") or "\\" in relative or "\0" in relative
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)):
        raise Problem(400, f"Refused path {relative!r}: only plain relative names are served.", "bad-path")
    path = root.joinpath(*parts)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise Problem(404, f"No file {relative!r} here.", "not-found")
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(root.resolve(strict=True))
        regular = stat.S_ISREG(real.stat().st_mode)
    except (OSError, RuntimeError):
        inside = regular = False
    if not (inside and regular):
        raise Problem(404, f"No file {relative!r} here.", "not-found")
    return real


def serve_file(request: Request, path: Path, cache_control: str) -> Response:
    """``path`` with validators and caching headers; 304, 206 and gzip as the request allows."""
    info = path.stat()
    request.scope[SERVED_FILE] = (str(path), info.st_mtime_ns, info.st_size)
    suffix = path.suffix.lower()
    media_type = MEDIA_TYPES.get(suffix, "application/octet-stream")
    etag = '"' + hashlib.sha256(f"{info.st_mtime_ns}-{info.st_size}".encode()).hexdigest()[:32] + '"'
    zipped = (suffix in _COMPRESSIBLE and info.st_size <= _GZIP_LIMIT and "range" not in request.headers
              and "gzip" in request.headers.get("accept-encoding", ""))
    if zipped:
        etag = etag[:-1] + '-gz"'
    headers = {"ETag": etag, "Last-Modified": formatdate(info.st_mtime, usegmt=True),
               "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if _not_modified(request, etag, info.st_mtime):
        return Response(status_code=304, headers=headers)
    if zipped:
        body = _gzipped(str(path), info.st_mtime_ns, info.st_size)
        return Response(body, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    if "range" in request.headers:
        _check_range(request.headers["range"], info.st_size)
    elif info.st_size <= _MEMORY_FILE_LIMIT:
        return Response(_CONTENTS.get(str(path), info.st_mtime_ns, info.st_size), media_type=media_type,
                        headers={**headers, "Accept-Ranges": "bytes"})
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=info)


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            return int(mtime) <= parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
    return False


def _check_range(header: str, size: int) -> None:
    """Raise 416 unless at least one byte range of ``header`` overlaps the file."""
    unit, _, ranges = header.partition("=")
    if unit.strip().lower() != "bytes" or not ranges.strip():
        raise _unsatisfiable(header, size)
    for item in ranges.split(","):
        start, dash, end = item.strip().partition("-")
        try:
            if not dash or (not start and not end):
                raise ValueError
            if not start:
                satisfiable = int(end) > 0 and size > 0
            else:
                satisfiable = int(start) < size and (not end or int(end) >= int(start))
        except ValueError:
            raise _unsatisfiable(header, size) from None
        if satisfiable:
            return
    raise _unsatisfiable(header, size)


def _unsatisfiable(header: str, size: int) -> Problem:
    return Problem(416, f"Range {header!r} does not fit a file of {size} bytes.", "range-not-satisfiable",
                   headers={"Content-Range": f"bytes */{size}"})


class FileCache:
    """Contents of recently served files, keyed by path, mtime and size; at most ``max_bytes`` held."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._held: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, path: str, mtime_ns: int, size: int) -> bytes:
        key = (path, mtime_ns, size)
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
        with open(path, "rb") as handle:
            body = handle.read()
        with self._lock:
            if key not in self._held:
                self._held[key] = body
                self._size += len(body)
                while self._size > self.max_bytes:
                    self._size -= len(self._held.popitem(last=False)[1])
        return body


_CONTENTS = FileCache(256 * 1024 * 1024)


@lru_cache(maxsize=64)
def _gzipped(path: str, mtime_ns: int, size: int) -> bytes:
    # Keyed by mtime and size so a rewritten file is compressed again.
    with open(path, "rb") as handle:
        return gzip.compress(handle.read(), compresslevel=6, mtime=0)
