"""The sample city generator on its own: layout, well-formed PLATEAU XML, geometry and hazards."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from lxml import etree

from citygml.meshcode import mesh_bbox
from citygml.samplecity import generate
from citygml.samplecity.hazards import SCENARIOS, depth_rank
from citygml.samplecity.town import MAX_BUILDINGS

NS = {
    "core": "http://www.opengis.net/citygml/2.0",
    "bldg": "http://www.opengis.net/citygml/building/2.0",
    "gml": "http://www.opengis.net/gml",
    "gen": "http://www.opengis.net/citygml/generics/2.0",
    "app": "http://www.opengis.net/citygml/appearance/2.0",
    "uro31": "https://www.geospatial.jp/iur/uro/3.1",
    "uro20": "https://www.geospatial.jp/iur/uro/2.0",
}
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
N = 900


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("city") / "out", buildings=N, seed=7)


def _parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), PARSER)


def _ring_polygon(ring: np.ndarray) -> shapely.Polygon:
    return shapely.Polygon(ring[:, [1, 0]])  # (lon, lat)


def test_every_gml_file_is_well_formed_citygml_with_the_chosen_iur(city):
    gml = [p for p in city.files if p.suffix == ".gml"]
    assert gml
    for path in gml:
        root = _parse(path).getroot()
        assert root.tag == "{http://www.opengis.net/citygml/2.0}CityModel"
        assert root.nsmap["uro"] == "https://www.geospatial.jp/iur/uro/3.1"


def test_layout_and_file_names_follow_plateau(city):
    names = {str(p.relative_to(city.out)) for p in city.files}
    patterns = [
        r"udx/bldg/\d{8}_bldg_6697_op\.gml",
        r"udx/bldg/\d{8}_bldg_6697_appearance/11201-bldg-\d+\.png",
        r"udx/dem/\d{6}_dem_6697_op\.gml",
        r"udx/tran/\d{8}_tran_6697_op\.gml",
        r"udx/fld/(natl|pref)/arakawa_\w+/\d{8}_fld_6697_l[12]_op\.gml",
        r"udx/brid/\d{8}_brid_6697_op\.gml",
        r"udx/wtr/\d{6}_wtr_6697_op\.gml",
        r"udx/luse/\d{6}_luse_6697_op\.gml",
        r"codelists/\w+\.xml",
        r"shelters\.(geojson|csv)",
    ]
    for name in names:
        assert any(re.fullmatch(p, name) for p in patterns), name
    for p in patterns:
        assert any(re.fullmatch(p, n) for n in names), p
    assert any("/pref/" in n and n.endswith("_l1_op.gml") for n in names)
    assert any("/pref/" in n and n.endswith("_l2_op.gml") for n in names)


def test_counts_and_lod_mix(city):
    assert city.counts["bldg"] == N
    assert city.counts["dem"] == 1
    assert city.counts["tran"] > 50 and city.counts["fld"] > 10
    share = city.lod2_buildings / N
    assert 0.08 <= share <= 0.25
    bldgs = list(city.plan.features({"bldg"}))
    assert any(b.parts for b in bldgs)
    usages = [b.usage.code for b in bldgs if b.usage] + [p.usage.code for b in bldgs for p in b.parts]
    assert {"401", "402", "411", "412"} <= set(usages)


def test_every_feature_lies_in_the_mesh_its_file_is_named_after(city):
    for rel, features in city.plan.files.items():
        code = Path(rel).name.split("_")[0]
        west, south, east, north = mesh_bbox(code)
        for f in features:
            members = f.parts or [f]
            for m in members:
                for g in m.geometries:
                    points = g.triangles.reshape(-1, 3) if g.triangles is not None else np.concatenate(
                        [p.exterior for p in g.polygons()]
                    )
                    lat, lon = points[:, 0].mean(), points[:, 1].mean()
                    if g.triangles is not None:  # the DEM file must hold all its vertices
                        assert south <= points[:, 0].min() and points[:, 0].max() < north
                        assert west <= points[:, 1].min() and points[:, 1].max() < east
                    else:  # a feature sits in the file of its centre; allow a few metres' overhang
                        assert south - 1e-3 <= lat < north + 1e-3 and west - 1e-3 <= lon < east + 1e-3


def test_footprints_overlap_neither_each_other_nor_roads(city):
    footprints = [
        _ring_polygon(m.geometry(1, "Solid").polygons()[0].exterior)
        for b in city.plan.features({"bldg"})
        for m in (b.parts or [b])
    ]
    roads = [_ring_polygon(p.exterior) for r in city.plan.features({"tran"}) for p in r.geometries[0].polygons()]
    tree = shapely.STRtree(footprints)
    left, right = tree.query(footprints, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(np.array(footprints)[left[pairs]], np.array(footprints)[right[pairs]]))
    assert overlap.max(initial=0.0) < 1e-12  # parts of one building only touch
    hits = tree.query(roads, predicate="intersects")
    inter = shapely.area(shapely.intersection(np.array(roads)[hits[0]], np.array(footprints)[hits[1]]))
    assert inter.max(initial=0.0) < 1e-12


def test_lod1_prisms_are_closed(city):
    for b in list(city.plan.features({"bldg"}))[:200]:
        for m in b.parts or [b]:
            polys = m.geometry(1, "Solid").polygons()
            edges: dict[tuple, int] = {}
            for p in polys:
                ring = [tuple(v) for v in p.exterior]
                for a, c in zip(ring, ring[1:] + ring[:1]):
                    edges[(a, c)] = edges.get((a, c), 0) + 1
            # closed and consistently oriented: every directed edge is matched by its reverse
            assert all(edges.get((c, a)) == n for (a, c), n in edges.items())


def test_flood_depths_are_water_surface_minus_ground(city):
    bldgs = list(city.plan.features({"bldg"}))
    extents = list(city.plan.features({"fld"}))
    flooded = [b for b in bldgs if b.flood_risks or any(p.flood_risks for p in b.parts)]
    assert city.buildings_with_flood_risk == len(flooded) > 20
    checked = 0
    for b in flooded:
        member = b.parts[0] if b.parts else b
        ground = member.geometry(1, "Solid").polygons()[0].exterior[0, 2]
        lat, lon = member.geometry(1, "Solid").polygons()[0].exterior[:, :2].mean(axis=0)
        for r in member.risks:
            assert r.depth_m > 0
            assert r.rank.code == str(depth_rank(r.depth_m))
            if r.kind != "river":
                continue
            surface = _water_surface(extents, r.source.code, r.scale, lat, lon)
            if surface is not None:
                assert r.depth_m == pytest.approx(surface - ground, abs=0.02)
                checked += 1
    assert checked > 20


def _water_surface(extents, river_code, scale, lat, lon):
    """Water surface of the official flood polygon under a point (linear across the polygon)."""
    point = shapely.Point(lon, lat)
    for f in extents:
        r = f.risks[0]
        if r.source.code != river_code or r.scale != scale:
            continue
        for p in f.geometries[0].polygons():
            poly = _ring_polygon(p.exterior)
            if poly.contains(point):
                west, east = p.exterior[:, 1].min(), p.exterior[:, 1].max()
                h_west = p.exterior[p.exterior[:, 1] == west, 2][0]
                h_east = p.exterior[p.exterior[:, 1] == east, 2][0]
                return h_west + (h_east - h_west) * (lon - west) / (east - west)
    return None


def test_terrace_stays_dry_and_lowland_floods(city):
    surface_max = max(s.surface(np.array([0.0]))[0] for s in SCENARIOS)
    for b in city.plan.features({"bldg"}):
        member = b.parts[0] if b.parts else b
        ground = member.geometry(1, "Solid").polygons()[0].exterior[0, 2]
        river = [r for r in member.risks if r.kind == "river"]
        if ground > surface_max:
            assert not river
        if ground < 8.0:
            assert {r.scale for r in river} == {"L1", "L2"}


def test_codelists_cover_every_code_space_used(city):
    used = set()
    for path in city.files:
        if path.suffix == ".gml":
            used |= set(re.findall(r'codeSpace="(?:\.\./)+codelists/(\w+)\.xml">([^<]+)<', path.read_text("utf-8")))
    lists = {}
    for name in {n for n, _ in used}:
        root = _parse(city.out / "codelists" / f"{name}.xml").getroot()
        lists[name] = {d.findtext("gml:name", namespaces=NS): d.findtext("gml:description", namespaces=NS)
                       for d in root.iterfind(".//gml:Definition", NS)}
    for name, code in used:
        assert lists[name].get(code), (name, code)
    assert lists["Building_usage"]["411"] == "住宅"
    assert lists["RiverFloodingRiskAttribute_scale"]["2"] == "L2（想定最大規模）"


def test_textures_point_at_existing_images_polygons_and_rings(city):
    for path in city.out.glob("udx/bldg/*.gml"):
        tree = _parse(path)
        ids = set(tree.getroot().xpath("//@gml:id", namespaces=NS))
        for tex in tree.iterfind(".//app:ParameterizedTexture", NS):
            assert (path.parent / tex.findtext("app:imageURI", namespaces=NS)).is_file()
            for target in tex.iterfind("app:target", NS):
                assert target.get("uri")[1:] in ids
                coords = target.find(".//app:textureCoordinates", NS)
                assert coords.get("ring")[1:] in ids


def test_shelters_csv_and_geojson_agree_and_stand_mostly_on_high_ground(city):
    rows = list(csv.DictReader((city.out / "shelters.csv").open(encoding="utf-8")))
    assert list(rows[0]) == ["共通ID", "施設・場所名", "住所", "洪水", "崖崩れ、土石流及び地滑り", "高潮", "地震",
                             "津波", "大規模な火事", "内水氾濫", "火山現象", "緯度", "経度", "想定収容人数"]
    geo = json.loads((city.out / "shelters.geojson").read_text("utf-8"))["features"]
    assert len(rows) == len(geo) >= 3
    for row, feature in zip(rows, geo):
        assert row["共通ID"] == feature["properties"]["id"]
        assert float(row["緯度"]) == feature["geometry"]["coordinates"][1]
        assert int(row["想定収容人数"]) == feature["properties"]["capacity"] > 0
        assert {row[k] for k in ("洪水", "地震", "津波")} <= {"1", ""}
        assert feature["properties"]["name_en"]
    high = [s for s in city.plan.shelters if s.hazards["flood"]]
    assert len(high) >= 0.7 * len(rows)


def _digest(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_realistic_size(tmp_path):
    first = generate(tmp_path / "a", buildings=250, seed=3, textures=False)
    second = generate(tmp_path / "b", buildings=250, seed=3, textures=False)
    other = generate(tmp_path / "c", buildings=250, seed=4, textures=False)
    assert _digest(first.out) == _digest(second.out)
    assert _digest(first.out) != _digest(other.out)
    assert not list(first.out.rglob("*.png"))
    # about 6 KB per LOD1 building with flood attributes, like real PLATEAU tiles
    sizes = []
    for path in first.out.glob("udx/bldg/*.gml"):
        for member in re.findall(r"<core:cityObjectMember>.*?</core:cityObjectMember>", path.read_text("utf-8"), re.S):
            if "RiverFloodingRiskAttribute" in member and "lod2" not in member:
                sizes.append(len(member.encode()))
    if sizes:
        assert 4000 < np.mean(sizes) < 9000


def test_unknown_generation_and_impossible_sizes_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="i-UR"):
        generate(tmp_path / "x", buildings=10, iur="9.9")
    with pytest.raises(ValueError, match="at most 2,000,000"):
        generate(tmp_path / "y", buildings=MAX_BUILDINGS + 1)
    with pytest.raises(ValueError, match="negative"):
        generate(tmp_path / "z", buildings=-1)
    assert not (tmp_path / "y").exists() and not (tmp_path / "z").exists()
