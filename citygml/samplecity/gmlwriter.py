"""Serialisation of sample-city Features as PLATEAU CityGML 2.0 + i-UR text (fast string building).

Element order and encodings follow the PLATEAU samples of each generation: i-UR 3.1
(Koshigaya 2023), 2.0 (Sapporo/Yokosuka/Numazu 2021) and 1.4 (Tokyo 2020, generic attributes).
"""

from __future__ import annotations

import io
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon

URO_NAMESPACES = {
    "3.1": "https://www.geospatial.jp/iur/uro/3.1",
    "2.0": "https://www.geospatial.jp/iur/uro/2.0",
    "1.4": "http://www.kantei.go.jp/jp/singi/tiiki/toshisaisei/itoshisaisei/iur/uro/1.4",
}
SRS = "http://www.opengis.net/def/crs/EPSG/0/6697"
CREATION_DATE = "2024-03-29"
UNKNOWN = -9999.0  # PLATEAU's "unknown" for heights; the model holds None

_NAMESPACES = (
    'xmlns:gml="http://www.opengis.net/gml" xmlns:core="http://www.opengis.net/citygml/2.0" '
    'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
    'xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" '
    'xmlns:brid="http://www.opengis.net/citygml/bridge/2.0" '
    'xmlns:luse="http://www.opengis.net/citygml/landuse/2.0" '
    'xmlns:wtr="http://www.opengis.net/citygml/waterbody/2.0" '
    'xmlns:dem="http://www.opengis.net/citygml/relief/2.0" '
    'xmlns:app="http://www.opengis.net/citygml/appearance/2.0" '
    'xmlns:gen="http://www.opengis.net/citygml/generics/2.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xAL="urn:oasis:names:tc:ciq:xsdschema:xAL:2.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
)
_SCHEMAS = (
    "http://www.opengis.net/citygml/2.0 http://schemas.opengis.net/citygml/2.0/cityGMLBase.xsd "
    "http://www.opengis.net/citygml/building/2.0 http://schemas.opengis.net/citygml/building/2.0/building.xsd "
    "http://www.opengis.net/citygml/transportation/2.0 http://schemas.opengis.net/citygml/transportation/2.0/transportation.xsd "
    "http://www.opengis.net/citygml/bridge/2.0 http://schemas.opengis.net/citygml/bridge/2.0/bridge.xsd "
    "http://www.opengis.net/citygml/landuse/2.0 http://schemas.opengis.net/citygml/landuse/2.0/landUse.xsd "
    "http://www.opengis.net/citygml/waterbody/2.0 http://schemas.opengis.net/citygml/waterbody/2.0/waterBody.xsd "
    "http://www.opengis.net/citygml/relief/2.0 http://schemas.opengis.net/citygml/relief/2.0/relief.xsd "
    "http://www.opengis.net/citygml/generics/2.0 http://schemas.opengis.net/citygml/generics/2.0/generics.xsd "
    "http://www.opengis.net/citygml/appearance/2.0 http://schemas.opengis.net/citygml/appearance/2.0/appearance.xsd "
    "http://www.opengis.net/gml http://schemas.opengis.net/gml/3.1.1/base/gml.xsd"
)


def _num(value: float | None) -> str:
    if value is None:
        raise ValueError("a number the file needs is missing")
    return repr(float(value))


def pos_list(ring: np.ndarray) -> str:
    """A closed gml:posList (lat lon h ...) from an open ring."""
    values = ring.ravel().tolist()
    return " ".join(map(repr, values + values[:3]))


def _code_of(code: Code | None) -> str:
    return code.code if code is not None else ""


