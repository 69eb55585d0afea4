"""Streaming CityGML reader: one :class:`Feature` per ``core:cityObjectMember``.

``lxml.etree.iterparse`` hands over each member when it closes; it is turned into a
record and then cleared, with everything before it, so memory does not grow with the
file. Textures live in ``app:appearanceMember`` after the features, so a textured file
gets a quick first pass that indexes texture coordinates by ring id.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
from lxml import etree
from pyproj import Transformer

from citygml import iur
from citygml.codelists import Codelists, bundled_generation
from citygml.crs import GEOGRAPHIC_2D, SourceCRS, parse_srs_name
from citygml.errors import CityGMLError, ReadWarning, WarningLog
from citygml.geometry import CoordinateFix, GeometryError, GeometryReader, gml_id, parse_numbers
from citygml.model import Feature, Geometry, HazardRisk, Surface, Texture
from citygml.textures import SectionStream, TextureSection, find_texture_section
from citygml.xmlparse import local_name, safe_iterparse

MEMBER_TAGS = ("{*}cityObjectMember", "{*}featureMember")
#: Top-level elements: city objects and the appearances that follow them.
TOP_LEVEL_TAGS = (*MEMBER_TAGS, "{*}appearanceMember")
#: Properties holding semantic surfaces: CityGML 2.0 ``boundedBy``, 3.0 ``boundary``, traffic
#: areas, and the installations and construction elements whose geometry is part of the outside.
_SEMANTIC_CONTAINERS = frozenset({
    "boundedBy", "boundary", "trafficArea", "auxiliaryTrafficArea", "outerBuildingInstallation",
    "buildingInstallation", "outerBridgeConstruction", "outerBridgeInstallation", "bridgeInstallation",
    "bridgeConstructiveElement", "outerTunnelInstallation", "tunnelInstallation",
})
#: Properties holding nested city objects (2.0 parts; 3.0 parts, road sections and traffic spaces).
_PART_CONTAINERS = frozenset({
    "consistsOfBuildingPart", "consistsOfBridgePart", "consistsOfTunnelPart",
    "buildingPart", "bridgePart", "tunnelPart", "section", "intersection", "trafficSpace", "auxiliaryTrafficSpace",
})
#: CityGML 2.0 generic attributes (``gen:stringAttribute name=…``); 3.0 writes them capitalised.
_GENERIC_VALUE_TAGS = frozenset(
    {"stringAttribute", "intAttribute", "doubleAttribute", "measureAttribute", "dateAttribute", "uriAttribute",
     "codeAttribute"}
)
_INTEGER_ATTRIBUTES = frozenset({"storeysAboveGround", "storeysBelowGround"})
#: gYear attributes; PLATEAU writes an unknown year as 0001 (標準製品仕様書 4.1.5.5).
_YEAR_ATTRIBUTES = frozenset({"yearOfConstruction", "yearOfDemolition"})
#: CityGML 3.0 names for 2.0 attributes: dates of construction (xs:date) stand for the years.
_RENAMED_3_0 = {"dateOfConstruction": "yearOfConstruction", "dateOfDemolition": "yearOfDemolition"}
#: Element name → PLATEAU package code, for files whose path does not say.
ELEMENT_TYPES = {
    "Building": "bldg", "BuildingPart": "bldg", "Road": "tran", "Railway": "tran", "Track": "tran",
    "Square": "tran", "Waterway": "tran", "ReliefFeature": "dem", "TINRelief": "dem", "Bridge": "brid",
    "BridgePart": "brid", "WaterBody": "wtr", "LandUse": "luse", "CityFurniture": "frn",
    "SolitaryVegetationObject": "veg", "PlantCover": "veg", "Tunnel": "tun", "TunnelPart": "tun",
    "OtherConstruction": "cons", "GenericCityObject": "gen", "CityObjectGroup": "grp",
}
#: GML coordinate elements: never an attribute value.
_COORDINATES = frozenset({"posList", "pos", "coordinates"})
#: libxml2 keeps this many errors of one document (measured with lxml 5 / libxml2 2.14).
XML_ERROR_CAP = 100
#: Errors of the byte stream under the parser (a damaged zip member, a failing disk).
STREAM_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)


@dataclass(slots=True)
class FileInfo:
    """What reading one file found out about it.

    ``codelists`` is the bundled standard set its codes fall back on (``1.4``, ``2.0``,
    ``3.2`` or ``4.0``, after its i-UR version).
    """

    source: str
    crs: SourceCRS | None = None
    iur_version: str | None = None
    citygml_version: str | None = None
    codelists: str | None = None
    features: int = 0
    log: WarningLog = field(init=False)

    def __post_init__(self) -> None:
        self.log = WarningLog(self.source)

    def warn(self, message: str, line: int | None = None) -> None:
        self.log.add(message, line)

    @property
    def warnings(self) -> list[ReadWarning]:
        """One warning per distinct message, with how often and where it first occurred."""
        return self.log.entries()


class FeatureReader:
    """Iterates the features of one CityGML stream; :attr:`info` fills in as it goes.

    ``open_stream`` is called once per pass (twice for a textured file). ``textures``
    maps image URIs relative to the file to dataset-relative paths via ``image_base``.
    """

    def __init__(
        self,
        open_stream: Callable[[], IO[bytes]],
        source: str,
        type_code: str | None = None,
        codelists: Codelists | None = None,
        textures: bool = True,
        image_base: str = "",
    ) -> None:
        self._open = open_stream
        self.info = FileInfo(source)
        self._type = type_code
        self._codelists = codelists or Codelists()
        self._want_textures = textures
        self._image_base = image_base
        self._textures: dict[str, Texture] | None = None
        self._geometry: GeometryReader | None = None
        self._generation = "3.2"

    def __iter__(self) -> Iterator[Feature]:
        since = len(self._codelists.fallbacks)
        try:
            section = find_texture_section(self._open) if self._want_textures else None
            self._textures = self._read_textures(section) if section is not None else None
            with self._open() as stream:
                context = safe_iterparse(stream, TOP_LEVEL_TAGS)
                yield from self._members(context)
        except STREAM_ERRORS as exc:
            raise CityGMLError(self.info.source, f"cannot be read: {exc}") from None
        finally:
            for note in self._codelists.notes(since):
                self.info.warn(note)

    # -- passes -------------------------------------------------------------------

    def _members(self, context: etree.iterparse) -> Iterator[Feature]:
        # An XML error belongs to the member whose lines it falls in. Errors are logged as
        # the parser reads ahead, so each feature is held back until the next one arrives.
        errors = _ErrorLog(context)
        pending: tuple[Feature | None, int, int] | None = None
        try:
            for _, member in context:
                if local_name(member.tag) == "appearanceMember":
                    _release(member)  # indexed before, in _read_textures
                    continue
                if pending is None:
                    self._read_root(member.getroottree().getroot())
                else:
                    yield from self._settle(pending, errors, to_end=False)
                pending = (self._member_feature(member), member.sourceline or 0, _last_line(member))
                _release(member)
        except etree.XMLSyntaxError as exc:
            self.info.warn(f"XML error, rest of file skipped: {exc.msg}", exc.lineno)
        if pending is not None:
            yield from self._settle(pending, errors, to_end=True)
        self._warn_errors(errors.take(lambda line: True))
        if errors.seen >= XML_ERROR_CAP:
            self.info.warn(f"the XML parser (libxml2) reports only the first {XML_ERROR_CAP} errors of a file; "
                           "later ones are not counted")
        root = _root(context)
        if root is None or local_name(root.tag) != "CityModel":
            what = f"root element is <{local_name(root.tag)}>" if root is not None else "no XML content"
            line = root.sourceline if root is not None else _first_line(self.info)
            raise CityGMLError(self.info.source, f"not a CityGML file ({what})", line)
        if pending is None:
            self._read_root(root)

    def _settle(self, pending: tuple[Feature | None, int, int], errors: _ErrorLog, to_end: bool) -> Iterator[Feature]:
        """Yield a held-back feature unless a fatal XML error fell inside its lines."""
        feature, start, end = pending
        inside = errors.take(lambda line: start <= line and (to_end or line <= end))
        self._warn_errors(inside)
        if feature is None:
            return
        if any(e.level_name == "FATAL" for e in inside):
            self.info.warn(f"{feature.element} {feature.gml_id} skipped: its XML is broken", start)
            return
        self.info.features += 1
        yield feature

    def _warn_errors(self, errors: list) -> None:
        for error in errors:
            self.info.warn(f"XML error: {error.message.strip()}", error.line)

    def _member_feature(self, member: etree._Element) -> Feature | None:
        element = next((c for c in member if isinstance(c.tag, str)), None)
        if element is None:
            return None
        try:
            return self._feature(element, member.sourceline)
        except (GeometryError, ValueError) as exc:
            self.info.warn(f"{local_name(element.tag)} {gml_id(element) or ''} skipped: {exc}", member.sourceline)
            return None

    def _read_textures(self, section: TextureSection) -> dict[str, Texture]:
        """Ring id → texture, from every ParameterizedTexture in the file."""
        textures: dict[str, Texture] = {}
        with self._open() as stream:
            context = safe_iterparse(SectionStream(stream, section), TOP_LEVEL_TAGS)
            try:
                for _, member in context:
                    for texture in member.iter("{*}ParameterizedTexture"):
                        self._index_texture(texture, textures)
                    _release(member)
            except etree.XMLSyntaxError as exc:
                self.info.warn(f"XML error in appearances, later textures skipped: {exc.msg}", exc.lineno)
        return textures

    def _index_texture(self, texture: etree._Element, textures: dict[str, Texture]) -> None:
        uri = (texture.findtext("{*}imageURI") or "").strip()
        if not uri or "://" in uri or uri.startswith("/"):
            if uri:
                self.info.warn(f"texture image {uri!r} ignored: only relative paths are read", texture.sourceline)
            return
        image = f"{self._image_base}{uri}"
        for coord_list in texture.iter("{*}TexCoordList"):
            for ring, coords in _ring_coordinates(coord_list):
                try:
                    values = parse_numbers(coords.text or "")
                except GeometryError:
                    values = np.empty(1)
                if not ring or values.size % 2:
                    self.info.warn("texture coordinates without a ring or with odd length skipped", coords.sourceline)
                    continue
                uv = values.reshape(-1, 2)
                if len(uv) > 1 and np.array_equal(uv[0], uv[-1]):
                    uv = uv[:-1]
                textures[ring] = Texture(image, uv)

    # -- the file's root ------------------------------------------------------------

    def _read_root(self, root: etree._Element) -> None:
        namespaces = [uri for uri in (root.nsmap or {}).values() if uri]
        self.info.iur_version = iur.iur_version(namespaces)
        for uri in namespaces:
            if re.fullmatch(r"http://www\.opengis\.net/citygml/(\d\.\d)", uri):
                self.info.citygml_version = uri.rsplit("/", 1)[1]
        self._generation = self.info.codelists = bundled_generation(self.info.iur_version, self.info.citygml_version)
        envelope = root.find("{*}boundedBy/{*}Envelope")
        srs = envelope.get("srsName") if envelope is not None else None
        if srs is None:
            self.info.warn("no srsName on the CityModel envelope; assuming EPSG:6697 (lat lon h)")
            srs = "http://www.opengis.net/def/crs/EPSG/0/6697"
        self.info.crs = parse_srs_name(srs)
        if self.info.crs is None:
            raise CityGMLError(self.info.source, f"unsupported srsName {srs!r}", envelope.sourceline)
        dimension = int(envelope.get("srsDimension") or self.info.crs.dimension) if envelope is not None else 3
        self._geometry = GeometryReader(dimension, _coordinate_fix(self.info.crs, dimension), self._textures)

    # -- one feature ----------------------------------------------------------------

    def _feature(self, element: etree._Element, line: int | None) -> Feature:
        name = local_name(element.tag)
        feature = Feature(
            gml_id=gml_id(element) or "",
            type=self._type or ELEMENT_TYPES.get(name, name.lower()),
            element=name,
            source=self.info.source,
            line=line,
        )
        problems: list[str] = []
        self._fill(feature, element, problems)
        for problem in problems:
            self.info.warn(f"{name} {feature.gml_id}: {problem}", line)
        return feature

    def _fill(self, feature: Feature, element: etree._Element, problems: list[str]) -> None:
        hrefs: list[tuple[int, str, list[str]]] = []
        attributes = feature.attributes
        for child in element:
            name = local_name(child.tag)
            if not name:
                continue
            if len(child) == 0:  # a plain attribute: the common case, kept short
                text = child.text
                if text is not None and (text := text.strip()):
                    name = _RENAMED_3_0.get(name, name)
                    _set(attributes, name, self._value(child, name, text))
            elif name[:3] == "lod" and name[3:4].isdigit():
                self._geometry_property(feature, child, name, problems, hrefs)
            elif name in _SEMANTIC_CONTAINERS:
                for lod, surface in self._geometry.surfaces(child, problems):
                    _add_surface(feature, lod, surface)
            elif name in _PART_CONTAINERS:
                for part_element in child:
                    if isinstance(part_element.tag, str):
                        part = Feature(gml_id(part_element) or "", feature.type, local_name(part_element.tag),
                                       source=feature.source, line=part_element.sourceline)
                        self._fill(part, part_element, problems)
                        feature.parts.append(part)
            elif name == "reliefComponent":
                self._relief(feature, child, problems)
            elif name in iur.RISK_CONTAINERS:
                feature.risks.extend(self._risks(child))
            elif name[:5] == "adeOf":
                self._ade(feature, child, name, problems, hrefs)
            elif name == "genericAttributeSet" or name in _GENERIC_VALUE_TAGS:
                self._generic(feature, child)
            elif name == "genericAttribute":  # CityGML 3.0: one attribute element inside
                for generic in child:
                    if isinstance(generic.tag, str):
                        self._generic(feature, generic)
            elif name == "height" and self._height(attributes, child):
                continue
            elif name == "appearance":
                continue  # indexed before, in _read_textures
            else:
                self._attribute(feature, child, name, problems, hrefs)
        for lod, role, links in hrefs:
            self._resolve_links(feature, lod, role, links, problems)

    def _geometry_property(self, feature: Feature, prop: etree._Element, name: str, problems: list[str],
                           hrefs: list[tuple[int, str, list[str]]]) -> None:
        """A ``lod<N><Role>`` property: polygons, lines and points, or xlinks resolved after the feature."""
        lod, role = int(name[3]), name[4:]
        if role == "ImplicitRepresentation":
            self.info.warn(f"{name}: implicit geometry (a shared shape placed by a matrix) is not read", prop.sourceline)
            return
        reported = len(problems)
        polygons, links, curves, points = self._geometry.read(prop, problems)
        if links:
            hrefs.append((lod, role, links))
        if polygons or curves or points is not None:
            surfaces = [Surface("", polygons)] if polygons else []
            feature.geometries.append(Geometry(lod, role, surfaces, curves=curves, points=points))
        elif not links and len(problems) == reported:
            problems.append(f"{name} holds no geometry the reader knows")

    def _relief(self, feature: Feature, component: etree._Element, problems: list[str]) -> None:
        for relief in component:
            if not isinstance(relief.tag, str):
                continue
            lod_text = relief.findtext("{*}lod")
            lod = int(lod_text) if lod_text and lod_text.strip().isdigit() else 1
            try:
                triangles = self._geometry.tin(relief)
            except GeometryError as exc:
                problems.append(f"relief {gml_id(relief) or ''} skipped: {exc}")
                continue
            if len(triangles):
                feature.geometries.append(Geometry(lod, "TIN", triangles=triangles))

    def _resolve_links(self, feature: Feature, lod: int, role: str, links: list[str], problems: list[str]) -> None:
        by_id = {p.id: p for g in feature.geometries for p in g.polygons() if p.id}
        found = [by_id[link] for link in links if link in by_id]
        broken = [link for link in links if link not in by_id]
        if broken:
            problems.append(f"{len(broken)} broken xlink(s) in lod{lod}{role}, e.g. #{broken[0]}")
        if found:
            feature.geometries.append(Geometry(lod, role, [Surface("", found)]))

    # -- attributes -----------------------------------------------------------------

    def _attribute(self, feature: Feature, element: etree._Element, path: str, problems: list[str],
                   hrefs: list[tuple[int, str, list[str]]]) -> None:
        """Leaf values under ``element``, keyed by their path of property names.

        A geometry property nested in an attribute (i-UR's ``DmGeometricAttribute/lod0Geometry``)
        becomes a geometry of the feature; coordinates anywhere else are reported, not stored.
        """
        attributes = feature.attributes
        stack = [(element, path, "")]
        while stack:
            node, node_path, node_name = stack.pop()
            if len(node) == 0:
                text = node.text
                if text is not None and (text := text.strip()):
                    if node_name in _COORDINATES:
                        problems.append(f"coordinates in {node_path} not read (not a geometry property)")
                    else:
                        _set(attributes, node_path, self._value(node, node_path, text))
                continue
            for child in reversed(node):
                name = local_name(child.tag)
                if not name:
                    continue
                if name[:3] == "lod" and name[3:4].isdigit() and len(child):
                    self._geometry_property(feature, child, name, problems, hrefs)
                    continue
                # i-UR's class-level wrappers (BuildingDetailAttribute) stay out of the path.
                stack.append((child, node_path if name[0].isupper() else f"{node_path}/{name}", name))

    def _value(self, element: etree._Element, path: str, text: str) -> object:
        attrib = element.attrib
        code_space = attrib.get("codeSpace")
        if code_space:
            return self._codelists.decode(code_space, text, self._generation)
        if "uom" in attrib or path == "measuredHeight":
            return _measure(text)
        if path in _INTEGER_ATTRIBUTES:
            number = _measure(text)
            return None if number is None else int(number)
        if path in _YEAR_ATTRIBUTES:
            return _year(text)
        return text

    def _ade(self, feature: Feature, hook: etree._Element, hook_name: str, problems: list[str],
             hrefs: list[tuple[int, str, list[str]]]) -> None:
        """A CityGML 3.0 ADE hook (``adeOfAbstractBuilding``, ``adeOfAbstractCityObject``, …).

        Its i-UR 4.0 class elements are keyed as i-UR 3.x names them, so that a 3.0 file and
        the 2.0 file it was made from give the same attributes: classes hooked to every city
        object take the package prefix (``DataQualityAttribute`` → ``bldgDataQualityAttribute``),
        the others their own name (``BuildingIDAttribute`` → ``buildingIDAttribute``).
        """
        for entry in hook:
            class_name = local_name(entry.tag)
            if not class_name:
                continue
            kind = iur.risk_kind(class_name)
            if kind is not None:
                feature.risks.append(iur.parse_risk_entry(entry, kind, self._codelists, self._generation))
                continue
            if hook_name == "adeOfAbstractCityObject":
                key = f"{ELEMENT_TYPES.get(feature.element, feature.type)}{class_name}"
            else:
                key = class_name[:1].lower() + class_name[1:]
            self._attribute(feature, entry, key, problems, hrefs)

    def _generic(self, feature: Feature, attribute: etree._Element) -> None:
        """One generic attribute: 2.0 ``gen:stringAttribute name=…``, 3.0 ``gen:StringAttribute/gen:name``."""
        kind = local_name(attribute.tag)
        kind = kind[:1].lower() + kind[1:]
        name = attribute.get("name") or (attribute.findtext("{*}name") or "").strip() or kind
        if kind == "genericAttributeSet":
            self._generic_set(feature, attribute, name)
        else:
            _set(feature.attributes, name, self._generic_value(attribute))

    def _generic_value(self, element: etree._Element) -> object:
        value = element.find("{*}value")
        text = (value.text or "").strip() if value is not None else ""
        kind = local_name(element.tag).lower()
        if kind in ("intattribute", "doubleattribute", "measureattribute"):
            number = _number(text)
            if number is not None and kind == "intattribute" and number.is_integer():
                return int(number)
            return number
        if kind == "codeattribute" and value is not None and value.get("codeSpace"):
            return self._codelists.decode(value.get("codeSpace"), text, self._generation)
        return text

    def _generic_set(self, feature: Feature, element: etree._Element, set_name: str) -> None:
        """A generic attribute set: a 2020-generation flood risk, else attributes ``set/name``."""
        members = element.iterchildren() if element.get("name") else (
            m for v in element.iterfind("{*}value") for m in v)
        values = {}
        for child in members:
            kind = local_name(child.tag)
            if kind and kind[:1].lower() + kind[1:] in _GENERIC_VALUE_TAGS:
                key = child.get("name") or (child.findtext("{*}name") or "").strip()
                values[key] = self._generic_value(child)
        risk = iur.parse_generic_set(set_name, {k: str(v) for k, v in values.items() if v is not None})
        if risk is not None:
            feature.risks.append(risk)
        else:
            for key, value in values.items():
                _set(feature.attributes, f"{set_name}/{key}", value)

    def _height(self, attributes: dict[str, object], prop: etree._Element) -> bool:
        """CityGML 3.0 ``con:height``: the measured roof-edge-over-ground height is 2.0's measuredHeight.

        False when ``prop`` holds no ``con:Height`` (some other ``height``, kept as attributes).
        """
        height = next((c for c in prop if local_name(c.tag) == "Height"), None)
        if height is None:
            return False
        fields = {local_name(c.tag): c for c in height if local_name(c.tag)}
        value = fields.get("value")
        number = _measure((value.text or "").strip()) if value is not None else None
        refs = tuple((fields[k].text or "").strip() if k in fields else "" for k in ("highReference", "lowReference"))
        status = (fields["status"].text or "").strip() if "status" in fields else ""
        if refs == ("highestRoofEdge", "lowestGroundPoint") and status in ("measured", ""):
            _set(attributes, "measuredHeight", number)
        else:
            _set(attributes, f"height/{refs[0] or 'high'}-{refs[1] or 'low'}", number)
        return True

    def _risks(self, container: etree._Element) -> list[HazardRisk]:
        risks = []
        for entry in container:
            kind = iur.risk_kind(local_name(entry.tag))
            if kind is not None:
                risks.append(iur.parse_risk_entry(entry, kind, self._codelists, self._generation))
        return risks


# -- module helpers ---------------------------------------------------------------------


def _release(element: etree._Element) -> None:
    """Free a processed member and the already-processed siblings before it."""
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _ErrorLog:
    """The parser's error log, handing out each error once to whoever claims its line."""

    def __init__(self, context: etree.iterparse) -> None:
        self._context = context
        self.seen = 0
        self._open: list = []

    def take(self, claims: Callable[[int], bool]) -> list:
        log = self._context.error_log  # a fresh snapshot on every access
        self._open.extend(log[i] for i in range(self.seen, len(log)))
        self.seen = len(log)
        taken = [e for e in self._open if claims(e.line)]
        self._open = [e for e in self._open if not claims(e.line)]
        return taken


def _last_line(element: etree._Element) -> int:
    """Line of the last start tag inside an element (its end is at or just after it)."""
    while len(element):
        element = element[-1]
    return element.sourceline or 0


def _root(context: etree.iterparse) -> etree._Element | None:
    """The document's root element once parsing has ended (None for an empty document)."""
    try:
        return context.root
    except AttributeError:
        return None


def _first_line(info: FileInfo) -> int | None:
    return next((w.line for w in info.warnings if w.line), None)


def _add_surface(feature: Feature, lod: int, surface: Surface) -> None:
    geometry = feature.geometry(lod, "boundedBy")
    if geometry is None:
        geometry = Geometry(lod, "boundedBy")
        feature.geometries.append(geometry)
    geometry.surfaces.append(surface)


def _set(attributes: dict[str, object], key: str, value: object) -> None:
    """Store a value; a repeated key keeps every value, as a list."""
    if key not in attributes:
        attributes[key] = value
        return
    existing = attributes[key]
    if isinstance(existing, list):
        existing.append(value)
    else:
        attributes[key] = [existing, value]


def _measure(text: str) -> float | None:
    """A number where PLATEAU's -9999 and 9999 mean unknown (None)."""
    number = _number(text)
    return None if number in (-9999.0, 9999.0) else number


def _year(text: str) -> int | None:
    """The year of a gYear or date (``1975``, ``1975-04-01``); None for PLATEAU's unknown ``0001``."""
    head = text[:4]
    if not head.isdigit() or (len(text) > 4 and text[4] != "-"):
        return None
    return None if int(head) <= 1 else int(head)


def _ring_coordinates(coord_list: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """(ring id, textureCoordinates) pairs of a TexCoordList.

    CityGML 2.0 names the ring in an attribute (``textureCoordinates ring="#r"``); 3.0 lists
    ``textureCoordinates`` and ``ring`` elements side by side, paired by position.
    """
    unpaired: list[etree._Element] = []
    rings: list[str] = []
    for child in coord_list:
        name = local_name(child.tag)
        if name == "textureCoordinates":
            ring = child.get("ring")
            if ring is not None:
                yield ring.lstrip("#"), child
            else:
                unpaired.append(child)
        elif name == "ring":
            rings.append((child.text or "").strip().lstrip("#"))
    for coords, ring in zip(unpaired, rings + [""] * (len(unpaired) - len(rings))):
        yield ring, coords


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _coordinate_fix(crs: SourceCRS, dimension: int) -> CoordinateFix | None:
    """None for lat/lon/h input; else a function giving (lat, lon, h) rows."""
    if crs.geographic and dimension == 3:
        return None
    if crs.geographic:
        return _pad_height
    # Authority axis order on both sides (posList follows the CRS: northing, easting → lat, lon).
    transformer = Transformer.from_crs(crs.epsg, GEOGRAPHIC_2D)

    def project(points: np.ndarray) -> np.ndarray:
        lat, lon = transformer.transform(points[:, 0], points[:, 1])
        height = points[:, 2] if points.shape[1] > 2 else np.full(len(points), np.nan)
        return np.column_stack([lat, lon, height])

    return project


def _pad_height(points: np.ndarray) -> np.ndarray:
    out = np.full((len(points), 3), np.nan)
    out[:, :2] = points[:, :2]
    return out
