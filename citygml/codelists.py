"""PLATEAU codelists: gml:Dictionary files that map codes to labels.

Attribute values carry ``codeSpace="../../codelists/Building_usage.xml"``; the dataset's
``codelists/`` folder holds one dictionary per name. Dictionaries are parsed on first use.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import PurePosixPath

from lxml import etree

from citygml.model import Code
from citygml.xmlparse import safe_parser

#: Opens a codelist by file name (``Building_usage.xml``); None when the dataset has none.
CodelistOpener = Callable[[str], bytes | None]


class Codelists:
    """Decodes coded values with a dataset's codelists, loading each dictionary once."""

    def __init__(self, opener: CodelistOpener | None = None) -> None:
        self._opener = opener
        self._tables: dict[str, dict[str, str] | None] = {}
        self._decoded: dict[tuple[str, str], Code] = {}
        self.missing: set[str] = set()
        self.broken: dict[str, str] = {}

    def decode(self, code_space: str | None, code: str) -> Code:
        """The code and its label (label None when the codelist or the code is unknown)."""
        key = (code_space or "", code)
        found = self._decoded.get(key)
        if found is None:
            table = self.table(PurePosixPath(code_space.replace("\\", "/")).name) if code_space else None
            found = Code(code, table.get(code) if table else None)
            if len(self._decoded) < 200_000:
                self._decoded[key] = found
        return found

    def table(self, name: str) -> dict[str, str] | None:
        """Code → label for one codelist file name, or None if the dataset lacks it."""
        if name not in self._tables:
            self._tables[name] = self._load(name)
        return self._tables[name]

    def _load(self, name: str) -> dict[str, str] | None:
        data = self._opener(name) if self._opener else None
        if data is None:
            self.missing.add(name)
            return None
        try:
            return parse_dictionary(data)
        except etree.XMLSyntaxError as exc:
            self.broken[name] = str(exc)
            return None


def parse_dictionary(data: bytes) -> dict[str, str]:
    """Code → label from a gml:Dictionary (order of name and description varies)."""
    root = etree.parse(io.BytesIO(data), safe_parser()).getroot()
    table: dict[str, str] = {}
    for definition in root.iter("{*}Definition"):
        code = label = None
        for child in definition:
            if not isinstance(child.tag, str):
                continue
            tag = child.tag.rpartition("}")[2]
            if tag == "name" and code is None:
                code = (child.text or "").strip()
            elif tag == "description":
                label = (child.text or "").strip()
        if code:
            table[code] = label if label is not None else code
    return table
