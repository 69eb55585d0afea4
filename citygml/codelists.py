"""PLATEAU codelists: gml:Dictionary files that map codes to labels.

Attribute values carry ``codeSpace="../../codelists/Building_usage.xml"``; the dataset's
``codelists/`` folder holds one dictionary per name. A list the dataset lacks (or a dataset
without ``codelists/``) is taken from PLATEAU's standard lists bundled with this package
for the file's i-UR generation (``standard_codelists/iur-*.json``; sources in its README),
and :attr:`Codelists.bundled` records which lists came from there. Dictionaries are parsed
on first use.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import cache, lru_cache
from importlib import resources
from pathlib import PurePosixPath

from lxml import etree

from citygml.model import Code
from citygml.ranks import RankScheme
from citygml.xmlparse import safe_parser

#: Opens a codelist by file name (``Building_usage.xml``); None when the dataset has none.
CodelistOpener = Callable[[str], bytes | None]
#: The bundled standard sets, one per i-UR generation the reader knows.
GENERATIONS = ("1.4", "2.0", "3.2", "4.0")
#: Names data uses for a standard list published under another name. 標準製品仕様書 第5.0版
#: (uro:PublicSurveyDataQualityAttribute) names ``PublicSurveyDataQualityAttribute_publicSurveySrcDesc.xml``;
#: the i-UR 3.2 and 4.0 lists publish the same codes as ``…_geometrySrcDesc``.
ALIASES = {"PublicSurveyDataQualityAttribute_publicSurveySrcDesc": "PublicSurveyDataQualityAttribute_geometrySrcDesc"}


def bundled_generation(iur_version: str | None, citygml_version: str | None = None) -> str:
    """The bundled set for a file: i-UR 1.x → 1.4, 2.x → 2.0, 3.x → 3.2, 4.x → 4.0.

    A file without an i-UR namespace (a DEM, say) takes the newest set of its CityGML
    version: 4.0 for CityGML 3.0, else 3.2.
    """
    major = (iur_version or "").split(".")[0]
    by_major = {g.split(".")[0]: g for g in GENERATIONS}
    if major in by_major:
        return by_major[major]
    return "4.0" if (citygml_version or "").startswith("3") else "3.2"


@cache
def standard_lists(generation: str) -> dict[str, dict[str, str]]:
    """Name → (code → label) of PLATEAU's standard codelists of one i-UR generation."""
    if generation not in GENERATIONS:
        raise ValueError(f"no bundled codelists for i-UR {generation} (have {', '.join(GENERATIONS)})")
    text = resources.files("citygml").joinpath("standard_codelists", f"iur-{generation}.json").read_text("utf-8")
    return json.loads(text)["lists"]


@cache
def _folded(generation: str) -> dict[str, str]:
    """Lower-case name → name of the bundled lists (codeSpaces do not always match the case)."""
    return {name.lower(): name for name in standard_lists(generation)}


@lru_cache(maxsize=4096)
def list_name(code_space: str) -> str:
    """``Building_usage`` from ``../../codelists/Building_usage.xml`` (or a Windows path)."""
    return PurePosixPath(code_space.replace("\\", "/")).stem


class Codelists:
    """Decodes coded values with a dataset's codelists, else the bundled standard ones."""

    def __init__(self, opener: CodelistOpener | None = None) -> None:
        self._opener = opener
        self._tables: dict[str, dict[str, str] | None] = {}
        self._decoded: dict[tuple[str, str, str], Code] = {}
        self._schemes: dict[tuple[str, str], RankScheme] = {}
        #: Names of lists found neither in the dataset nor in the bundled set: codes stay undecoded.
        self.missing: set[str] = set()
        #: Generation → names of the lists taken from the bundled standard set.
        self.bundled: dict[str, set[str]] = {}
        self.broken: dict[str, str] = {}
        #: Every list the dataset could not give, in the order first met: ``(what, name)`` where
        #: ``what`` is the bundled generation used, ``missing`` or ``unreadable``.
        self.fallbacks: list[tuple[str, str]] = []

    def decode(self, code_space: str | None, code: str, generation: str = "3.2") -> Code:
        """The code and its label (label None when the codelist or the code is unknown)."""
        key = (generation, code_space or "", code)
        found = self._decoded.get(key)
        if found is None:
            table = self.table(list_name(code_space), generation) if code_space else None
            found = Code(code, table.get(code) if table else None)
            if len(self._decoded) < 200_000:
                self._decoded[key] = found
        return found

    def table(self, name: str, generation: str = "3.2") -> dict[str, str] | None:
        """Code → label for one list: the dataset's, else the bundled one; None if neither has it."""
        return self._lookup(name, generation)[0]

    def scheme(self, name: str, generation: str = "3.2") -> RankScheme:
        """The rank scheme of list ``name``: its classes and where they came from."""
        key = (name, generation)
        found = self._schemes.get(key)
        if found is None:
            table, origin = self._lookup(name, generation)
            found = RankScheme(name, tuple(table.items()) if table else (), origin)
            self._schemes[key] = found
        return found

    def _lookup(self, name: str, generation: str) -> tuple[dict[str, str] | None, str]:
        if name not in self._tables:
            self._tables[name] = self._load(name)
        table = self._tables[name]
        if table is not None:
            return table, "dataset"
        lists = standard_lists(generation)
        standard = lists.get(name) or lists.get(ALIASES.get(name, "")) or lists.get(_folded(generation).get(name.lower(), ""))
        if standard is None:
            if name not in self.missing:
                self.missing.add(name)
                self.fallbacks.append(("missing", name))
            return None, "missing"
        names = self.bundled.setdefault(generation, set())
        if name not in names:
            names.add(name)
            self.fallbacks.append((generation, name))
        return standard, f"bundled i-UR {generation}"

    def _load(self, name: str) -> dict[str, str] | None:
        data = self._opener(f"{name}.xml") if self._opener else None
        if data is None:
            return None
        try:
            return parse_dictionary(data)
        except etree.XMLSyntaxError as exc:
            self.broken[name] = str(exc)
            self.fallbacks.append(("unreadable", name))
            return None

    def notes(self, since: int = 0) -> list[str]:
        """Sentences on the lists the dataset lacked (those first met after ``fallbacks[since]``)."""
        groups: dict[str, list[str]] = {}
        for what, name in self.fallbacks[since:]:
            groups.setdefault(what, []).append(name)
        notes = [f"codelists unreadable in the dataset ({self.broken[n]}): {n}" for n in groups.pop("unreadable", [])]
        missing = groups.pop("missing", [])
        notes.extend(
            f"codelists the dataset lacks, taken from PLATEAU's standard i-UR {generation} lists: {', '.join(sorted(names))}"
            for generation, names in sorted(groups.items())
        )
        if missing:
            notes.append(f"codelists found nowhere, codes left undecoded: {', '.join(sorted(missing))}")
        return notes


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
