"""CityGML 3.0 / i-UR 4.0 reads at parity with CityGML 2.0 / i-UR 3.x."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from citygml import open_dataset
from citygml.model import Feature
from citygml.samplecity.codelist_data import dictionary_xml

#: Differences the third party's converter wrote into the 3.0 sample, not the reader's: creation
#: dates became xs:dateTime ("2023-03-22T00:00:00") and survey years xs:date ("2017-01-01").
CONVERTER_RETYPED = ("creationDate", "buildingDetailAttribute/surveyYear")


def read(path: Path) -> dict[str, Feature]:
    with open_dataset(path) as dataset:
        return {f.gml_id: f for f in dataset.features()}


def xpath(path: Path, expression: str) -> list:
    return etree.parse(str(path)).xpath(expression)


def test_the_3_0_conversion_of_osaka_gives_the_same_buildings(tmp_path, osaka2, osaka3):
    gml2 = next(osaka2.glob("udx/bldg/*.gml"))
    gml3 = next(osaka3.glob("udx/bldg/*.gml"))
    # The 2.0 download has no codelists/: read it beside the 3.0 folder's lists, so that both
    # decode the same codes the same way and any difference is the reader's.
    twin = tmp_path / "osaka2"
    (twin / "udx" / "bldg").mkdir(parents=True)
    shutil.copy(gml2, twin / "udx" / "bldg" / gml2.name)
    shutil.copytree(osaka3 / "codelists", twin / "codelists")
    two, three = read(twin), read(osaka3)

    ids = [e.get("{http://www.opengis.net/gml/3.2}id") for e in xpath(gml3, "//*[local-name()='Building']")]
    assert list(three) == list(two) == ids and len(ids) == 63
    for gml_id, a in two.items():
        b = three[gml_id]
        footprint2, footprint3 = a.geometry(0, "FootPrint"), b.geometry(0, "MultiSurface")
        assert b.lod0_outline() is footprint3 and a.lod0_outline() is footprint2
        assert _rings(footprint2) == _rings(footprint3), gml_id
        assert _rings(a.geometry(1, "Solid")) == _rings(b.geometry(1, "Solid")), gml_id
        assert a.measured_height == b.measured_height, gml_id
        assert (a.building_id, a.usage, a.building_class, a.storeys) == (b.building_id, b.usage, b.building_class, b.storeys)
        assert a.risks == b.risks, gml_id
        assert a.lods == b.lods == (0, 1)
        same = {k: v for k, v in a.attributes.items() if k not in CONVERTER_RETYPED}
        assert same == {k: v for k, v in b.attributes.items() if k not in CONVERTER_RETYPED}, gml_id
        for key in CONVERTER_RETYPED:
            assert str(b.attributes[key]).startswith(str(a.attributes[key])), (gml_id, key)

    # And the values are the files' own: heights are con:value in 3.0, depths urc:depth.
    heights = [float(v) for v in xpath(gml3, "//*[local-name()='Height']/*[local-name()='value']/text()")]
    assert [b.measured_height for b in three.values()] == [None if h == -9999 else h for h in heights]
    depths = [float(v) for v in xpath(gml3, "//*[local-name()='RiverFloodingRiskAttribute']/*[local-name()='depth']/text()")]
    assert [r.depth_m for b in three.values() for r in b.risks] == depths and len(depths) == 89
    assert {b.building_id for b in three.values()} == set(xpath(gml2, "//*[local-name()='buildingID']/text()"))
    assert next(iter(three.values())).attributes["区名"] == "住吉区"  # a 3.0 gen:StringAttribute


def _rings(geometry) -> list[list[list[float]]]:
    assert geometry is not None
    return [p.exterior.tolist() for p in geometry.polygons()]


# -- LOD2, parts, textures, risks: one building written in both encodings ----------------

RINGS = {
    "roof": "35.0 139.0 16.0 35.0001 139.0 16.0 35.0001 139.0001 16.0 35.0 139.0001 16.0 35.0 139.0 16.0",
    "wall": "35.0 139.0 10.0 35.0001 139.0 10.0 35.0001 139.0 16.0 35.0 139.0 16.0 35.0 139.0 10.0",
    "ground": "35.0 139.0 10.0 35.0 139.0001 10.0 35.0001 139.0001 10.0 35.0001 139.0 10.0 35.0 139.0 10.0",
    "part-roof": "35.0001 139.0 13.0 35.0002 139.0 13.0 35.0002 139.0001 13.0 35.0001 139.0001 13.0 35.0001 139.0 13.0",
}
UV = "0 0 1 0 1 1 0 1 0 0"
CODELISTS = {
    "Building_usage": [("411", "住宅")],
    "TsunamiRiskAttribute_rank": [("1", "0.5m未満"), ("2", "0.5m以上3m未満"), ("3", "3m以上5m未満")],
    "DataQualityAttribute_geometrySrcDesc": [("000", "公共測量成果又は基本測量成果")],
}


def _polygon(name: str, gml: str) -> str:
    return (f'<gml:surfaceMember><gml:Polygon {gml}:id="p-{name}"><gml:exterior><gml:LinearRing {gml}:id="r-{name}">'
            f"<gml:posList>{RINGS[name]}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>")


def _surface(kind: str, name: str, boundary: str, prop_ns: str) -> str:
    return (f'<{boundary}><{prop_ns}:{kind} gml:id="s-{name}"><{"core" if prop_ns == "con" else "bldg"}:lod2MultiSurface>'
            f'<gml:MultiSurface>{_polygon(name, "gml")}</gml:MultiSurface></{"core" if prop_ns == "con" else "bldg"}:lod2MultiSurface>'
            f"</{prop_ns}:{kind}></{boundary}>")


def citygml_2() -> str:
    surfaces = "".join(_surface(k, n, "bldg:boundedBy", "bldg") for k, n in
                       (("RoofSurface", "roof"), ("WallSurface", "wall"), ("GroundSurface", "ground")))
    links = "".join(f'<gml:surfaceMember xlink:href="#p-{n}"/>' for n in ("roof", "wall", "ground"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:gml="http://www.opengis.net/gml"
 xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:app="http://www.opengis.net/citygml/appearance/2.0"
 xmlns:gen="http://www.opengis.net/citygml/generics/2.0" xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:uro="https://www.geospatial.jp/iur/uro/3.1">
 <gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
  <gml:lowerCorner>35 139 0</gml:lowerCorner><gml:upperCorner>35.1 139.1 20</gml:upperCorner></gml:Envelope></gml:boundedBy>
 <core:cityObjectMember><bldg:Building gml:id="b1">
  <gen:stringAttribute name="区名"><gen:value>住吉区</gen:value></gen:stringAttribute>
  <bldg:usage codeSpace="../../codelists/Building_usage.xml">411</bldg:usage>
  <bldg:yearOfConstruction>1975</bldg:yearOfConstruction>
  <bldg:measuredHeight uom="m">6.5</bldg:measuredHeight>
  <bldg:storeysAboveGround>2</bldg:storeysAboveGround>
  <bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface>{links}</gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>
  {surfaces}
  <bldg:consistsOfBuildingPart><bldg:BuildingPart gml:id="b1-part">
   <bldg:measuredHeight uom="m">3.0</bldg:measuredHeight>
   {_surface("RoofSurface", "part-roof", "bldg:boundedBy", "bldg")}
  </bldg:BuildingPart></bldg:consistsOfBuildingPart>
  <uro:bldgDisasterRiskAttribute><uro:TsunamiRiskAttribute>
   <uro:description>県の津波浸水想定</uro:description>
   <uro:rank codeSpace="../../codelists/TsunamiRiskAttribute_rank.xml">2</uro:rank><uro:depth uom="m">1.2</uro:depth>
  </uro:TsunamiRiskAttribute></uro:bldgDisasterRiskAttribute>
  <uro:bldgDataQualityAttribute><uro:DataQualityAttribute>
   <uro:geometrySrcDescLod2 codeSpace="../../codelists/DataQualityAttribute_geometrySrcDesc.xml">000</uro:geometrySrcDescLod2>
  </uro:DataQualityAttribute></uro:bldgDataQualityAttribute>
  <uro:buildingIDAttribute><uro:BuildingIDAttribute><uro:buildingID>27100-bldg-1</uro:buildingID></uro:BuildingIDAttribute></uro:buildingIDAttribute>
 </bldg:Building></core:cityObjectMember>
 <app:appearanceMember><app:Appearance><app:theme>rgbTexture</app:theme><app:surfaceDataMember>
  <app:ParameterizedTexture><app:imageURI>51357309_bldg_6697_appearance/roof.jpg</app:imageURI>
   <app:target uri="#p-roof"><app:TexCoordList><app:textureCoordinates ring="#r-roof">{UV}</app:textureCoordinates></app:TexCoordList></app:target>
  </app:ParameterizedTexture></app:surfaceDataMember></app:Appearance></app:appearanceMember>
</core:CityModel>
"""


