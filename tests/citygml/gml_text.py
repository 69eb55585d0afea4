"""Small hand-written CityGML documents for reader tests."""

from __future__ import annotations

NAMESPACES = (
    'xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:gml="http://www.opengis.net/gml" '
    'xmlns:bldg="http://www.opengis.net/citygml/building/2.0" '
    'xmlns:gen="http://www.opengis.net/citygml/generics/2.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:uro="{uro}"'
)
URO_31 = "https://www.geospatial.jp/iur/uro/3.1"
URO_14 = "http://www.kantei.go.jp/jp/singi/tiiki/toshisaisei/itoshisaisei/iur/uro/1.4"


def ring(lat: float = 35.0, lon: float = 139.0, h: float = 10.0, size: float = 1e-4) -> str:
    points = [(lat, lon), (lat + size, lon), (lat + size, lon + size), (lat, lon + size), (lat, lon)]
    return " ".join(f"{a} {b} {h}" for a, b in points)


def building(gml_id: str, body: str = "", lat: float = 35.0) -> str:
    return f"""
  <core:cityObjectMember>
    <bldg:Building gml:id="{gml_id}">
      <bldg:measuredHeight uom="m">9.5</bldg:measuredHeight>
      {body}
      <bldg:lod0RoofEdge><gml:MultiSurface><gml:surfaceMember><gml:Polygon gml:id="{gml_id}-p">
        <gml:exterior><gml:LinearRing><gml:posList>{ring(lat)}</gml:posList></gml:LinearRing></gml:exterior>
      </gml:Polygon></gml:surfaceMember></gml:MultiSurface></bldg:lod0RoofEdge>
    </bldg:Building>
  </core:cityObjectMember>"""


def city_model(members: str, uro: str = URO_31, prolog: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>{prolog}
<core:CityModel {NAMESPACES.format(uro=uro)}>
  <gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">
    <gml:lowerCorner>35 139 0</gml:lowerCorner><gml:upperCorner>36 140 100</gml:upperCorner>
  </gml:Envelope></gml:boundedBy>{members}
</core:CityModel>
"""