class Writer:
    """Writes the features of one file, ``path`` relative to the dataset root (``udx/bldg/x.gml``)."""

    def __init__(self, iur: str, path: str) -> None:
        if iur not in URO_NAMESPACES:
            raise ValueError(f"unknown i-UR generation {iur!r}; expected one of {sorted(URO_NAMESPACES)}")
        self.iur = iur
        self.folder = path.rpartition("/")[0] + "/"
        self.codelists = "../" * path.count("/") + "codelists/"
        self.out: list[str] = []
        self._stream: TextIO | None = None

    # -- document ---------------------------------------------------------------------------

    def document(self, features: list[Feature], lower: np.ndarray, upper: np.ndarray) -> str:
        """The whole file as one string (see :meth:`write` for large files)."""
        buffer = io.StringIO()
        self.write(buffer, features, lower, upper)
        return buffer.getvalue()

    def write(self, stream: TextIO, features: list[Feature], lower: np.ndarray, upper: np.ndarray) -> None:
        """Write the file to ``stream`` a few members at a time, so a large file never sits whole in memory."""
        uro = URO_NAMESPACES[self.iur]
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<core:CityModel {_NAMESPACES}xmlns:uro="{uro}" '
            f'xsi:schemaLocation="{uro} ../../schemas/iur/uro/{self.iur}/urbanObject.xsd {_SCHEMAS}">\n'
            "\t<gml:boundedBy>\n"
            f'\t\t<gml:Envelope srsName="{SRS}" srsDimension="3">\n'
            f"\t\t\t<gml:lowerCorner>{' '.join(map(_num, lower))}</gml:lowerCorner>\n"
            f"\t\t\t<gml:upperCorner>{' '.join(map(_num, upper))}</gml:upperCorner>\n"
            "\t\t</gml:Envelope>\n\t</gml:boundedBy>\n"
        )
        self.out = [head]
        self._stream = stream
        writers = {"bldg": self.building, "tran": self.road, "fld": self.water_body, "wtr": self.water_body,
                   "dem": self.relief, "brid": self.bridge, "luse": self.land_use}
        for feature in features:
            self.out.append("\t<core:cityObjectMember>\n")
            writers[feature.type](feature, 2)
            self.out.append("\t</core:cityObjectMember>\n")
            self._flush(20_000)
        self.appearance(features)
        self.out.append("</core:CityModel>\n")
        self._flush(0)
        self._stream = None

    def _flush(self, above: int) -> None:
        """Hand the text so far to the stream once more than ``above`` pieces wait."""
        if len(self.out) > above and self._stream is not None:
            self._stream.write("".join(self.out))
            self.out.clear()

    def _w(self, indent: int, text: str) -> None:
        self.out.append("\t" * indent + text + "\n")

    def _code(self, indent: int, tag: str, codelist: str, code: object) -> None:
        text = code.code if isinstance(code, Code) else str(code)
        self._w(indent, f'<{tag} codeSpace="{self.codelists}{codelist}.xml">{escape(text)}</{tag}>')

    # -- geometry ---------------------------------------------------------------------------

    def polygon(self, indent: int, p: Polygon) -> None:
        pid = f' gml:id="{p.id}"' if p.id else ""
        rid = f' gml:id="{p.ring_id}"' if p.ring_id else ""
        t = "\t" * indent
        self.out.append(
            f"{t}<gml:Polygon{pid}>\n{t}\t<gml:exterior>\n{t}\t\t<gml:LinearRing{rid}>\n"
            f"{t}\t\t\t<gml:posList>{pos_list(p.exterior)}</gml:posList>\n"
            f"{t}\t\t</gml:LinearRing>\n{t}\t</gml:exterior>\n{t}</gml:Polygon>\n"
        )

    def multi_surface(self, indent: int, polygons: list[Polygon]) -> None:
        self._w(indent, "<gml:MultiSurface>")
        for p in polygons:
            self._w(indent + 1, "<gml:surfaceMember>")
            self.polygon(indent + 2, p)
            self._w(indent + 1, "</gml:surfaceMember>")
        self._w(indent, "</gml:MultiSurface>")

    def solid(self, indent: int, polygons: list[Polygon], by_reference: bool) -> None:
        self._w(indent, "<gml:Solid>")
        self._w(indent + 1, "<gml:exterior>")
        self._w(indent + 2, "<gml:CompositeSurface>")
        for p in polygons:
            if by_reference:
                self._w(indent + 3, f'<gml:surfaceMember xlink:href="#{p.id}"/>')
            else:
                self._w(indent + 3, "<gml:surfaceMember>")
                self.polygon(indent + 4, p)
                self._w(indent + 3, "</gml:surfaceMember>")
        self._w(indent + 2, "</gml:CompositeSurface>")
        self._w(indent + 1, "</gml:exterior>")
        self._w(indent, "</gml:Solid>")

    # -- buildings --------------------------------------------------------------------------

    def building(self, f: Feature, indent: int, element: str = "bldg:Building") -> None:
        a = f.attributes
        self._w(indent, f'<{element} gml:id="{f.gml_id}">')
        i = indent + 1
        if self.iur == "3.1":
            self._w(i, f"<core:creationDate>{CREATION_DATE}</core:creationDate>")
        if self.iur == "1.4":
            if "建物ID" in a:
                self._generic_string(i, "建物ID", str(a["建物ID"]))
            for risk in f.risks:
                self._risk_generic(i, risk)
        if "class" in a:
            self._code(i, "bldg:class", "Building_class", a["class"])
        if "usage" in a:
            self._code(i, "bldg:usage", "Building_usage", a["usage"])
        if "yearOfConstruction" in a:
            self._w(i, f"<bldg:yearOfConstruction>{a['yearOfConstruction']}</bldg:yearOfConstruction>")
        if "measuredHeight" in a:
            height = f.measured_height  # None: unknown, written as PLATEAU's -9999
            self._w(i, f'<bldg:measuredHeight uom="m">{_num(UNKNOWN if height is None else height)}</bldg:measuredHeight>')
        if "storeysAboveGround" in a:
            self._w(i, f"<bldg:storeysAboveGround>{a['storeysAboveGround']}</bldg:storeysAboveGround>")
        for g in f.geometries:
            self._solid_geometry(i, g, "bldg")
        for part in f.parts:
            self._w(i, "<bldg:consistsOfBuildingPart>")
            self.building(part, i + 1, "bldg:BuildingPart")
            self._w(i, "</bldg:consistsOfBuildingPart>")
        if self.iur == "2.0":
            self._building_id(i, a)
        if self.iur != "1.4":
            for risk in f.risks:
                self._risk_uro(i, risk)
        if self.iur == "3.1":
            self._building_id(i, a)
        self._w(indent, f"</{element}>")

    def _solid_geometry(self, i: int, g: Geometry, prefix: str) -> None:
        """A building's or bridge's LOD0 outline, LOD1/2 solid or LOD2 boundary surfaces."""
        if g.lod == 0:
            self._w(i, f"<{prefix}:lod0{g.role}>")
            self.multi_surface(i + 1, g.polygons())
            self._w(i, f"</{prefix}:lod0{g.role}>")
        elif g.role == "Solid":
            self._w(i, f"<{prefix}:lod{g.lod}Solid>")
            self.solid(i + 1, g.polygons(), by_reference=g.lod == 2)
            self._w(i, f"</{prefix}:lod{g.lod}Solid>")
        elif g.role == "boundedBy":
            for surface in g.surfaces:
                self._w(i, f"<{prefix}:boundedBy>")
                self._w(i + 1, f'<{prefix}:{surface.semantic} gml:id="{surface.id}">')
                self._w(i + 2, f"<{prefix}:lod{g.lod}MultiSurface>")
                self.multi_surface(i + 3, surface.polygons)
                self._w(i + 2, f"</{prefix}:lod{g.lod}MultiSurface>")
                self._w(i + 1, f"</{prefix}:{surface.semantic}>")
                self._w(i, f"</{prefix}:boundedBy>")

    def _building_id(self, i: int, a: dict) -> None:
        if "buildingIDAttribute/buildingID" not in a:
            return
        self._w(i, "<uro:buildingIDAttribute>")
        self._w(i + 1, "<uro:BuildingIDAttribute>")
        self._w(i + 2, f"<uro:buildingID>{escape(str(a['buildingIDAttribute/buildingID']))}</uro:buildingID>")
        if "buildingIDAttribute/partID" in a:
            self._w(i + 2, f"<uro:partID>{a['buildingIDAttribute/partID']}</uro:partID>")
        self._code(i + 2, "uro:prefecture", "Common_localPublicAuthorities", a["buildingIDAttribute/prefecture"])
        self._code(i + 2, "uro:city", "Common_localPublicAuthorities", a["buildingIDAttribute/city"])
        self._w(i + 1, "</uro:BuildingIDAttribute>")
        self._w(i, "</uro:buildingIDAttribute>")

    def _risk_uro(self, i: int, r: HazardRisk) -> None:
        v3 = self.iur == "3.1"
        kind = "River" if r.kind == "river" else "Inland"
        element = f"{kind}FloodingRiskAttribute" if v3 else f"Building{kind}FloodingRiskAttribute"
        wrapper = "uro:bldgDisasterRiskAttribute" if v3 else "uro:buildingDisasterRiskAttribute"
        self._w(i, f"<{wrapper}>")
        self._w(i + 1, f"<uro:{element}>")
        self._code(i + 2, "uro:description", f"{element}_description", r.source)
        self._code(i + 2, "uro:rank", f"{element}_rank", r.rank)
        self._w(i + 2, f'<uro:depth uom="m">{_num(r.depth_m)}</uro:depth>')
        if r.kind == "river":
            self._code(i + 2, "uro:adminType", f"{element}_adminType", r.admin_type)
            self._code(i + 2, "uro:scale", f"{element}_scale", Code((r.scale or "").removeprefix("L")))
            if r.duration_h is not None:
                self._w(i + 2, f'<uro:duration uom="hour">{_num(r.duration_h)}</uro:duration>')
        self._w(i + 1, f"</uro:{element}>")
        self._w(i, f"</{wrapper}>")

    def _generic_string(self, i: int, name: str, value: str) -> None:
        self._w(i, f"<gen:stringAttribute name={quoteattr(name)}>")
        self._w(i + 1, f"<gen:value>{escape(value)}</gen:value>")
        self._w(i, "</gen:stringAttribute>")

    def _generic_measure(self, i: int, name: str, value: float | None, uom: str) -> None:
        self._w(i, f"<gen:measureAttribute name={quoteattr(name)}>")
        self._w(i + 1, f'<gen:value uom="{uom}">{_num(value)}</gen:value>')
        self._w(i, "</gen:measureAttribute>")

    def _risk_generic(self, i: int, r: HazardRisk) -> None:
        """i-UR 1.4 (2020): one gen:genericAttributeSet per flood assumption."""
        if r.kind == "river":
            wording = "計画規模" if r.scale == "L1" else "想定最大規模"
            name = f"{_code_of(r.source)}洪水浸水想定区域（{wording}）"
        else:
            name = f"{_code_of(r.source)}内水浸水想定区域（想定最大規模）"
        self._w(i, f"<gen:genericAttributeSet name={quoteattr(name)}>")
        if r.scale is not None:
            self._generic_string(i + 1, "規模", r.scale)
        self._generic_string(i + 1, "浸水ランク", _code_of(r.rank))
        self._generic_measure(i + 1, "浸水深", r.depth_m, "m")
        if r.duration_h is not None:
            self._generic_measure(i + 1, "継続時間", r.duration_h, "hour")
        self._w(i, "</gen:genericAttributeSet>")

    # -- other features ---------------------------------------------------------------------

    def road(self, f: Feature, indent: int) -> None:
        a = f.attributes
        self._w(indent, f'<tran:Road gml:id="{f.gml_id}">')
        i = indent + 1
        if self.iur == "3.1":
            self._w(i, f"<core:creationDate>{CREATION_DATE}</core:creationDate>")
        self._code(i, "tran:class", "TransportationComplex_class", a["class"])
        self._code(i, "tran:function", "Road_function", a["function"])
        self._code(i, "tran:usage", "Road_usage", a["usage"])
        for g in f.geometries:
            self._w(i, f"<tran:lod{g.lod}MultiSurface>")
            self.multi_surface(i + 1, g.polygons())
            self._w(i, f"</tran:lod{g.lod}MultiSurface>")
        self._w(indent, "</tran:Road>")

    def water_body(self, f: Feature, indent: int) -> None:
        """A river (wtr) or an official flood extent (fld, tnm, ...): both are wtr:WaterBody."""
        a = f.attributes
        self._w(indent, f'<wtr:WaterBody gml:id="{f.gml_id}">')
        i = indent + 1
        self._w(i, f"<gml:name>{escape(str(a['name']))}</gml:name>")
        if "creationDate" in a:
            self._w(i, f"<core:creationDate>{a['creationDate']}</core:creationDate>")
        if self.iur == "1.4" and "規模" in a:
            self._generic_string(i, "規模", str(a["規模"]))
            self._generic_string(i, "浸水ランク", str(a["浸水ランク"]))
        self._code(i, "wtr:class", "WaterBody_class", a["class"])
        if "function" in a:
            self._code(i, "wtr:function", "WaterBody_function", a["function"])
        for g in f.geometries:
            self._w(i, f"<wtr:lod{g.lod}MultiSurface>")
            self.multi_surface(i + 1, g.polygons())
            self._w(i, f"</wtr:lod{g.lod}MultiSurface>")
        for r in f.risks:
            v3 = self.iur == "3.1"
            element = "RiverFloodingRiskAttribute" if v3 else "WaterBodyRiverFloodingRiskAttribute"
            self._w(i, "<uro:floodingRiskAttribute>")
            self._w(i + 1, f"<uro:{element}>")
            self._code(i + 2, "uro:description", f"{element}_description", r.source)
            self._code(i + 2, "uro:rank" if v3 else "uro:rankOrg", f"{element}_{'rank' if v3 else 'rankOrg'}", r.rank)
            self._code(i + 2, "uro:adminType", f"{element}_adminType", r.admin_type)
            scale = r.scale or ""
            self._code(i + 2, "uro:scale", f"{element}_scale", Code(scale.removeprefix("L") if v3 else scale))
            self._w(i + 1, f"</uro:{element}>")
            self._w(i, "</uro:floodingRiskAttribute>")
        self._w(indent, "</wtr:WaterBody>")

    def bridge(self, f: Feature, indent: int) -> None:
        """brid:Bridge in the order of PLATEAU's bridge files (class, function, year, LOD1, LOD2)."""
        a = f.attributes
        self._w(indent, f'<brid:Bridge gml:id="{f.gml_id}">')
        i = indent + 1
        if "creationDate" in a:
            self._w(i, f"<core:creationDate>{a['creationDate']}</core:creationDate>")
        self._code(i, "brid:class", "Bridge_class", a["class"])
        self._code(i, "brid:function", "Bridge_function", a["function"])
        self._w(i, f"<brid:yearOfConstruction>{a['yearOfConstruction']}</brid:yearOfConstruction>")
        for g in f.geometries:
            self._solid_geometry(i, g, "brid")
        self._w(indent, "</brid:Bridge>")

    def land_use(self, f: Feature, indent: int) -> None:
        a = f.attributes
        self._w(indent, f'<luse:LandUse gml:id="{f.gml_id}">')
        i = indent + 1
        if "creationDate" in a:
            self._w(i, f"<core:creationDate>{a['creationDate']}</core:creationDate>")
        self._code(i, "luse:class", "Common_landUseType", a["class"])
        for g in f.geometries:
            self._w(i, f"<luse:lod{g.lod}MultiSurface>")
            self.multi_surface(i + 1, g.polygons())
            self._w(i, f"</luse:lod{g.lod}MultiSurface>")
        self._w(indent, "</luse:LandUse>")

    def relief(self, f: Feature, indent: int) -> None:
        tin = f.geometries[0].triangles
        if tin is None:
            raise ValueError(f"relief {f.gml_id} has no triangles")
        name = escape(str(f.attributes.get("name", "")))
        self._w(indent, f'<dem:ReliefFeature gml:id="{f.gml_id}">')
        self._w(indent + 1, f"<gml:name>{name}</gml:name>")
        self._w(indent + 1, "<dem:lod>1</dem:lod>")
        self._w(indent + 1, "<dem:reliefComponent>")
        self._w(indent + 2, f'<dem:TINRelief gml:id="{f.gml_id}_tin">')
        self._w(indent + 3, f"<gml:name>{name}</gml:name>")
        self._w(indent + 3, "<dem:lod>1</dem:lod>")
        self._w(indent + 3, "<dem:tin>")
        self._w(indent + 4, "<gml:TriangulatedSurface>")
        self._w(indent + 5, "<gml:trianglePatches>")
        t = "\t" * (indent + 6)
        for tri in tin:
            self.out.append(
                f"{t}<gml:Triangle>\n{t}\t<gml:exterior>\n{t}\t\t<gml:LinearRing>\n"
                f"{t}\t\t\t<gml:posList>{pos_list(tri)}</gml:posList>\n"
                f"{t}\t\t</gml:LinearRing>\n{t}\t</gml:exterior>\n{t}</gml:Triangle>\n"
            )
            self._flush(20_000)
        self._w(indent + 5, "</gml:trianglePatches>")
        self._w(indent + 4, "</gml:TriangulatedSurface>")
        self._w(indent + 3, "</dem:tin>")
        self._w(indent + 2, "</dem:TINRelief>")
        self._w(indent + 1, "</dem:reliefComponent>")
        self._w(indent, "</dem:ReliefFeature>")

    # -- appearance -------------------------------------------------------------------------

    def appearance(self, features: list[Feature]) -> None:
        """One ParameterizedTexture per image, targeting each textured polygon's ring."""
        by_image: dict[str, list[Polygon]] = {}
        for f in features:
            for member in [f, *f.parts]:
                for g in member.geometries:
                    if g.role != "boundedBy":
                        continue
                    for p in g.polygons():
                        if p.texture is not None:
                            by_image.setdefault(p.texture.image, []).append(p)
        if not by_image:
            return
        self._w(1, "<app:appearanceMember>")
        self._w(2, '<app:Appearance gml:id="appearance_rgbTexture">')
        self._w(3, "<app:theme>rgbTexture</app:theme>")
        for k, (image, polygons) in enumerate(by_image.items()):
            self._w(3, "<app:surfaceDataMember>")
            self._w(4, f'<app:ParameterizedTexture gml:id="texture_{k}">')
            self._w(5, f"<app:imageURI>{escape(image.removeprefix(self.folder))}</app:imageURI>")
            self._w(5, "<app:mimeType>image/png</app:mimeType>")
            for p in polygons:
                if p.texture is None:
                    continue
                uv = p.texture.uv.ravel().tolist()
                coords = " ".join(map(repr, uv + uv[:2]))
                self._w(5, f'<app:target uri="#{p.id}">')
                self._w(6, "<app:TexCoordList>")
                self._w(7, f'<app:textureCoordinates ring="#{p.ring_id}">{coords}</app:textureCoordinates>')
                self._w(6, "</app:TexCoordList>")
                self._w(5, "</app:target>")
            self._w(4, "</app:ParameterizedTexture>")
            self._w(3, "</app:surfaceDataMember>")
        self._w(2, "</app:Appearance>")
        self._w(1, "</app:appearanceMember>")
