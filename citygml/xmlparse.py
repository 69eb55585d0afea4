"""XML parsing that resolves no entities, loads no DTD and fetches nothing.

Entity references stay unexpanded (so a billion-laughs bomb costs nothing) and
external entities are never read; this holds for every parser the reader makes.
"""

from __future__ import annotations

from typing import IO

from lxml import etree

SAFE_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def safe_parser() -> etree.XMLParser:
    """A whole-document parser for small files (codelists)."""
    return etree.XMLParser(**SAFE_OPTIONS)


def safe_iterparse(stream: IO[bytes], tags: tuple[str, ...]) -> etree.iterparse:
    """Streaming ``end`` events for ``tags``; recovers past errors, which land in ``error_log``."""
    return etree.iterparse(stream, events=("end",), tag=tags, recover=True, **SAFE_OPTIONS)


_LOCAL_NAMES: dict[object, str] = {}


def local_name(tag: object) -> str:
    """``Building`` from ``{http://...}Building``; '' for comments and entities (memoised)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if len(_LOCAL_NAMES) < 100_000:
            _LOCAL_NAMES[tag] = name
    return name
