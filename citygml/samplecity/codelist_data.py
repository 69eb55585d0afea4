"""Codelists the sample city writes to ``codelists/``: PLATEAU's standard lists, plus its own.

The standard lists come from the set bundled with the reader (:func:`citygml.codelists.standard_lists`)
for the generation written; a list or code that generation's set lacks is taken from the
i-UR 3.2 set. Only what a real city would define itself is written here: the rivers and
hazard maps it names, and the few local codes and list variants listed below.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from citygml.codelists import standard_lists
from citygml.samplecity.hazards import ARAKAWA, INLAND_NAME, SHINGASHI

#: The bundled standard set each i-UR generation the sample city writes takes its lists from.
STANDARD_SET = {"3.1": "3.2", "2.0": "2.0", "1.4": "1.4"}
#: Standard lists the sample city's codes refer to, in every generation.
COMMON = (
    "Building_usage", "Building_class", "Common_localPublicAuthorities", "TransportationComplex_class",
    "Road_function", "Road_usage", "WaterBody_class", "WaterBody_function",
)
#: Standard flood-risk lists per generation (1.4 keeps risks in generic attributes, without lists).
RISK_LISTS: dict[str, tuple[str, ...]] = {
    "3.1": ("RiverFloodingRiskAttribute_rank", "RiverFloodingRiskAttribute_adminType",
            "RiverFloodingRiskAttribute_scale", "InlandFloodingRiskAttribute_rank"),
    "2.0": ("BuildingRiverFloodingRiskAttribute_rank", "BuildingRiverFloodingRiskAttribute_adminType",
            "BuildingRiverFloodingRiskAttribute_scale", "BuildingInlandFloodingRiskAttribute_rank",
            "WaterBodyRiverFloodingRiskAttribute_adminType"),
    "1.4": (),
}
RIVERS = [(ARAKAWA.code, ARAKAWA.name), (SHINGASHI.code, SHINGASHI.name)]
INLAND = [("1", INLAND_NAME)]
#: The city's own lists: the rivers and hazard maps it names; for 2.0 water bodies a rank of its
#: own (``rankOrg``: the issuer's classes, here the standard six) and the scale coded ``L1``/``L2``
#: as Kawasaki's 2.0 dataset codes it (the standard list codes them 1 and 2).
LOCAL: dict[str, dict[str, list[tuple[str, str]]]] = {
    "3.1": {"RiverFloodingRiskAttribute_description": RIVERS, "InlandFloodingRiskAttribute_description": INLAND},
    "2.0": {
        "BuildingRiverFloodingRiskAttribute_description": RIVERS,
        "BuildingInlandFloodingRiskAttribute_description": INLAND,
        "WaterBodyRiverFloodingRiskAttribute_description": RIVERS,
        "WaterBodyRiverFloodingRiskAttribute_rankOrg":
            list(standard_lists("2.0")["WaterBodyRiverFloodingRiskAttribute_rank"].items()),
        "WaterBodyRiverFloodingRiskAttribute_scale": [("L1", "L1（計画規模）"), ("L2", "L2（想定最大規模）")],
    },
    "1.4": {},
}
#: Codes the sample city writes that the standard lists lack: minor roads of unknown usage,
#: and (2020 generation, whose prefectures have a list of their own) its prefecture.
LOCAL_CODES: dict[str, dict[str, dict[str, str]]] = {
    "3.1": {"Road_usage": {"9": "不明"}},
    "2.0": {"Road_usage": {"9": "不明"}},
    "1.4": {"Road_usage": {"9": "不明"}, "Common_localPublicAuthorities": {"11": "埼玉県"}},
}


def codelists(iur: str) -> dict[str, list[tuple[str, str]]]:
    """Every codelist the dataset of this i-UR generation refers to, as (code, label) pairs."""
    return {name: list(table.items()) for name, table in _tables(iur).items()}


@cache
def _tables(iur: str) -> dict[str, dict[str, str]]:
    own, newest = standard_lists(STANDARD_SET[iur]), standard_lists("3.2")
    tables = {
        name: {**newest.get(name, {}), **own.get(name, {}), **LOCAL_CODES[iur].get(name, {})}
        for name in (*COMMON, *RISK_LISTS[iur])
    }
    return {**tables, **{name: dict(entries) for name, entries in LOCAL[iur].items()}}


def label(iur: str, name: str, code: str) -> str:
    """The label of ``code`` in codelist ``name``."""
    return _tables(iur)[name][code]


def dictionary_xml(name: str, entries: list[tuple[str, str]]) -> str:
    """A codelist as PLATEAU writes it: gml:Dictionary of gml:Definition (description, name)."""
    items = "".join(
        f'\t<gml:dictionaryEntry>\n\t\t<gml:Definition gml:id="id{k}">\n'
        f"\t\t\t<gml:description>{escape(text)}</gml:description>\n"
        f"\t\t\t<gml:name>{escape(code)}</gml:name>\n\t\t</gml:Definition>\n\t</gml:dictionaryEntry>\n"
        for k, (code, text) in enumerate(entries, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gml:Dictionary xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/gml '
        'http://schemas.opengis.net/gml/3.1.1/profiles/SimpleDictionary/1.0.0/gmlSimpleDictionaryProfile.xsd" '
        f'gml:id="cl_{name}">\n\t<gml:name>{name}</gml:name>\n{items}</gml:Dictionary>\n'
    )


def write_codelists(folder: Path, iur: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entries in sorted(codelists(iur).items()):
        path = folder / f"{name}.xml"
        path.write_text(dictionary_xml(name, entries), encoding="utf-8")
        written.append(path)
    return written
