"""Roads drawn at LOD3 (``tran``): a hand-written CityGML 2.0 / i-UR 3.1 road file in PLATEAU's encoding
converts, each road is counted in ``city.json`` and kept in ``roads.parquet`` with its LODs and surface.

PLATEAU's LOD3 roads (e.g. 東京都23区 2023+) keep the LOD1 road surface on ``tran:Road`` and draw the
LOD2/LOD3 detail as ``tran:trafficArea/tran:TrafficArea`` and ``tran:auxiliaryTrafficArea/
tran:AuxiliaryTrafficArea``, each with its own ``lodNMultiSurface``; CityGML 2.0 also allows a road with
only ``tran:lod3MultiSurface``. The file holds one of each."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
from shapely.geometry import Polygon

from twin.convert.pipeline import convert

NS = ('xmlns:core="http://www.opengis.net/citygml/2.0" xmlns:tran="http://www.opengis.net/citygml/transportation/2.0" '
      'xmlns:gml="http://www.opengis.net/gml" xmlns:uro="https://www.geospatial.jp/iur/uro/3.1"')
Z = 40.0  # m, T.P.

#: (lat, lon) rings, closed: a 1,000 × 200 µdeg strip of road (about 90 m × 22 m) and its two halves.
ROAD_A = [(35.67000, 139.66500), (35.67000, 139.66600), (35.67020, 139.66600), (35.67020, 139.66500), (35.67000, 139.66500)]
ROAD_B = [(35.67100, 139.66500), (35.67100, 139.66600), (35.67120, 139.66600), (35.67120, 139.66500), (35.67100, 139.66500)]
CARRIAGEWAY_B = [(35.67100, 139.66500), (35.67100, 139.66600), (35.67115, 139.66600), (35.67115, 139.66500),
                 (35.67100, 139.66500)]
SIDEWALK_B = [(35.67115, 139.66500), (35.67115, 139.66600), (35.67120, 139.66600), (35.67120, 139.66500),
              (35.67115, 139.66500)]


def multi_surface(ring: list[tuple[float, float]], lod: int) -> str:
    pos = " ".join(f"{lat} {lon} {Z}" for lat, lon in ring)
    return (f"<tran:lod{lod}MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior>"
            f"<gml:LinearRing><gml:posList>{pos}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>"
            f"</gml:surfaceMember></gml:MultiSurface></tran:lod{lod}MultiSurface>")


def road_file() -> str:
    road_a = (f'<tran:Road gml:id="tran_lod3_only"><tran:class codeSpace="../../codelists/TransportationComplex_class.xml">'
              f"1000</tran:class>{multi_surface(ROAD_A, 3)}</tran:Road>")
    road_b = (f'<tran:Road gml:id="tran_lod1_lod3"><tran:class codeSpace="../../codelists/TransportationComplex_class.xml">'
              f"1000</tran:class>{multi_surface(ROAD_B, 1)}"
              f'<tran:trafficArea><tran:TrafficArea gml:id="traffic_b">{multi_surface(CARRIAGEWAY_B, 3)}'
              "</tran:TrafficArea></tran:trafficArea>"
              f'<tran:auxiliaryTrafficArea><tran:AuxiliaryTrafficArea gml:id="sidewalk_b">{multi_surface(SIDEWALK_B, 3)}'
              "</tran:AuxiliaryTrafficArea></tran:auxiliaryTrafficArea></tran:Road>")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<core:CityModel {NS}>'
            '<gml:boundedBy><gml:Envelope srsName="http://www.opengis.net/def/crs/EPSG/0/6697" srsDimension="3">'
            f"<gml:lowerCorner>35.67 139.665 {Z}</gml:lowerCorner><gml:upperCorner>35.6712 139.666 {Z}</gml:upperCorner>"
            "</gml:Envelope></gml:boundedBy>"
            f"<core:cityObjectMember>{road_a}</core:cityObjectMember>"
            f"<core:cityObjectMember>{road_b}</core:cityObjectMember></core:CityModel>\n")


def lonlat(ring: list[tuple[float, float]]) -> Polygon:
    return Polygon([(lon, lat) for lat, lon in ring])


def test_lod3_roads_convert_and_are_kept_in_the_roads_table(tmp_path: Path):
    dataset = tmp_path / "13115_suginami-ku_city_2024_citygml_1_op"
    (dataset / "udx" / "tran").mkdir(parents=True)
    (dataset / "udx" / "tran" / "53394513_tran_6697_op.gml").write_text(road_file(), encoding="utf-8")
    manifest = convert([dataset], tmp_path / "roads")
    assert manifest["counts"]["roads"] == 2
    assert json.loads((tmp_path / "roads" / "city.json").read_text(encoding="utf-8"))["counts"]["roads"] == 2
    assert manifest["features"]["tran"] == {"read": 2, "kept": {"roads": 2}, "dropped": {}}
    table = gpd.read_parquet(tmp_path / "roads" / "roads.parquet").set_index("gml_id")
    assert sorted(table.index) == ["tran_lod1_lod3", "tran_lod3_only"]
    assert list(table.loc["tran_lod3_only", "lods"]) == [3]
    assert list(table.loc["tran_lod1_lod3", "lods"]) == [1, 3]
    # The surface kept is the lowest LOD's: the LOD3 strip for the first, the LOD1 road for the second
    # (its LOD3 carriageway and sidewalk cover the same ground). Lon/lat, to 1e-12 deg².
    assert table.loc["tran_lod3_only", "geometry"].symmetric_difference(lonlat(ROAD_A)).area < 1e-12
    assert table.loc["tran_lod1_lod3", "geometry"].symmetric_difference(lonlat(ROAD_B)).area < 1e-12
