"""Every feature type of the real samples is read and counted; no geometry is dropped unsaid."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from citygml import open_dataset
from citygml.model import Feature
from citygml.summary import summarize
from tests.conftest import PLATEAU, plateau_sample

SAMPLES = sorted(p.name for p in PLATEAU.glob("*_op")) if PLATEAU.is_dir() else ["(no samples)"]


def walk(feature: Feature):
    yield feature
    for part in feature.parts:
        yield from walk(part)


def xpath_count(folder: Path, names: tuple[str, ...]) -> int:
    test = " or ".join(f"local-name()='{n}'" for n in names)
    return sum(int(etree.parse(str(g)).xpath(f"count(//*[{test}])")) for g in folder.rglob("*.gml"))


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_polygon_triangle_line_and_point_of_a_sample_is_read(sample):
    folder = plateau_sample(sample)
    with open_dataset(folder) as dataset:
        found = list(dataset.features())
        warnings = [str(w) for info in dataset.file_infos for w in info.warnings]
    geometries = [g for f in found for m in walk(f) for g in m.geometries]
    polygons = {id(p) for g in geometries for p in g.polygons()}  # a polygon an xlink reuses counts once
    assert len(polygons) == xpath_count(folder, ("Polygon",))
    assert sum(len(g.triangles) for g in geometries if g.triangles is not None) == xpath_count(folder, ("Triangle",))
    assert sum(len(g.curves) for g in geometries) == xpath_count(folder, ("LineString", "LineStringSegment"))
    assert sum(len(g.points) for g in geometries if g.points is not None) == xpath_count(folder, ("Point",))
    assert [w for w in warnings if "not read" in w or "no geometry" in w] == []


@pytest.mark.parametrize(("sample", "features", "elements"), [
    ("08220_tsukuba", {"frn": 5, "urf": 1, "veg": 6},
     {"frn": {"CityFurniture": 5}, "urf": {"UseDistrict": 1}, "veg": {"PlantCover": 3, "SolitaryVegetationObject": 3}}),
    ("15202_nagaoka", {"frn": 1}, {"frn": {"CityFurniture": 1}}),
    ("13105_bunkyo", {"wtr": 5}, {"wtr": {"WaterBody": 5}}),
    ("13115_suginami", {"tran": 1}, {"tran": {"Road": 1}}),
    ("43206_tamana", {"lsld": 2}, {"lsld": {"SedimentDisasterProneArea": 2}}),
    ("02321_ajigasawa", {"fld": 10}, {"fld": {"WaterBody": 10}}),
    ("40130_fukuoka", {"tnm": 4}, {"tnm": {"WaterBody": 4}}),
])
def test_summary_counts_each_type_and_element(sample, features, elements):
    folder = plateau_sample(sample)
    with open_dataset(folder) as dataset:
        summary = summarize(dataset)
    assert summary.features == features and summary.elements == elements
    members = xpath_count(folder, ("cityObjectMember",))
    assert summary.total_features == members


def test_traffic_areas_and_lods_of_a_road(suginami):
    with open_dataset(suginami) as dataset:
        summary = summarize(dataset)
    gml = next(suginami.glob("udx/tran/*.gml"))
    tree = etree.parse(str(gml))
    areas = tree.xpath("//*[local-name()='TrafficArea' or local-name()='AuxiliaryTrafficArea']")
    expected = Counter(etree.QName(e).localname for e in areas)
    assert summary.surfaces == {"tran": dict(expected)} and expected["TrafficArea"] == 2
    assert summary.lods == {"tran": {"1": 1, "2": 1}}


def test_furniture_drawn_as_a_curve_is_a_line_at_lod0(nagaoka):
    with open_dataset(nagaoka) as dataset:
        (furniture,) = list(dataset.features())
        summary = summarize(dataset)
    gml = next(nagaoka.glob("udx/frn/*.gml"))
    (pos_list,) = etree.parse(str(gml)).xpath("//*[local-name()='LineStringSegment']/*[local-name()='posList']/text()")
    values = [float(v) for v in pos_list.split()]
    (geometry,) = furniture.geometries
    assert (geometry.lod, geometry.role) == (0, "Geometry")  # i-UR's DmGeometricAttribute/lod0Geometry
    assert geometry.curves[0].ravel().tolist() == values
    assert summary.lods == {"frn": {"0": 1}} and summary.geometry == {"frn": {"lines": 1}}


def test_vegetation_points_and_solids(tsukuba):
    with open_dataset(tsukuba) as dataset:
        summary = summarize(dataset)
    assert summary.lods["veg"] == {"0": 6, "1": 6, "2": 6, "3": 6}
    assert summary.geometry["veg"]["points"] == xpath_count(tsukuba / "udx" / "veg", ("Point",)) == 6
