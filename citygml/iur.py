"""i-UR (PLATEAU's urban-object extension) versions and hazard-risk attributes.

Four generations encode a building's flood risk differently (see REFERENCES.md):
1.4/1.5 as ``gen:genericAttributeSet`` named like ``…洪水浸水想定区域…``; 2.0 as
``uro:buildingDisasterRiskAttribute/uro:Building*RiskAttribute``; 3.x as
``uro:bldgDisasterRiskAttribute/uro:*RiskAttribute`` (adding ``duration``); 4.0 (CityGML 3.0)
as ``core:adeOfAbstractCityObject/urc:*RiskAttribute``. Water bodies of the hazard layers use
``uro:floodingRiskAttribute``. All become :class:`citygml.model.HazardRisk`, each rank with
the scheme (code list) it was read with.
"""

from __future__ import annotations

import re

from lxml import etree

from citygml.codelists import Codelists, list_name
from citygml.model import Code, HazardRisk
from citygml.ranks import RankScheme
from citygml.xmlparse import local_name

_VERSION = re.compile(r"/iur/(ur[a-z])/(\d+(?:\.\d+)*)/?$")

#: Element containers that hold risk entries, in any generation.
RISK_CONTAINERS = frozenset(
    {"buildingDisasterRiskAttribute", "bldgDisasterRiskAttribute", "floodingRiskAttribute"}
)

_KIND_BY_FRAGMENT = (
    ("ReservoirFlooding", "reservoir"),
    ("InlandFlood", "inland"),
    ("RiverFlooding", "river"),
    ("HighTide", "high_tide"),
    ("Tsunami", "tsunami"),
    ("LandSlide", "landslide"),
)

#: Words in a 2020-generation attribute-set name → risk kind (order matters: 内水 before 洪水).
#: Tokyo's 浸水予想区域図 (都市型水害対策連絡会, e.g. 城南地区河川流域) are river-basin flood maps;
#: PLATEAU's later Tokyo data encodes them as ``uro:RiverFloodingRiskAttribute``.
_KIND_BY_SET_NAME = (
    ("内水浸水想定", "inland"),
    ("ため池", "reservoir"),
    ("高潮浸水想定", "high_tide"),
    ("津波浸水想定", "tsunami"),
    ("洪水浸水想定", "river"),
    ("浸水予想区域", "river"),
    ("土砂災害", "landslide"),
)
#: The 2020 generation's rank is a plain generic attribute with no code list.
GENERIC_RANK = RankScheme("浸水ランク", (), "no list (i-UR 1.4 generic attribute)")


def uro_version(namespace: str) -> str | None:
    """``2.0`` from ``https://www.geospatial.jp/iur/uro/2.0`` (also urf/urc/urg); None otherwise."""
    match = _VERSION.search(namespace)
    return match.group(2) if match else None


def iur_version(namespaces: list[str]) -> str | None:
    """The i-UR version of a file's namespaces, the ``uro`` one first."""
    found = {m.group(1): m.group(2) for ns in namespaces if ns and (m := _VERSION.search(ns))}
    return found.get("uro") or next(iter(found.values()), None)


def risk_kind(element_name: str) -> str | None:
    """Risk kind of a risk element name, e.g. ``BuildingTsunamiRiskAttribute`` → ``tsunami``."""
    if not element_name.endswith("RiskAttribute"):
        return None
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


def parse_risk_entry(entry: etree._Element, kind: str, codelists: Codelists, generation: str) -> HazardRisk:
    """One i-UR 2.0–4.0 risk element (``uro:RiverFloodingRiskAttribute`` etc.).

    The rank is ``uro:rank`` (standard classes) or else ``uro:rankOrg`` (the issuer's own
    classes), decoded with the list its ``codeSpace`` names; without one, the standard
    ``<element>_<rank|rankOrg>`` list of the file's generation.
    """
    fields: dict[str, object] = {}
    rank: tuple[str, str, str | None] | None = None  # (field, code, codeSpace)
    for child in entry:
        name = local_name(child.tag)
        text = (child.text or "").strip()
        if not name or not text:
            continue
        code_space = child.get("codeSpace")
        if name in ("rank", "rankOrg"):
            if rank is None or name == "rank":
                rank = (name, text, code_space)
            continue
        fields[name] = codelists.decode(code_space, text, generation) if code_space else text
    scheme = rank_code = None
    if rank is not None:
        field, code, code_space = rank
        name = list_name(code_space) if code_space else f"{local_name(entry.tag)}_{field}"
        scheme = codelists.scheme(name, generation)
        rank_code = codelists.decode(name, code, generation)  # the label of ``scheme``, cached
    return HazardRisk(
        kind=kind,
        source=_code(fields.get("description")),
        scale=normalise_scale(_code(fields.get("scale"))),
        rank=rank_code,
        depth_m=_number(fields.get("depth")),
        duration_h=_number(fields.get("duration")),
        admin_type=_code(fields.get("adminType")),
        rank_scheme=scheme,
    )


def parse_generic_set(name: str, values: dict[str, str]) -> HazardRisk | None:
    """A 2020-generation risk from a generic attribute set ``name`` and its named values."""
    kind = set_name_kind(name)
    if kind is None:
        return None
    source = re.split(r"(洪水|津波|高潮|内水|土砂|浸水予想)", name, maxsplit=1)[0].strip() or None
    scale = values.get("規模") or ("L2" if "想定最大" in name else "L1" if "計画" in name else None)
    rank = values.get("浸水ランク") or values.get("ランク")
    return HazardRisk(
        kind=kind,
        source=Code(source, source) if source else None,
        scale=normalise_scale(scale),
        rank=Code(rank) if rank else None,
        depth_m=_number(values.get("浸水深")),
        duration_h=_number(values.get("継続時間")),
        rank_scheme=GENERIC_RANK if rank else None,
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