def citygml_3() -> str:
    surfaces = "".join(_surface(k, n, "core:boundary", "con") for k, n in
                       (("RoofSurface", "roof"), ("WallSurface", "wall"), ("GroundSurface", "ground")))
    links = "".join(f'<gml:surfaceMember xlink:href="#p-{n}"/>' for n in ("roof", "wall", "ground"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/3.0" xmlns:gml="http://www.opengis.net/gml/3.2"
 xmlns:bldg="http://www.opengis.net/citygml/building/3.0" xmlns:con="http://www.opengis.net/citygml/construction/3.0"
 xmlns:app="http://www.opengis.net/citygml/appearance/3.0" xmlns:gen="http://www.opengis.net/citygml/generics/3.0"
 xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:uro="https://www.geospatial.jp/iur/uro/4.0"
 xmlns:urc="https://www.geospatial.jp/iur/urc/4.0">
 <gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
  <gml:lowerCorner>35 139 0</gml:lowerCorner><gml:upperCorner>35.1 139.1 20</gml:upperCorner></gml:Envelope></gml:boundedBy>
 <core:cityObjectMember><bldg:Building gml:id="b1">
  <core:genericAttribute><gen:StringAttribute><gen:name>区名</gen:name><gen:value>住吉区</gen:value></gen:StringAttribute></core:genericAttribute>
  <core:adeOfAbstractCityObject><urc:TsunamiRiskAttribute>
   <urc:description>県の津波浸水想定</urc:description>
   <urc:rank codeSpace="../../codelists/TsunamiRiskAttribute_rank.xml">2</urc:rank><urc:depth uom="m">1.2</urc:depth>
  </urc:TsunamiRiskAttribute></core:adeOfAbstractCityObject>
  <core:adeOfAbstractCityObject><urc:DataQualityAttribute>
   <urc:geometrySrcDescLod2 codeSpace="../../codelists/DataQualityAttribute_geometrySrcDesc.xml">000</urc:geometrySrcDescLod2>
  </urc:DataQualityAttribute></core:adeOfAbstractCityObject>
  {surfaces}
  <core:lod2Solid><gml:Solid><gml:exterior><gml:Shell>{links}</gml:Shell></gml:exterior></gml:Solid></core:lod2Solid>
  <con:dateOfConstruction>1975-01-01</con:dateOfConstruction>
  <con:height><con:Height><con:highReference>highestRoofEdge</con:highReference><con:lowReference>lowestGroundPoint</con:lowReference>
   <con:status>measured</con:status><con:value uom="m">6.5</con:value></con:Height></con:height>
  <bldg:usage codeSpace="../../codelists/Building_usage.xml">411</bldg:usage>
  <bldg:storeysAboveGround>2</bldg:storeysAboveGround>
  <bldg:buildingPart><bldg:BuildingPart gml:id="b1-part">
   {_surface("RoofSurface", "part-roof", "core:boundary", "con")}
   <con:height><con:Height><con:highReference>highestRoofEdge</con:highReference><con:lowReference>lowestGroundPoint</con:lowReference>
    <con:status>measured</con:status><con:value uom="m">3.0</con:value></con:Height></con:height>
  </bldg:BuildingPart></bldg:buildingPart>
  <bldg:adeOfAbstractBuilding><uro:BuildingIDAttribute><uro:buildingID>27100-bldg-1</uro:buildingID></uro:BuildingIDAttribute></bldg:adeOfAbstractBuilding>
 </bldg:Building></core:cityObjectMember>
 <core:appearanceMember><app:Appearance><app:theme>rgbTexture</app:theme><app:surfaceData>
  <app:ParameterizedTexture><app:imageURI>51357309_bldg_6697_appearance/roof.jpg</app:imageURI><app:mimeType>image/jpeg</app:mimeType>
   <app:textureParameterization><app:TextureAssociation><app:target>#p-roof</app:target>
    <app:textureParameterization><app:TexCoordList><app:textureCoordinates>{UV}</app:textureCoordinates><app:ring>#r-roof</app:ring>
    </app:TexCoordList></app:textureParameterization></app:TextureAssociation></app:textureParameterization>
  </app:ParameterizedTexture></app:surfaceData></app:Appearance></core:appearanceMember>
</core:CityModel>
"""


def _dataset(folder: Path, text: str) -> Path:
    (folder / "udx" / "bldg").mkdir(parents=True)
    (folder / "udx" / "bldg" / "51357309_bldg_6697_op.gml").write_text(text, encoding="utf-8")
    (folder / "codelists").mkdir()
    for name, entries in CODELISTS.items():
        (folder / "codelists" / f"{name}.xml").write_text(dictionary_xml(name, entries), encoding="utf-8")
    return folder


def _assert_same(a: Feature, b: Feature) -> None:
    assert (a.gml_id, a.element, a.lods) == (b.gml_id, b.element, b.lods)
    assert a.attributes == b.attributes and a.risks == b.risks
    assert sorted((g.lod, g.role) for g in a.geometries) == sorted((g.lod, g.role) for g in b.geometries)
    for g in a.geometries:
        h = b.geometry(g.lod, g.role)
        assert [(s.semantic, s.id) for s in g.surfaces] == [(s.semantic, s.id) for s in h.surfaces]
        for p, q in zip(g.polygons(), h.polygons(), strict=True):
            assert (p.id, p.ring_id) == (q.id, q.ring_id) and np.array_equal(p.exterior, q.exterior)
            assert (p.texture is None) == (q.texture is None)
            if p.texture is not None:
                assert p.texture.image == q.texture.image and np.array_equal(p.texture.uv, q.texture.uv)
    for p, q in zip(a.parts, b.parts, strict=True):
        _assert_same(p, q)


def test_lod2_boundaries_solid_parts_texture_and_risk_match_their_2_0_twin(tmp_path):
    two = read(_dataset(tmp_path / "two", citygml_2()))["b1"]
    three = read(_dataset(tmp_path / "three", citygml_3()))["b1"]
    _assert_same(two, three)
    # What both say, against the text above: three semantic surfaces, the solid made of them,
    # one textured roof polygon with the UVs given (closing pair dropped), the part's roof.
    bounded = three.geometry(2, "boundedBy")
    assert [s.semantic for s in bounded.surfaces] == ["RoofSurface", "WallSurface", "GroundSurface"]
    assert {id(p) for p in three.geometry(2, "Solid").polygons()} == {id(p) for p in bounded.polygons()}
    roof = bounded.surfaces[0].polygons[0]
    assert roof.texture.image == "udx/bldg/51357309_bldg_6697_appearance/roof.jpg"
    assert roof.texture.uv.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert three.parts[0].measured_height == 3.0 and three.measured_height == 6.5
    assert (three.year, three.building_id, three.usage.label) == (1975, "27100-bldg-1", "住宅")
    assert three.attributes["bldgDataQualityAttribute/geometrySrcDescLod2"].label == "公共測量成果又は基本測量成果"
    risk = three.risks[0]
    assert (risk.kind, risk.rank.code, risk.rank.label, risk.depth_m) == ("tsunami", "2", "0.5m以上3m未満", 1.2)
    assert risk.rank_scheme.name == "TsunamiRiskAttribute_rank" and risk.rank_depth_range == (0.5, 3.0)


@pytest.mark.parametrize("encoding", [citygml_2, citygml_3])
def test_texture_for_an_unknown_ring_is_not_applied(tmp_path, encoding):
    text = encoding().replace("#r-roof</app:ring>", "#elsewhere</app:ring>").replace('ring="#r-roof"', 'ring="#elsewhere"')
    building = read(_dataset(tmp_path / "d", text))["b1"]
    assert not any(p.texture for g in building.geometries for p in g.polygons())


ROAD_3_0 = """<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/3.0" xmlns:gml="http://www.opengis.net/gml/3.2"
 xmlns:tran="http://www.opengis.net/citygml/transportation/3.0" xmlns:gen="http://www.opengis.net/citygml/generics/3.0"
 xmlns:uro="https://www.geospatial.jp/iur/uro/4.0">
 <gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
  <gml:lowerCorner>35 139 0</gml:lowerCorner><gml:upperCorner>35.1 139.1 20</gml:upperCorner></gml:Envelope></gml:boundedBy>
 <core:cityObjectMember><tran:Road gml:id="road1">
  <core:genericAttribute><gen:GenericAttributeSet><gen:name>管理</gen:name>
   <gen:value><gen:StringAttribute><gen:name>路線名</gen:name><gen:value>市道1号</gen:value></gen:StringAttribute></gen:value>
   <gen:value><gen:IntAttribute><gen:name>車線数</gen:name><gen:value>2</gen:value></gen:IntAttribute></gen:value>
  </gen:GenericAttributeSet></core:genericAttribute>
  <core:lod1MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>
   <gml:posList>35 139 5 35.001 139 5 35.001 139.001 5 35 139 5</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
  </gml:surfaceMember></gml:MultiSurface></core:lod1MultiSurface>
  <tran:section><tran:Section gml:id="sec1">
   <tran:trafficSpace><tran:TrafficSpace gml:id="ts1">
    <core:boundary><tran:TrafficArea gml:id="ta1"><core:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon>
     <gml:exterior><gml:LinearRing><gml:posList>35 139 5 35.0005 139 5 35.0005 139.001 5 35 139 5</gml:posList></gml:LinearRing></gml:exterior>
    </gml:Polygon></gml:surfaceMember></gml:MultiSurface></core:lod2MultiSurface></tran:TrafficArea></core:boundary>
   </tran:TrafficSpace></tran:trafficSpace>
   <tran:auxiliaryTrafficSpace><tran:AuxiliaryTrafficSpace gml:id="ats1">
    <core:boundary><tran:AuxiliaryTrafficArea gml:id="ata1"><core:lod2MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon>
     <gml:exterior><gml:LinearRing><gml:posList>35.0005 139 5 35.001 139 5 35.001 139.001 5 35.0005 139 5</gml:posList></gml:LinearRing></gml:exterior>
    </gml:Polygon></gml:surfaceMember></gml:MultiSurface></core:lod2MultiSurface></tran:AuxiliaryTrafficArea></core:boundary>
   </tran:AuxiliaryTrafficSpace></tran:auxiliaryTrafficSpace>
  </tran:Section></tran:section>
 </tran:Road></core:cityObjectMember>
</core:CityModel>
"""


def test_a_3_0_road_keeps_its_sections_traffic_areas_and_attribute_sets(tmp_path):
    from citygml.summary import summarize

    folder = tmp_path / "roads"
    (folder / "udx" / "tran").mkdir(parents=True)
    (folder / "udx" / "tran" / "53394503_tran_6697_op.gml").write_text(ROAD_3_0, encoding="utf-8")
    (road,) = read(folder).values()
    assert road.attributes == {"管理/路線名": "市道1号", "管理/車線数": 2}
    assert road.lods == (1, 2) and road.geometry(1, "MultiSurface") is not None
    (section,) = road.parts
    assert [(p.element, p.gml_id) for p in section.parts] == [("TrafficSpace", "ts1"), ("AuxiliaryTrafficSpace", "ats1")]
    with open_dataset(folder) as dataset:
        summary = summarize(dataset)
    assert summary.surfaces == {"tran": {"AuxiliaryTrafficArea": 1, "TrafficArea": 1}}
    assert summary.elements == {"tran": {"AuxiliaryTrafficSpace": 1, "Road": 1, "Section": 1, "TrafficSpace": 1}}
    assert summary.lods == {"tran": {"1": 1, "2": 1}}
