"""Building meshes: closed solids, holes, concave rings, bad input, LOD fallback."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import trimesh
from hypothesis import given, settings
from hypothesis import strategies as st

from citygml.model import Feature, Geometry, Polygon, Surface, Texture
from tests.tools.synthetic_buildings import SITE, box_building, box_polygons, footprint, textured_wall, to_plateau
from twin.city.heights import DEFAULT_HEIGHT_M
from twin.tiles.meshes import MeshStats, building_mesh, building_meshes


def in_site(mesh) -> np.ndarray:
    """Mesh positions in the SITE frame (the frame the synthetic features were drawn in)."""
    return SITE.from_ecef(mesh.frame.to_ecef(mesh.positions.astype(float)))


def solid(mesh) -> trimesh.Trimesh:
    return trimesh.Trimesh(in_site(mesh), mesh.indices, process=True)


def one_polygon(polygon: Polygon, lod: int = 2) -> Feature:
    return Feature("b", "bldg", "Building", [Geometry(lod, "boundedBy", [Surface("WallSurface", [polygon])])])


def triangle_areas(mesh) -> np.ndarray:
    p = in_site(mesh)[mesh.indices]
    return np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1) / 2


def test_lod1_box_is_closed_with_the_box_volume_and_area():
    mesh = building_mesh(box_building("b", 0, 0, 12.0, 7.5, 9.0))
    box = solid(mesh)
    assert mesh.lod == 1
    assert box.is_watertight and box.is_winding_consistent
    assert box.volume == pytest.approx(12 * 7.5 * 9, rel=1e-5)  # positive: normals point out
    assert box.area == pytest.approx(2 * (12 * 7.5 + 12 * 9 + 7.5 * 9), rel=1e-5)


def test_flat_normals_are_unit_and_face_outwards():
    mesh = building_mesh(box_building("b", 0, 0, 10, 10, 10))
    p = mesh.positions[mesh.indices].astype(float)
    face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    face /= np.linalg.norm(face, axis=1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1, atol=1e-6)
    for corner in range(3):  # every vertex of a triangle carries that triangle's normal
        np.testing.assert_allclose(mesh.normals[mesh.indices[:, corner]], face, atol=1e-5)
    centre = mesh.positions.mean(axis=0)
    outward = np.einsum("ij,ij->i", face, p.mean(axis=1) - centre)
    assert (outward > 0).all()


def test_polygon_with_hole_covers_the_ring_minus_the_hole():
    outer = [[0, 0, 0], [10, 0, 0], [10, 0, 10], [0, 0, 10]]  # vertical, facing −y
    hole = [[3, 0, 3], [3, 0, 7], [7, 0, 7], [7, 0, 3]]
    mesh = building_mesh(one_polygon(Polygon(to_plateau(outer), [to_plateau(hole)])))
    assert triangle_areas(mesh).sum() == pytest.approx(100 - 16, rel=1e-6)
    centroids = in_site(mesh)[mesh.indices].mean(axis=1)
    inside_hole = (np.abs(centroids[:, 0] - 5) < 2) & (np.abs(centroids[:, 2] - 5) < 2)
    assert not inside_hole.any()
    np.testing.assert_allclose(mesh.normals @ (SITE.rotation.T @ mesh.frame.rotation).T,
                               np.tile([0, -1, 0], (len(mesh.normals), 1)), atol=1e-5)


def test_concave_l_shape_is_triangulated_inside_its_outline():
    outline = np.array([[0, 0], [20, 0], [20, 8], [8, 8], [8, 20], [0, 20]], float)
    ring = to_plateau(np.column_stack([outline, np.full(6, 12.0)]))
    mesh = building_mesh(one_polygon(Polygon(ring)))
    assert triangle_areas(mesh).sum() == pytest.approx(20 * 8 + 8 * 12, rel=1e-6)
    shape = shapely.Polygon(outline).buffer(1e-6)
    centroids = in_site(mesh)[mesh.indices].mean(axis=1)
    assert shapely.contains_xy(shape, centroids[:, 0], centroids[:, 1]).all()
    assert (mesh.normals @ (SITE.rotation.T @ mesh.frame.rotation).T)[:, 2] == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("ring", [
    np.array([[0, 0, 0], [5, 0, 0], [10, 0, 0]], float),  # collinear
    np.array([[0, 0, 0], [0, 0, 0], [5, 5, 0], [5, 5, 0]], float),  # two distinct points
    np.array([[0, 0, 0], [5, 0, 0], [np.nan, 5, 0]], float),  # not a number
], ids=["collinear", "repeated-points", "nan"])
def test_degenerate_ring_is_skipped_and_counted(ring):
    good = box_polygons(0, 0, 0, 5, 5, 5)
    bad = Polygon(to_plateau(ring) if np.isfinite(ring).all() else np.vstack([to_plateau(ring[:2]), [np.nan] * 3]))
    feature = Feature("b", "bldg", "Building", [Geometry(1, "Solid", [Surface("", [*good, bad])])])
    stats = MeshStats()
    mesh = building_mesh(feature, stats=stats)
    assert stats.degenerate_polygons == 1
    assert len(mesh.indices) == 12 and solid(mesh).is_watertight


def test_building_with_only_degenerate_geometry_gives_none_not_an_error():
    stats = MeshStats()
    bad = Polygon(to_plateau([[0, 0, 0], [1, 0, 0], [2, 0, 0]]))
    feature = Feature("b", "bldg", "Building", [Geometry(1, "Solid", [Surface("", [bad])])])
    assert building_mesh(feature, stats=stats) is None
    assert building_mesh(Feature("c", "bldg", "Building"), stats=stats) is None
    assert (stats.buildings, stats.without_geometry) == (2, 2)


def lod2_building() -> Feature:
    feature = box_building("b", 0, 0, 10, 10, 6.0)
    roof = Polygon(to_plateau([[0, 0, 11], [10, 0, 11], [10, 10, 11], [0, 10, 11]]))
    feature.geometries.append(Geometry(2, "boundedBy", [Surface("RoofSurface", [roof])]))
    return feature


@pytest.mark.parametrize(("requested", "used", "triangles"), [
    ("max", 2, 2), (2, 2, 2), (1, 1, 12), (0, 0, 12)])
def test_lod_request_picks_that_lod_or_the_next_lower(requested, used, triangles):
    mesh = building_mesh(lod2_building(), requested)
    assert (mesh.lod, len(mesh.indices)) == (used, triangles)


def test_lod_fallback_lod2_solid_then_lod1_then_lod0_extrusion():
    solid2 = Feature("b", "bldg", "Building", [Geometry(2, "Solid", [Surface("", box_polygons(0, 0, 0, 4, 4, 4))])])
    assert building_mesh(solid2, 2).lod == 2
    footprint_only = Feature("c", "bldg", "Building", [Geometry(0, "FootPrint", [Surface("", [footprint(0, 0, 3, 8, 5)])])],
                             {"measuredHeight": 7.0})
    stats = MeshStats()
    mesh = building_mesh(footprint_only, "max", stats=stats)
    prism = solid(mesh)
    assert mesh.lod == 0 and prism.is_watertight
    assert prism.volume == pytest.approx(8 * 5 * 7, rel=1e-5)
    assert prism.bounds[:, 2] == pytest.approx([3, 10], abs=1e-3)
    assert stats.default_height == 0 and stats.lods == {0: 1}


@pytest.mark.parametrize(("attributes", "height"), [
    ({}, DEFAULT_HEIGHT_M), ({"measuredHeight": -9999.0}, DEFAULT_HEIGHT_M),
    ({"storeysAboveGround": 4}, 12.0), ({"measuredHeight": 9999.0, "storeysAboveGround": 2}, 6.0)])
def test_extrusion_without_a_height_uses_the_default_and_counts_it(attributes, height):
    feature = Feature("b", "bldg", "Building", [Geometry(0, "FootPrint", [Surface("", [footprint(0, 0, 0, 10, 10)])])],
                      attributes)
    stats = MeshStats()
    prism = solid(building_mesh(feature, 0, stats=stats))
    assert prism.volume == pytest.approx(100 * height, rel=1e-5)
    assert stats.default_height == 1


def test_roof_edge_is_extruded_downwards():
    feature = Feature("b", "bldg", "Building", [Geometry(0, "RoofEdge", [Surface("", [footprint(0, 0, 20, 6, 6)])])],
                      {"measuredHeight": 8.0})
    prism = solid(building_mesh(feature, 0))
    assert prism.is_watertight and prism.volume == pytest.approx(6 * 6 * 8, rel=1e-5)
    assert prism.bounds[:, 2] == pytest.approx([12, 20], abs=1e-3)


def test_building_parts_replace_a_coarser_parent_geometry():
    parent = box_building("b", 0, 0, 20, 20, 5.0)
    part_a = Feature("pa", "bldg", "BuildingPart", [Geometry(2, "Solid", [Surface("", box_polygons(0, 0, 5, 10, 20, 5))])])
    part_b = Feature("pb", "bldg", "BuildingPart", [Geometry(2, "Solid", [Surface("", box_polygons(10, 0, 5, 10, 20, 9))])])
    parent.parts = [part_a, part_b]
    mesh = building_mesh(parent)
    assert mesh.lod == 2
    assert solid(mesh).volume == pytest.approx(10 * 20 * 5 + 10 * 20 * 9, rel=1e-5)
    assert building_mesh(parent, 1).lod == 1  # at LOD1 the parent's own solid wins
    assert solid(building_mesh(parent, 1)).volume == pytest.approx(20 * 20 * 5, rel=1e-5)


def test_textured_polygon_keeps_its_uvs_and_image():
    wall = textured_wall("appearance/wall.png")
    plain = Polygon(to_plateau([[0, 0, 5], [10, 0, 5], [10, 5, 5], [0, 5, 5]]))
    feature = Feature("b", "bldg", "Building", [Geometry(2, "boundedBy", [
        Surface("WallSurface", [wall]), Surface("RoofSurface", [plain])])])
    stats = MeshStats()
    mesh = building_mesh(feature, stats=stats)
    assert mesh.images == ("appearance/wall.png",) and stats.textured_polygons == 1
    textured = mesh.indices[mesh.triangle_image == 0]
    assert len(textured) == 2 and (mesh.triangle_image[mesh.triangle_image != 0] == -1).all()
    vertices = np.unique(textured)
    p = in_site(mesh)[vertices]
    # The texture maps x ∈ [0, 10] → u and z ∈ [0, 5] → v.
    np.testing.assert_allclose(mesh.uv[vertices], np.column_stack([p[:, 0] / 10, p[:, 2] / 5]), atol=1e-5)


def test_texture_with_hole_extends_uvs_affinely_and_mismatch_drops_texture():
    outer = [[0, 0, 0], [10, 0, 0], [10, 0, 10], [0, 0, 10]]
    hole = [[3, 0, 3], [3, 0, 7], [7, 0, 7], [7, 0, 3]]
    uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    polygon = Polygon(to_plateau(outer), [to_plateau(hole)], texture=Texture("t.jpg", uv))
    mesh = building_mesh(one_polygon(polygon))
    p = in_site(mesh)
    np.testing.assert_allclose(mesh.uv, p[:, [0, 2]] / 10, atol=1e-5)
    stats = MeshStats()
    wrong = Polygon(to_plateau(outer), texture=Texture("t.jpg", uv[:3]))
    assert building_mesh(one_polygon(wrong), stats=stats).uv is None
    assert stats.texture_mismatches == 1


def test_ellipsoidal_offset_raises_every_height():
    base = building_mesh(box_building("b", 0, 0, 10, 10, 10))
    raised = building_mesh(box_building("b", 0, 0, 10, 10, 10), ellipsoidal_offset=36.7)
    np.testing.assert_allclose(raised.bounds[4:] - base.bounds[4:], 36.7, atol=1e-6)
    assert raised.origin[2] - base.origin[2] == pytest.approx(36.7)


# --- real data ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def yokosuka_buildings():
    from citygml import open_dataset
    from tests.conftest import plateau_sample

    with open_dataset(plateau_sample("14201_yokosuka")) as dataset:
        return list(dataset.features(types=["bldg"]))


def test_yokosuka_buildings_all_mesh_with_lod2_where_present(yokosuka_buildings):
    stats = MeshStats()
    meshes = [building_mesh(f, stats=stats) for f in yokosuka_buildings]
    assert len(meshes) == 13 and all(m is not None for m in meshes)
    assert stats.lods == {2: sum(2 in f.lods for f in yokosuka_buildings), 1: 11}
    assert stats.degenerate_polygons == 0 and stats.default_height == 0
    assert stats.textured_polygons > 300
    for feature, mesh in zip(yokosuka_buildings, meshes):
        assert mesh.images or mesh.lod < 2
        if mesh.uv is not None:
            assert np.isfinite(mesh.uv).all()
        # Every vertex stays within the building's own coordinates (lon/lat degrees).
        points = np.concatenate([p.exterior for g in [feature, *feature.parts]
                                 for geo in g.geometries for p in geo.polygons()])
        assert mesh.bounds[0] >= points[:, 1].min() and mesh.bounds[2] <= points[:, 1].max()


def test_yokosuka_lod1_solids_are_closed_and_match_measured_height(yokosuka_buildings):
    for feature in yokosuka_buildings:
        if feature.parts:
            continue
        mesh = building_mesh(feature, 1)
        body = trimesh.Trimesh(mesh.positions.astype(float), mesh.indices, process=True)
        assert body.is_watertight, feature.gml_id
        assert body.volume > 0
        height = body.bounds[1, 2] - body.bounds[0, 2]
        assert height == pytest.approx(feature.measured_height, abs=0.6), feature.gml_id


# --- batched meshing ---------------------------------------------------------------------

def assert_same_meshes(features, lod) -> None:
    """Meshing ``features`` together gives each building the mesh it gets on its own."""
    alone, together = MeshStats(), MeshStats()
    expected = [building_mesh(f, lod, ellipsoidal_offset=36.7, stats=alone) for f in features]
    meshes = building_meshes(features, lod, ellipsoidal_offset=36.7, stats=together)
    assert together == alone
    assert len(meshes) == len(expected)
    for feature, mesh, one in zip(features, meshes, expected):
        assert (mesh is None) == (one is None), feature.gml_id
        if one is None:
            continue
        assert (mesh.origin, mesh.lod, mesh.images) == (one.origin, one.lod, one.images), feature.gml_id
        np.testing.assert_array_equal(mesh.bounds, one.bounds)
        np.testing.assert_allclose(mesh.positions, one.positions, atol=1e-5)  # metres
        np.testing.assert_allclose(mesh.normals, one.normals, atol=1e-6)
        np.testing.assert_array_equal(mesh.indices, one.indices)
        np.testing.assert_array_equal(mesh.feature_ids, one.feature_ids)
        for name in ("uv", "triangle_image"):
            a, b = getattr(mesh, name), getattr(one, name)
            assert (a is None) == (b is None), (feature.gml_id, name)
            if a is not None:
                np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("lod", ["max", 1, 0])
def test_sample_city_meshed_together_equals_one_by_one(sample_city, lod):
    from citygml import open_dataset

    with open_dataset(sample_city) as dataset:
        features = [f for f in dataset.features(types=["bldg"]) if f.element == "Building"]
    assert any(f.parts for f in features) and any(2 in f.lods for f in features)
    assert_same_meshes(features, lod)


@pytest.mark.parametrize("lod", ["max", 0])
def test_yokosuka_meshed_together_equals_one_by_one(yokosuka_buildings, lod):
    assert_same_meshes(yokosuka_buildings, lod)


def test_mixed_and_bad_buildings_meshed_together_equal_one_by_one():
    footprint_only = Feature("f", "bldg", "Building", [Geometry(0, "FootPrint", [Surface("", [footprint(30, 0, 3, 8, 5)])])],
                             {"measuredHeight": 7.0})
    roof_edge = Feature("r", "bldg", "Building", [Geometry(0, "RoofEdge", [Surface("", [footprint(0, 30, 20, 6, 6)])])])
    nan = Feature("n", "bldg", "Building", [Geometry(1, "Solid", [Surface("", [Polygon(np.full((4, 3), np.nan))])])])
    empty = Feature("e", "bldg", "Building")
    courtyard = Polygon(to_plateau([[0, 60, 0], [20, 60, 0], [20, 80, 0], [0, 80, 0]]),
                        [to_plateau([[5, 65, 0], [5, 75, 0], [15, 75, 0], [15, 65, 0]])])
    holed = Feature("h", "bldg", "Building", [Geometry(0, "FootPrint", [Surface("", [courtyard])])],
                    {"storeysAboveGround": 3})
    mixed = box_building("m", 60, 0, 20, 20, 5.0)
    mixed.parts = [Feature("p", "bldg", "BuildingPart", [Geometry(0, "FootPrint", [Surface("", [footprint(60, 0, 0, 10, 20)])])]),
                   Feature("q", "bldg", "BuildingPart", [Geometry(2, "Solid", [Surface("", box_polygons(70, 0, 0, 10, 20, 9))])])]
    features = [footprint_only, nan, lod2_building(), empty, roof_edge, holed, mixed,
                one_polygon(textured_wall("appearance/wall.png"))]
    for lod in ("max", 0):
        assert_same_meshes(features, lod)
    assert building_meshes([]) == []


# --- properties ----------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(radii=st.lists(st.floats(2.0, 20.0), min_size=3, max_size=24),
       tilt=st.floats(0.0, np.pi), turn=st.floats(0.0, 2 * np.pi))
def test_any_star_shaped_polygon_in_any_plane_keeps_its_area(radii, tilt, turn):
    angles = np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    outline = np.column_stack([np.cos(angles) * radii, np.sin(angles) * radii])
    expected = shapely.Polygon(outline).area
    # Tilt the plane about the x axis, then turn it about the vertical.
    ct, stt, cz, sz = np.cos(tilt), np.sin(tilt), np.cos(turn), np.sin(turn)
    rotation = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]]) @ np.array([[1, 0, 0], [0, ct, -stt], [0, stt, ct]])
    ring = np.column_stack([outline, np.zeros(len(outline))]) @ rotation.T + [0, 0, 30]
    stats = MeshStats()
    mesh = building_mesh(one_polygon(Polygon(to_plateau(ring))), stats=stats)
    assert stats.degenerate_polygons == 0
    assert triangle_areas(mesh).sum() == pytest.approx(expected, rel=1e-5)
    site_normals = mesh.normals @ (SITE.rotation.T @ mesh.frame.rotation).T
    np.testing.assert_allclose(site_normals, np.tile(rotation[:, 2], (len(site_normals), 1)), atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.tuples(*[st.sampled_from([0.0, 1.0, 5.0, np.nan, 1e-9])] * 3),
                         min_size=0, max_size=6), min_size=1, max_size=4))
def test_garbage_rings_never_crash(rings):
    polygons = [Polygon(to_plateau(np.nan_to_num(np.array(r, float).reshape(-1, 3))) *
                        np.where(np.isnan(np.array(r, float).reshape(-1, 3)), np.nan, 1.0))
                for r in rings]
    stats = MeshStats()
    mesh = building_mesh(Feature("b", "bldg", "Building", [Geometry(1, "Solid", [Surface("", polygons)])]),
                         stats=stats)
    assert mesh is None or (np.isfinite(mesh.positions).all() and len(mesh.indices) > 0)
