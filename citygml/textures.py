"""Finding a file's ParameterizedTextures without parsing its features twice.

PLATEAU writes ``app:appearanceMember`` after all city objects, so the texture index
(ring id → image and UVs) is needed before the features that use it are read. A byte
scan finds where the first appearance member starts; only the root start tag and the
bytes from there are parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 22
WINDOW = 1 << 20
TEXTURE = b"ParameterizedTexture"


@dataclass(frozen=True, slots=True)
class TextureSection:
    """Where to parse for textures: the root start tag, and the offset of the first appearance."""

    root_tag: bytes
    offset: int


def find_texture_section(open_stream: Callable[[], IO[bytes]]) -> TextureSection | None:
    """Locate the appearances of a file; None when it has no ParameterizedTexture.

    ``offset`` is 0 (parse everything) when textures sit inside features or the
    layout is not the usual one.
    """
    with open_stream() as stream:
        head = stream.read(CHUNK)
        root_tag = _root_start_tag(head)
        window, position = head, 0
        found = window.find(TEXTURE)
        while found < 0:
            chunk = stream.read(CHUNK)
            if not chunk:
                return None
            keep = window[-WINDOW:]
            position += len(window) - len(keep)
            window = keep + chunk
            found = window.find(TEXTURE)
    if root_tag is None:
        return TextureSection(b"", 0)
    before = window[:found]
    member = before.rfind(b"appearanceMember")
    if member < 0 or before.rfind(b"cityObjectMember") > member:
        return TextureSection(root_tag, 0)  # a feature's own appearance: read it all
    start = before.rfind(b"<", 0, member)
    if start < 0:
        return TextureSection(root_tag, 0)
    if before[start + 1 : start + 2] == b"/":  # the end of an earlier member: start after it
        start = before.find(b">", member) + 1
    return TextureSection(root_tag, position + start)


def _root_start_tag(head: bytes) -> bytes | None:
    """The bytes up to and including the CityModel start tag (XML declaration included)."""
    at = head.find(b"CityModel")
    end = head.find(b">", at) if at >= 0 else -1
    return head[: end + 1] if end >= 0 else None


class SectionStream:
    """A file-like view of ``root_tag`` followed by the stream from ``offset`` on."""

    def __init__(self, stream: IO[bytes], section: TextureSection) -> None:
        self._stream = stream
        self._head = section.root_tag if section.offset else b""
        if section.offset:
            stream.seek(section.offset)

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._stream.read(size)
