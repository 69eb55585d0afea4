"""What a PLATEAU dataset holds, read straight from its XML with lxml (independently of ``citygml``).

Tests compare the City that ``twin convert`` writes with these: how many features of each
element, each building's measured height, usage code and lowest LOD1/LOD2 vertex.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

#: What a top-level element becomes in the City (the rule the issue states, written out here).
PART_OF = {"Building": "buildings", "Road": "roads", "LandUse": "land_use", "Bridge": "bridges",
           "ReliefFeature": "terrain", "WaterBody": "water"}
HAZARD_FOLDERS = {"fld", "tnm", "htd", "ifld", "rfld"}
UNKNOWN_HEIGHTS = (-9999.0, 9999.0)


@dataclass
class Member:
    folder: str  # udx/<folder>
    element: str  # local name
    gml_id: str
    node: etree._Element

    @property
    def part(self) -> str:
        if self.element == "WaterBody" and self.folder in HAZARD_FOLDERS:
            return "hazards"
        return PART_OF.get(self.element, "features")


def members(dataset: Path) -> list[Member]:
    """Every city object directly under a ``cityObjectMember`` of every .gml in ``dataset``."""
    found = []
    for gml in sorted(dataset.rglob("*.gml")):
        folder = gml.relative_to(dataset).parts[1]
        tree = etree.parse(str(gml), etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
        for node in tree.xpath("//*[local-name()='cityObjectMember']/*"):
            gml_id = next((v for k, v in node.attrib.items() if k.endswith("}id")), "")
            found.append(Member(folder, etree.QName(node).localname, gml_id, node))
    return found


def part_counts(dataset: Path) -> Counter:
    """Features per City part, each gml:id once."""
    seen: dict[str, str] = {}
    for m in members(dataset):
        seen.setdefault(m.gml_id, m.part)
    return Counter(seen.values())


def _text(node: etree._Element, name: str) -> str | None:
    found = node.xpath(f"./*[local-name()='{name}']")
    return found[0].text.strip() if found and found[0].text else None


def measured_height(building: etree._Element) -> float | None:
    """``bldg:measuredHeight`` (CityGML 2.0), else ``con:height/con:Height/con:value`` (3.0)."""
    value = _text(building, "measuredHeight")
    if value is None:
        found = building.xpath("./*[local-name()='height']/*[local-name()='Height']/*[local-name()='value']")
        value = found[0].text.strip() if found and found[0].text else None
    if value is None or float(value) in UNKNOWN_HEIGHTS:
        return None
    return float(value)


def usage_code(building: etree._Element) -> str | None:
    return _text(building, "usage")


def lowest_solid_height(building: etree._Element) -> float | None:
    """The lowest height of every posList under the building's LOD1/LOD2 geometry (not LOD0 roof edges)."""
    lows = []
    for element in building.iter():
        name = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if name != "posList" or not element.text:
            continue
        ancestors = [etree.QName(a).localname for a in element.iterancestors() if isinstance(a.tag, str)]
        if any(a.startswith("lod0") for a in ancestors):
            continue
        values = [float(v) for v in element.text.split()]
        lows.append(min(values[2::3]))
    return min(lows) if lows else None
