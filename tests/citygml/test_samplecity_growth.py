"""The sample city's bridges, river and land use, and a town that grows with its buildings."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely
from lxml import etree

from citygml import open_dataset
from citygml.jpgis_dem import is_gsi_dem, read_dem
from citygml.meshcode import mesh_bbox
from citygml.samplecity import generate, plan
from citygml.samplecity.terrain import CORRIDOR_HALF_WIDTH, ground_height, river_centre_y

NS = {"gml": "http://www.opengis.net/gml"}
#: Building usage → land-use class, from the descriptions in PLATEAU's Common_landUseType.xml
#: (住宅用地 lists 住宅, 共同住宅, 店舗等併用住宅 …; 商業用地 業務施設, 商業施設 …).
LAND_OF_USAGE = {"401": "212", "402": "212", "403": "212", "404": "212", "411": "211", "412": "211",
                 "413": "211", "414": "211", "415": "211", "421": "214", "422": "214", "431": "216",
                 "441": "213", "451": "219"}
OPEN_LAND = {"201", "202", "203", "217"}  # 田, 畑, 山林, 公共空地


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("growth") / "out", buildings=600, seed=11, textures=False)


@pytest.fixture(scope="module")
def read_back(city):
    """The written features by type, as the reader returns them."""
    with open_dataset(city.out) as dataset:
        found: dict[str, list] = {}
        for f in dataset.features():
            found.setdefault(f.type, []).append(f)
    return found


def _local(city, ring: np.ndarray) -> np.ndarray:
    x, y = city.plan.site.to_local(ring[:, 0], ring[:, 1])
    return np.column_stack([x, y])


def _shape(city, polygon) -> shapely.Polygon:
    return shapely.Polygon(_local(city, polygon.exterior))


def _water(city, read_back) -> shapely.Geometry:
    return shapely.union_all([_shape(city, p) for f in read_back["wtr"] for p in f.geometries[0].polygons()])


# -- the river ------------------------------------------------------------------------------


def test_river_is_one_planar_water_body_per_second_order_mesh(city, read_back):
    rivers = read_back["wtr"]
    assert [Path(f.source).name.split("_")[0] for f in rivers] == city.plan.site.meshes(2) == ["533973"]
    for f in rivers:
        assert (f.element, f.attributes["name"]) == ("WaterBody", "新河岸川")
        assert f.attributes["class"].code == "1030" and f.attributes["class"].label == "river / stream（河川/小川）"
    points = np.concatenate([np.column_stack([_local(city, p.exterior), p.exterior[:, 2]])
                             for f in rivers for p in f.geometries[0].polygons()])
    # One plane for the whole river: heights linear in easting to the written 1 mm (±0.5 mm rounding),
    # falling 0.5 m/km as docs/sample-city.md says.
    fit, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(points)), points[:, 0], points[:, 1]]), points[:, 2])
    residual = points[:, 2] - np.column_stack([np.ones(len(points)), points[:, 0], points[:, 1]]) @ fit
    assert np.abs(residual).max() < 1e-3
    assert fit[1] == pytest.approx(-0.0005, abs=1e-6) and abs(fit[2]) < 1e-6
    water = _water(city, read_back)
    west, _, east, _ = water.bounds
    assert west == pytest.approx(0.0, abs=0.5) and east == pytest.approx(city.plan.site.width, abs=0.5)


def test_river_banks_meet_the_ground_and_levees_hold_it(city, read_back):
    site, terrain = city.plan.site, city.plan.terrain
    for f in read_back["wtr"]:
        for p in f.geometries[0].polygons():
            xy = _local(city, p.exterior)
            ground = ground_height(xy[:, 0], xy[:, 1], site, terrain.phases)
            # The bank is where the channel's parabola meets the water; the levee's toe (+0.06 m)
            # and the ±0.35 m low relief damped to a third at the bank lift it by at most ~0.2 m.
            assert np.all(ground - p.exterior[:, 2] > -0.15) and np.all(ground - p.exterior[:, 2] < 0.25)
            # Levee-foot ground, from the written TIN, stands well above normal water.
            x = xy[:, 0]
            for side in (-1, 1):
                foot = terrain.height_at(x, river_centre_y(x, site) + side * CORRIDOR_HALF_WIDTH)
                assert np.all(foot > p.exterior[:, 2] + 2.5)


# -- bridges --------------------------------------------------------------------------------


def test_bridges_span_the_river_from_road_to_road(city, read_back):
    bridges = read_back["brid"]
    assert len(bridges) >= 4
    water = _water(city, read_back)
    roads = [_shape(city, p) for f in read_back["tran"] for p in f.geometries[0].polygons()]
    road_tree = shapely.STRtree(roads)
    heights = np.concatenate([p.exterior for f in read_back["wtr"] for p in f.geometries[0].polygons()])
    site = city.plan.site
    for b in bridges:
        assert b.attributes["class"].code in {"01", "02", "03"} and b.attributes["class"].label
        assert b.attributes["function"].code == "01" and b.attributes["function"].label == "道路橋"
        assert 1950 < b.attributes["yearOfConstruction"] < 2020
        lod1 = b.geometry(1, "Solid").polygons()
        deck = _shape(city, lod1[-1])  # the top, counter-clockwise seen from above
        assert deck.intersection(water).area > 300  # a 16 m main-road deck over some 33 m of water
        corners = _local(city, lod1[-1].exterior)
        ends = [(corners[0] + corners[1]) / 2, (corners[2] + corners[3]) / 2]
        sides = [np.sign(e[1] - river_centre_y(e[0], site)) for e in ends]
        assert sides[0] * sides[1] < 0, "the two ends stand on opposite banks"
        for end in ends:
            assert not water.contains(shapely.Point(end))
            nearest = road_tree.query_nearest(shapely.Point(end), return_distance=True)[1][0]
            assert nearest < 2.0, "each end meets a street"
        # LOD1 from the water surface (PLATEAU: 水面から橋梁の最高高さ) to the deck top.
        bottom, top = lod1[0].exterior[0, 2], lod1[-1].exterior[0, 2]
        near = heights[np.argsort(np.abs(heights[:, 1] - lod1[0].exterior[:, 1].mean()))[:2]]
        assert bottom == pytest.approx(near[:, 2].mean(), abs=0.02)
        assert top > bottom + 4.0
        _assert_closed(b.geometry(2, "Solid").polygons())
        floors = [s for s in b.geometry(2, "boundedBy").surfaces if s.semantic == "OuterFloorSurface"][0].polygons
        span = floors[1].exterior  # the flat part between the ramps
        xy = _local(city, span)
        centre = xy.mean(axis=0)
        under = city.plan.terrain.height_at(np.r_[xy[:, 0], centre[0]], np.r_[xy[:, 1], centre[1]])
        assert np.all(span[0, 2] >= under + 0.9), "the span clears the levees by about a metre"


def _assert_closed(polygons) -> None:
    """A closed, consistently oriented surface: every directed edge is matched by its reverse."""
    edges: Counter = Counter()
    for p in polygons:
        ring = [tuple(v) for v in p.exterior]
        edges.update(zip(ring, ring[1:] + ring[:1]))
    assert all(edges[(b, a)] == n for (a, b), n in edges.items())


# -- land use -------------------------------------------------------------------------------


def test_land_use_tiles_the_site_with_plateau_classes(city, read_back):
    root = etree.parse(str(city.out / "codelists" / "Common_landUseType.xml")).getroot()
    listed = {d.findtext("gml:name", namespaces=NS) for d in root.iterfind(".//gml:Definition", NS)}
    uses = read_back["luse"]
    assert all(f.attributes["class"].code in listed and f.attributes["class"].label for f in uses)
    shapes = [(f.attributes["class"].code, _shape(city, p)) for f in uses for p in f.geometries[0].polygons()]
    polygons = np.array([s for _, s in shapes])
    site_area = city.plan.site.width * city.plan.site.height
    assert shapely.union_all(polygons).area == pytest.approx(site_area, rel=1e-3)
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    pairs = left < right
    # Shared edges are written to 1e-9° (≈0.1 mm); over some 500 km of edges that leaves < 50 m² of slivers.
    assert shapely.area(shapely.intersection(polygons[left[pairs]], polygons[right[pairs]])).sum() < 50.0
    classes = Counter(code for code, _ in shapes)
    assert {"201", "204", "205", "211", "212", "215"} <= set(classes)


def test_every_building_stands_on_land_of_its_use_or_its_blocks(city, read_back):
    uses = read_back["luse"]
    shapes = [(f.attributes["class"].code, _shape(city, p)) for f in uses for p in f.geometries[0].polygons()]
    tree = shapely.STRtree([s for _, s in shapes])
    by_block: dict[int, set[str]] = {}
    homes: dict[int, int] = {}
    for b in read_back["bldg"]:
        member = b.parts[0] if b.parts else b
        centre = shapely.Point(_local(city, member.geometry(1, "Solid").polygons()[0].exterior).mean(axis=0))
        hits = [k for k in tree.query(centre, predicate="within")]
        assert len(hits) == 1, "each building stands on exactly one land-use polygon"
        homes[id(b)] = hits[0]
        by_block.setdefault(hits[0], set()).add(LAND_OF_USAGE[member.usage.code])
    for k, expected in by_block.items():
        assert shapes[k][0] in expected, "a built block takes the land use of one of its buildings"
    empty = {k for k in range(len(shapes)) if k not in by_block and shapes[k][0] not in {"204", "205", "215"}}
    assert empty and all(shapes[k][0] in OPEN_LAND for k in empty)
    roads = sum(s.area for code, s in shapes if code == "215")
    streets = sum(_shape(city, p).area for f in read_back["tran"] for p in f.geometries[0].polygons())
    assert roads == pytest.approx(streets, rel=1e-6)


# -- bytes, and building files alone --------------------------------------------------------


def _digest(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_with_textures_and_files_built_in_any_order(tmp_path):
    first = generate(tmp_path / "a", buildings=250, seed=3, textures=True)
    second = generate(tmp_path / "b", buildings=250, seed=3, textures=True)
    assert any(p.suffix == ".png" for p in first.files)
    assert _digest(first.out) == _digest(second.out)
    files = list(first.plan.files)
    once = [f.gml_id for f in first.plan.files[files[-1]]]
    for rel in files[:5]:
        first.plan.files[rel]
    fresh = plan(buildings=250, seed=3, textures=True)
    assert [f.gml_id for f in first.plan.files[files[-1]]] == once == [f.gml_id for f in fresh.files[files[-1]]]


# -- growth ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_city_beyond_the_old_limit_grows_its_town_hazards_and_shelters():
    small, big = plan(buildings=6000, seed=5), plan(buildings=40_000, seed=5)
    site = big.site
    assert site.scale >= math.sqrt(2) - 1e-9 and len(big.town.plans) == 40_000
    assert site.width > 5000 and site.meshes(2) == ["533973", "533974"]
    x = np.array([p.centroid[0] for p in big.town.plans])
    assert x.max() > 4500  # beyond the 3.6 km of the old frame
    # The terrain is written for both 2nd-order meshes, each triangle in the file of its centroid.
    dems = [rel for rel in big.files if rel.startswith("udx/dem/")]
    assert dems == ["udx/dem/533973_dem_6697_op.gml", "udx/dem/533974_dem_6697_op.gml"]
    triangles = 0
    for rel in dems:
        tin = big.files[rel][0].geometries[0].triangles
        west, south, east, north = mesh_bbox(rel.split("/")[-1][:6])
        centre = tin.mean(axis=1)
        assert np.all((centre[:, 0] >= south) & (centre[:, 0] < north) & (centre[:, 1] >= west) & (centre[:, 1] < east))
        triangles += len(tin)
    ny, nx = big.terrain.z.shape
    assert triangles == 2 * (ny - 1) * (nx - 1)
    # Official flood extents and building risks reach the grown east of the town.
    at_risk = [p for p in big.town.plans if any(r.scenario for r in big.town.risks[p.number])]
    assert max(p.centroid[0] for p in at_risk) > 4500
    assert len(big.town.inland.cx) == 14  # seven pools per 3.6 km × 2.8 km of town
    # Shelters grow with the residents (today's generator stopped at 40).
    assert len(small.shelters) >= 35 and len(big.shelters) > 4 * len(small.shelters)
    places = sum(s.capacity for s in big.shelters) / sum(s.capacity for s in small.shelters)
    assert places > 4
    assert len(big.town.bridges) > len(small.town.bridges)


# -- the ground as a GSI DEM ----------------------------------------------------------------


def test_gsi_dem_of_the_ground_carries_the_buildings(tmp_path):
    city = generate(tmp_path / "out", buildings=300, seed=7, textures=False, gsi_dem=True)
    zips = sorted((city.out / "gsi").glob("*.zip"))
    assert [z.name for z in zips] == ["FG-GML-5339-73-DEM5A.zip"] and is_gsi_dem(zips[0])
    grid = read_dem(zips)
    assert grid.warnings == [] and {s.product for s in grid.sources} == {"DEM5A"}
    assert len(grid.sources) == len(city.plan.site.meshes(3)) == 16
    west, south, east, north = city.bbox
    g_west, g_south, g_east, g_north = grid.bounds
    assert g_west <= west and g_south <= south and g_east >= east and g_north >= north
    # Cells off the TIN are データなし; every cell whose centre is on it has a height.
    rows, cols = grid.heights.shape
    lon = grid.transform.c + (np.arange(cols) + 0.5) * grid.transform.a
    lat = grid.transform.f + (np.arange(rows) + 0.5) * grid.transform.e
    x, y = city.plan.site.to_local(*np.meshgrid(lat, lon, indexing="ij"))
    xs, ys = city.plan.terrain.xs, city.plan.terrain.ys
    on_tin = (x > xs[0] + 0.1) & (x < xs[-1] - 0.1) & (y > ys[0] + 0.1) & (y < ys[-1] - 0.1)
    off_tin = (x < xs[0] - 0.1) | (x > xs[-1] + 0.1) | (y < ys[0] - 0.1) | (y > ys[-1] + 0.1)
    assert on_tin.sum() > 300_000 and not np.isnan(grid.heights[on_tin]).any()
    assert np.isnan(grid.heights[off_tin]).all()
    # Each building's ground (the lowest TIN height under its footprint's corners) against the DEM
    # cell holding each corner: a cell's value is the TIN at its centre, at most 4 m from the corner
    # (half the diagonal of a 0.2″ cell, 5.0 m × 6.2 m here), so they differ by at most the TIN's
    # steepest slope × 4 m, plus 5 mm of rounding to GSI's 2 decimals.
    z, step = city.plan.terrain.z, float(xs[1] - xs[0])
    # A TIN triangle's gradient has one grid difference along each axis as its components.
    steepest = max(np.abs(np.diff(z, axis=0)).max(), np.abs(np.diff(z, axis=1)).max()) / step * np.sqrt(2)
    bound = float(steepest) * 4.0 + 0.006
    gaps = []
    for b in read_all(city.out, "bldg"):
        member = b.parts[0] if b.parts else b
        bottom = member.geometry(1, "Solid").polygons()[0].exterior
        dem = grid.height_at(bottom[:, 1], bottom[:, 0])
        gaps.append(float(dem.min() - bottom[0, 2]))
    gaps = np.abs(gaps)
    assert np.median(gaps) < 0.05 and gaps.max() <= bound


def read_all(out: Path, kind: str) -> list:
    with open_dataset(out) as dataset:
        return list(dataset.features(types={kind}))
