"""The reader on real PLATEAU tiles: counts and values checked against the files themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lxml import etree

from citygml import open_dataset, read_file
from citygml.codelists import parse_dictionary
from citygml.model import Feature


def xpath_count(path: Path, expression: str) -> int:
    """An independent count straight from the XML (whole-tree parse; fine for small samples)."""
    tree = etree.parse(str(path))
    return int(tree.xpath(f"count({expression})"))


def features(path: Path, **kw) -> list[Feature]:
    with open_dataset(path) as dataset:
        return list(dataset.features(**kw))


def all_polygons(feature: Feature):
    for geometry in feature.geometries:
        yield from geometry.polygons()
    for part in feature.parts:
        yield from all_polygons(part)


def test_sapporo_buildings_have_river_flood_depths(sapporo, koshigaya):
    gml = next(sapporo.glob("udx/bldg/*.gml"))
    buildings = features(sapporo)
    assert len(buildings) == 25 == xpath_count(gml, "//*[local-name()='Building']")
    assert all(b.flood_risks and all(r.depth_m is not None for r in b.flood_risks) for b in buildings)
    entries = sum(len(b.risks) for b in buildings)
    assert entries == xpath_count(gml, "//*[local-name()='BuildingRiverFloodingRiskAttribute']")
    first = buildings[0]
    assert first.gml_id == "bldg_e3cf1894-2973-4742-b301-3896f04afd99"
    assert first.building_id == "01100-bldg-636971"
    assert [(r.kind, r.scale, r.depth_m) for r in first.risks] == [("river", "L1", 0.682), ("river", "L2", 1.09)]
    assert first.measured_height == pytest.approx(2.9)
    # Sapporo's sample came without codelists: the bundled i-UR 2.0 lists decode the class,
    # with the label Koshigaya's own Building_class.xml gives the same code.
    koshigaya_classes = parse_dictionary((koshigaya / "codelists" / "Building_class.xml").read_bytes())
    assert first.building_class.code == "3001" and first.building_class.label == koshigaya_classes["3001"]


def test_sapporo_geometry_is_lat_lon_h_without_closing_point(sapporo):
    first = features(sapporo)[0]
    assert first.lods == (0, 1)
    solid = first.geometry(1, "Solid")
    assert solid is not None and len(solid.polygons()) == 6
    ring = solid.polygons()[0].exterior
    assert ring.shape == (4, 3)
    np.testing.assert_allclose(ring[0], [42.94147409013628, 141.44132418475294, 100.378])
    roof_edge = first.geometry(0, "RoofEdge").polygons()[0].exterior
    assert roof_edge[:, 2] == pytest.approx([103.378] * 4)


def test_koshigaya_iur31_risks_with_duration_and_decoded_labels(koshigaya):
    gml = next(koshigaya.glob("udx/bldg/*.gml"))
    buildings = features(koshigaya)
    assert len(buildings) == 5
    risks = [r for b in buildings for r in b.risks]
    assert len(risks) == xpath_count(gml, "//*[local-name()='bldgDisasterRiskAttribute']/*")
    assert sum(r.kind == "inland" for r in risks) == xpath_count(gml, "//*[local-name()='InlandFloodingRiskAttribute']")
    assert sum(r.duration_h is not None for r in risks) == xpath_count(gml, "//*[local-name()='duration']")
    first = buildings[0]
    assert first.usage.code == "411" and first.usage.label == "住宅"
    assert first.risks[0].source.label == "利根川水系利根川"
    assert first.risks[0].rank.label == "0.5m以上3m未満"
    assert first.risks[1].duration_h == pytest.approx(123.4)
    assert {r.scale for r in risks if r.kind == "river"} <= {"L1", "L2"}


def test_yokosuka_textured_lod2_and_parts(yokosuka):
    gml = next(yokosuka.glob("udx/bldg/*.gml"))
    buildings = features(yokosuka, types=["bldg"])
    assert len(buildings) == 13
    textured = [b for b in buildings if any(p.texture for p in all_polygons(b))]
    # Three texture images, named after the buildings that use them (one with two parts).
    images = {p.texture.image for b in textured for p in all_polygons(b) if p.texture}
    assert len(images) == len(list(yokosuka.glob("udx/bldg/*_appearance/*.jpg"))) == 3
    assert {b.building_id for b in textured} == {"14201-bldg-110968", "14201-bldg-156842"}
    textured_polygons = {id(p) for b in buildings for p in all_polygons(b) if p.texture}
    assert len(textured_polygons) == xpath_count(gml, "//*[local-name()='textureCoordinates']")
    for b in textured:
        for p in all_polygons(b):
            if p.texture:
                assert p.texture.uv.shape == (len(p.exterior), 2)
                assert (p.texture.uv >= 0).all() and (p.texture.uv <= 1).all()
    with_parts = [b for b in buildings if b.parts]
    assert len(with_parts) == 1 and len(with_parts[0].parts) == 2
    lod2 = [b for b in buildings if 2 in b.lods]
    assert len(lod2) == 2
    semantics = {s.semantic for b in lod2 for f in (b, *b.parts) for g in f.geometries if g.role == "boundedBy" for s in g.surfaces}
    assert semantics == {"RoofSurface", "WallSurface", "GroundSurface"}


def test_yokosuka_lod2_solid_xlinks_resolve_to_boundary_polygons(yokosuka):
    building = next(b for b in features(yokosuka, types=["bldg"]) if b.building_id == "14201-bldg-110968")
    bounded = {id(p) for p in building.geometry(2, "boundedBy").polygons()}
    solid = building.geometry(2, "Solid")
    assert solid is not None and len(solid.polygons()) > 0
    assert {id(p) for p in solid.polygons()} <= bounded


def test_yokosuka_dem_tin_triangles(yokosuka):
    dem = features(yokosuka, types=["dem"])
    gml = next(yokosuka.glob("udx/dem/*.gml"))
    triangles = np.concatenate([g.triangles for f in dem for g in f.geometries])
    assert triangles.shape == (xpath_count(gml, "//*[local-name()='Triangle']"), 3, 3) == (1066, 3, 3)
    lat, lon = triangles[..., 0], triangles[..., 1]
    assert 35.0 < lat.min() and lat.max() < 35.5 and 139.5 < lon.min() and lon.max() < 140.0


def test_osaka_unknown_height_is_missing_not_minus_9999(osaka2):
    osaka = osaka2
    buildings = features(osaka)
    assert len(buildings) == 63
    heights = [b.measured_height for b in buildings]
    assert heights.count(None) == 1
    assert all(h is None or 0 < h < 400 for h in heights)
    with_flood = sum(bool(b.flood_risks) for b in buildings)
    gml = next(osaka.glob("udx/bldg/*.gml"))
    assert with_flood == xpath_count(gml, "//*[local-name()='Building'][.//*[local-name()='RiverFloodingRiskAttribute']]")


def test_suginami_road_surfaces(suginami):
    roads = features(suginami)
    assert [r.element for r in roads] == ["Road"]
    gml = next(suginami.glob("udx/tran/*.gml"))
    lod1 = roads[0].geometry(1, "MultiSurface")
    assert lod1 is not None
    assert len(lod1.polygons()) == xpath_count(gml, "//*[local-name()='lod1MultiSurface']//*[local-name()='Polygon']")
    assert roads[0].attributes["class"].label == "道路"


def test_numazu_hazard_layers(numazu):
    layers = features(numazu)
    assert sorted(f.type for f in layers) == ["fld"] * 3 + ["tnm"] * 3
    assert all(f.element == "WaterBody" for f in layers)
    fld = [f for f in layers if f.type == "fld"]
    assert {r.kind for f in fld for r in f.risks} == {"river"}
    assert {r.scale for f in fld for r in f.risks} == {"L1"}
    tnm = [f for f in layers if f.type == "tnm"]
    assert {r.kind for f in tnm for r in f.risks} == {"tsunami"}
    assert all(f.geometry(1, "MultiSurface") is not None for f in layers)


def test_type_mesh_and_bbox_filters_select_files_before_parsing(yokosuka):
    with open_dataset(yokosuka) as dataset:
        assert {f.type for f in dataset.files} == {"bldg", "dem"}
        assert [f.mesh for f in dataset.select(types=["bldg"])] == ["52397519"]
        assert dataset.select(meshes=["5239"]) == dataset.files
        assert dataset.select(bbox=(130.0, 30.0, 130.1, 30.1)) == []
        assert len(dataset.select(types=["dem"], meshes=["523965"])) == 1


def test_single_gml_finds_codelists_of_its_dataset(koshigaya):
    gml = next(koshigaya.glob("udx/bldg/*.gml"))
    first = next(iter(read_file(gml)))
    assert first.usage.label == "住宅"
