"""3D Tiles 1.1 output: valid glb, a sound tree, every building once with its properties."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from lxml import etree
from PIL import Image

from citygml.model import Feature, Geometry, Surface
from tests.tools.gltf_validator import validate_gltf
from tests.tools.synthetic_buildings import box_building, city, textured_wall
from tests.tools.tileset_rules import check_tileset
from twin.tiles.city_tiles import (
    TilingOptions,
    mesh_buildings,
    write_building_tiles,
    write_buildings,
)
from twin.tiles.glb import accessor_array, read_glb
from twin.tiles.meshes import building_mesh
from twin.tiles.metadata import BuildingProperties
from twin.tiles.terrain_tiles import write_terrain_tiles


def assert_valid_gltf(paths) -> None:
    reports = validate_gltf(list(paths))
    assert len(reports) == len(paths)
    bad = [(r["path"], [m for m in r["messages"] if m["severity"] == 0]) for r in reports if r["numErrors"]]
    assert not bad, bad


@pytest.fixture(scope="module")
def small_city(tmp_path_factory):
    """300 buildings cut into leaves of at most 15 (depth 3), external tilesets every 2 levels."""
    features = city(300, seed=3)
    work = tmp_path_factory.mktemp("city")
    # Two "files" meshed by separate tasks, then merged.
    mesh_buildings(features[:170], work / "batch-a")
    mesh_buildings(features[170:], work / "batch-b")
    options = TilingOptions(max_buildings=15, levels_per_file=2)
    summary = write_building_tiles([work / "batch-a", work / "batch-b"], work / "tiles", options)
    return features, work / "tiles", summary


def test_small_city_follows_the_3d_tiles_rules(small_city):
    features, out, summary = small_city
    report = check_tileset(out / "tileset.json")
    assert len(report.tileset_files) > 1  # the tree continues in external tilesets
    assert report.max_depth >= 3
    assert summary.features == 300 and summary.content_tiles == len(report.contents)
    assert summary.tileset_files == len(report.tileset_files)
    assert summary.bytes == sum(p.stat().st_size for p in report.contents)
    assert sorted(r["gml_id"] for r in report.features) == sorted(f.gml_id for f in features)


def test_small_city_glbs_pass_the_khronos_validator(small_city):
    _, out, _ = small_city
    assert_valid_gltf(sorted((out / "content").glob("*.glb")))


def test_leaves_respect_the_building_limit_and_are_balanced(small_city):
    _, out, _ = small_city
    counts = []
    for glb in (out / "content").glob("*.glb"):
        document, _ = read_glb(glb.read_bytes())
        counts.append(document["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["count"])
    assert max(counts) <= 15 and sum(counts) == 300
    assert min(counts) >= 300 / 4 ** 3 / 2  # median splits: no near-empty leaves


def test_property_table_round_trips_values_and_missing_values(small_city):
    features, out, _ = small_city
    report = check_tileset(out / "tileset.json")
    rows = {r["gml_id"]: r for r in report.features}
    for feature in features:
        row = rows[feature.gml_id]
        assert row["height"] == pytest.approx(feature.measured_height, rel=1e-6)
        assert row["storeys"] == feature.storeys
        assert row["lod"] == 1
        assert row["usage"] is None and row["flood_depth_max"] is None and row["flood_rank_max"] is None


def test_geometric_error_is_the_cell_size_and_leaves_are_zero(small_city):
    _, out, _ = small_city
    root = json.loads((out / "tileset.json").read_text())["root"]
    # The buildings span about 17 × 17 grid cells of 25 m: a root diagonal near 600 m.
    assert 400 < root["geometricError"] < 800
    leaves = [t for t in _walk(out / "tileset.json") if "children" not in t and t["content"]["uri"].endswith(".glb")]
    assert leaves and all(t["geometricError"] == 0 for t in leaves)


def _walk(path):
    document = json.loads(path.read_text())
    stack = [(document["root"], path)]
    while stack:
        tile, base = stack.pop()
        yield tile
        uri = tile.get("content", {}).get("uri", "")
        if uri.endswith(".json"):
            stack.append((json.loads((base.parent / uri).read_text())["root"], base.parent / uri))
        stack.extend((c, base) for c in tile.get("children", []))


def test_byte_limit_splits_tiles(tmp_path):
    features = city(60, seed=1)
    items = [(building_mesh(f), BuildingProperties.from_feature(f)) for f in features]
    summary = write_buildings(items, tmp_path, options=TilingOptions(max_buildings=1000, max_bytes=20_000))
    assert summary.content_tiles >= 4
    # A leaf only goes over the limit when it holds a single building.
    report = check_tileset(tmp_path / "tileset.json")
    assert summary.max_content_bytes < 20_000 + 8_000
    assert len(report.features) == 60


def png_bytes(color, size=(8, 8), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def test_textures_are_embedded_tiff_becomes_png_and_missing_images_keep_the_building(tmp_path):
    images = {"a.png": png_bytes((200, 10, 10)), "c.tif": None}
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(jpeg, format="JPEG")
    images["b.jpg"] = jpeg.getvalue()
    tiff = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 10, 200)).save(tiff, format="TIFF")
    images["c.tif"] = tiff.getvalue()

    def open_image(key: str) -> bytes:
        return images[key]  # "missing.png" raises KeyError: kept, untextured

    features = []
    for k, key in enumerate(["a.png", "b.jpg", "c.tif", "missing.png", "a.png"]):
        features.append(Feature(f"t{k}", "bldg", "Building", [
            Geometry(2, "boundedBy", [Surface("WallSurface", [textured_wall(key, x0=20.0 * k)])])]))
    features.append(box_building("plain", 0, 30, 10, 10, 10))
    summary = write_buildings([(building_mesh(f), BuildingProperties.from_feature(f)) for f in features],
                              tmp_path, open_image)
    (glb,) = sorted((tmp_path / "content").glob("*.glb"))
    document, binary = read_glb(glb.read_bytes())
    mimes = sorted(i["mimeType"] for i in document["images"])
    assert mimes == ["image/jpeg", "image/png", "image/png"]  # a.png once, TIFF re-encoded
    for image in document["images"]:
        view = document["bufferViews"][image["bufferView"]]
        data = binary[view["byteOffset"]:view["byteOffset"] + view["byteLength"]]
        assert Image.open(io.BytesIO(data)).format == {"image/png": "PNG", "image/jpeg": "JPEG"}[image["mimeType"]]
    textured = [p for p in document["meshes"][0]["primitives"] if "TEXCOORD_0" in p["attributes"]]
    assert len(textured) == 3
    assert summary.features == 6 and len(check_tileset(tmp_path / "tileset.json").features) == 6
    assert_valid_gltf([glb])


def test_ellipsoidal_offset_moves_the_regions_up(tmp_path):
    feature = box_building("b", 0, 0, 10, 10, 10, z0=5.0)
    for offset, name in ((0.0, "ortho"), (36.7, "ellipsoidal")):
        mesh = building_mesh(feature, ellipsoidal_offset=offset)
        write_buildings([(mesh, BuildingProperties.from_feature(feature))], tmp_path / name)
    low = json.loads((tmp_path / "ortho" / "tileset.json").read_text())["root"]["boundingVolume"]["region"]
    high = json.loads((tmp_path / "ellipsoidal" / "tileset.json").read_text())["root"]["boundingVolume"]["region"]
    assert high[4] - low[4] == pytest.approx(36.7, abs=1e-6) and high[5] - low[5] == pytest.approx(36.7, abs=1e-6)
    assert low[4] == pytest.approx(5.0 - 0.1, abs=0.01)
    check_tileset(tmp_path / "ellipsoidal" / "tileset.json")


def test_terrain_tiles_are_a_pyramid_of_the_grid(tmp_path):
    """A 400 × 600 cell sloping grid: leaves hold every cell centre (two triangles per four centres), each
    level above every other vertex, refining by REPLACE; normals face up; the glb files are valid."""
    rows, cols = 400, 600
    x, y = np.meshgrid(np.arange(cols) * 2.0 + 1, -(np.arange(rows) * 2.0 + 1))
    heights = (5.0 + 0.01 * x + 0.02 * y).astype(np.float32)
    transform = Affine(2.0, 0, -30000.0, 0, -2.0, -5000.0)  # zone IX (EPSG:6677), near Kawagoe
    summary = write_terrain_tiles(heights, transform, "EPSG:6677", tmp_path, credit="出典：試験用の標高")
    document = json.loads((tmp_path / "tileset.json").read_text())
    assert document["root"]["refine"] == "REPLACE"
    report = check_tileset(tmp_path / "tileset.json")
    levels = {int(p.stem.split("_")[0][1:]) for p in report.contents}
    assert levels == {0, 1, 2, 3}  # 600 / 128 → 5 blocks, 3, 2, 1
    leaves = [p for p in report.contents if p.stem.startswith("r0_")]
    assert sum(triangle_count(p) for p in leaves) == 2 * (rows - 1) * (cols - 1)
    assert summary.content_tiles == len(report.contents)
    for path in leaves[:3]:
        glb, binary = read_glb(path.read_bytes())
        assert glb["asset"]["copyright"] == "出典：試験用の標高"
        normals = accessor_array(glb, binary, glb["meshes"][0]["primitives"][0]["attributes"]["NORMAL"])
        assert (normals[:, 1] > 0.99).all()  # glTF y is up; a 1–2 % slope tilts them by about 1°
    assert_valid_gltf(report.contents[:4])


def triangle_count(glb) -> int:
    document, _ = read_glb(glb.read_bytes())
    return sum(document["accessors"][p["indices"]]["count"] // 3 for p in document["meshes"][0]["primitives"])


def test_no_buildings_is_a_clear_error(tmp_path):
    mesh_buildings([], tmp_path / "empty")
    with pytest.raises(ValueError, match="no buildings"):
        write_building_tiles([tmp_path / "empty"], tmp_path / "out")


# --- real data ---------------------------------------------------------------------------

def buildings_in_file(dataset: Path) -> dict[str, tuple[str | None, float | None, bool]]:
    """gml:id → (usage label from the dataset's own code list, measuredHeight, has a tsunami rank),
    read from the CityGML with plain XPath, independently of the reader under test."""
    ns = {"bldg": "http://www.opengis.net/citygml/building/2.0", "gml": "http://www.opengis.net/gml",
          "uro": "https://www.geospatial.jp/iur/uro/2.0"}
    codes = etree.parse(str(dataset / "codelists" / "Building_usage.xml"))
    labels = {d.findtext("gml:name", namespaces=ns): d.findtext("gml:description", namespaces=ns)
              for d in codes.iterfind(".//gml:Definition", ns)}
    (gml,) = (dataset / "udx" / "bldg").glob("*.gml")
    out = {}
    for building in etree.parse(str(gml)).iterfind(".//bldg:Building", ns):
        usage = building.findtext("bldg:usage", namespaces=ns)
        ranked = building.find(".//uro:BuildingTsunamiRiskAttribute/uro:rankOrg", ns) is not None
        height = building.findtext("bldg:measuredHeight", namespaces=ns)
        out[building.get(f"{{{ns['gml']}}}id")] = (labels.get(usage) if usage else None,
                                                   float(height) if height else None, ranked)
    return out


def test_yokosuka_buildings_make_valid_tiles(yokosuka, tmp_path):
    from citygml import open_dataset

    with open_dataset(yokosuka) as dataset:
        buildings = list(dataset.features(types=["bldg"]))
        stats = mesh_buildings(buildings, tmp_path / "batch", dataset.read_bytes)
    assert stats.lods[2] == 2 and stats.textured_polygons > 300
    summary = write_building_tiles([tmp_path / "batch"], tmp_path / "bldg")
    report = check_tileset(tmp_path / "bldg" / "tileset.json")
    assert summary.features == 13
    assert {r["gml_id"] for r in report.features} == {f.gml_id for f in buildings}
    rows = {r["gml_id"]: r for r in report.features}
    expected = buildings_in_file(yokosuka)
    for gml_id, (usage, height, ranked) in expected.items():
        assert rows[gml_id]["usage"] == usage, gml_id
        assert rows[gml_id]["height"] == (None if height is None else pytest.approx(height, abs=1e-6)), gml_id
        assert (rows[gml_id]["flood_rank_max"] is not None) == ranked, gml_id
    assert sum(ranked for *_, ranked in expected.values()) == 7  # the file's tsunami ranks
    (glb,) = report.contents
    document, _ = read_glb(glb.read_bytes())
    assert len(document["images"]) == 3
    assert_valid_gltf([glb])
