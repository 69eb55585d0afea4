"""i-UR (PLATEAU's urban-object extension) versions and hazard-risk attributes.

Three generations encode a building's flood risk differently (see REFERENCES.md):
1.4/1.5 as ``gen:genericAttributeSet`` named like ``…洪水浸水想定区域…``; 2.0 as
``uro:buildingDisasterRiskAttribute/uro:Building*RiskAttribute``; 3.x as
``uro:bldgDisasterRiskAttribute/uro:*RiskAttribute`` (adding ``duration``).
Water bodies of the hazard layers use ``uro:floodingRiskAttribute``.
All become :class:`citygml.model.HazardRisk`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from citygml.model import Code, HazardRisk
from citygml.xmlparse import local_name

_VERSION = re.compile(r"/iur/uro/(\d+(?:\.\d+)*)/?$")

#: Element containers that hold risk entries, in any generation.
RISK_CONTAINERS = frozenset(
    {"buildingDisasterRiskAttribute", "bldgDisasterRiskAttribute", "floodingRiskAttribute"}
)

_KIND_BY_FRAGMENT = (
    ("ReservoirFlooding", "reservoir"),
    ("InlandFlooding", "inland"),
    ("RiverFlooding", "river"),
    ("HighTide", "high_tide"),
    ("Tsunami", "tsunami"),
    ("LandSlide", "landslide"),
)

#: Words in a 2020-generation attribute-set name → risk kind (order matters: 内水 before 洪水).
_KIND_BY_SET_NAME = (
    ("内水浸水想定", "inland"),
    ("ため池", "reservoir"),
    ("高潮浸水想定", "high_tide"),
    ("津波浸水想定", "tsunami"),
    ("洪水浸水想定", "river"),
    ("土砂災害", "landslide"),
)

#: Decodes (codeSpace, code) into a Code.
Decoder = Callable[[str | None, str], Code]


def uro_version(namespace: str) -> str | None:
    """``2.0`` from ``https://www.geospatial.jp/iur/uro/2.0``; None if not an i-UR uro namespace."""
    match = _VERSION.search(namespace)
    return match.group(1) if match else None


def risk_kind(element_name: str) -> str | None:
    """Risk kind of an i-UR 2.0/3.x risk element name, e.g. ``BuildingTsunamiRiskAttribute``."""
    return next((kind for fragment, kind in _KIND_BY_FRAGMENT if fragment in element_name), None)


def set_name_kind(name: str) -> str | None:
    """Risk kind of a 2020-generation generic attribute set, from its name."""
    return next((kind for word, kind in _KIND_BY_SET_NAME if word in name), None)


def normalise_scale(code: Code | str | None) -> str | None:
    """``L1`` (planned scale, 計画規模) or ``L2`` (maximum assumed, 想定最大規模) where recognisable."""
    if code is None:
        return None
    texts = [code.code, code.label or ""] if isinstance(code, Code) else [code]
    for text in texts:
        if "L1" in text or "計画" in text:
            return "L1"
        if "L2" in text or "想定最大" in text:
            return "L2"
    # PLATEAU's scale codelists number L1 as 1 and L2 as 2 (e.g. RiverFloodingRiskAttribute_scale).
    first = texts[0].strip()
    return {"1": "L1", "2": "L2"}.get(first, first or None)


def parse_risk_entry(entry: etree._Element, kind: str, decode: Decoder) -> HazardRisk:
    """One i-UR 2.0/3.x risk element (``uro:RiverFloodingRiskAttribute`` etc.)."""
    fields: dict[str, object] = {}
    for child in entry:
        name = local_name(child.tag)
        text = (child.text or "").strip()
        if not name or not text:
            continue
        code_space = child.get("codeSpace")
        fields[name] = decode(code_space, text) if code_space else text
    rank = fields.get("rank") or fields.get("rankOrg")
    return HazardRisk(
        kind=kind,
        source=_code(fields.get("description")),
        scale=normalise_scale(_code(fields.get("scale"))),
        rank=_code(rank),
        depth_m=_number(fields.get("depth")),
        duration_h=_number(fields.get("duration")),
        admin_type=_code(fields.get("adminType")),
    )


def parse_generic_set(name: str, values: dict[str, str]) -> HazardRisk | None:
    """A 2020-generation risk from a generic attribute set ``name`` and its named values."""
    kind = set_name_kind(name)
    if kind is None:
        return None
    source = re.split(r"(洪水|津波|高潮|内水|土砂)", name, maxsplit=1)[0].strip() or None
    scale = values.get("規模") or ("L2" if "想定最大" in name else "L1" if "計画" in name else None)
    rank = values.get("浸水ランク") or values.get("ランク")
    return HazardRisk(
        kind=kind,
        source=Code(source, source) if source else None,
        scale=normalise_scale(scale),
        rank=Code(rank) if rank else None,
        depth_m=_number(values.get("浸水深")),
        duration_h=_number(values.get("継続時間")),
    )


def _code(value: object) -> Code | None:
    if value is None or isinstance(value, Code):
        return value
    return Code(str(value))


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return None if number in (-9999.0, 9999.0) else number
