"""Checks of a written 3D Tiles 1.1 tileset against the rules of OGC 22-025r4 that matter here.

``check_tileset(path)`` walks tileset.json and every external tileset it references and
returns what it saw; it raises AssertionError naming the tile and the rule broken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.tiles.enu import ecef_to_geodetic
from twin.tiles.glb import accessor_array, buffer_views, read_glb
from twin.tiles.metadata import decode_table

#: glTF y-up → 3D Tiles z-up (OGC 22-025r4, "glTF transforms"): (x, y, z) → (x, −z, y).
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass
class TilesetReport:
    tileset_files: list[Path] = field(default_factory=list)
    contents: list[Path] = field(default_factory=list)
    features: list[dict] = field(default_factory=list)  # decoded property table rows
    max_depth: int = 0


def check_tileset(path: Path, check_content: bool = True) -> TilesetReport:
    report = TilesetReport()
    _check_file(Path(path), None, np.eye(4), 0, report, check_content)
    return report


def _check_file(path: Path, parent: dict | None, transform: np.ndarray, depth: int,
                report: TilesetReport, check_content: bool) -> None:
    document = json.loads(path.read_text())
    report.tileset_files.append(path)
    assert document["asset"]["version"] == "1.1", path
    assert document["geometricError"] >= document["root"]["geometricError"], path
    assert document["root"].get("refine") in ("ADD", "REPLACE"), f"{path}: root needs refine"
    _check_extensions_declared(document, path)
    if parent is not None:  # an external tileset's root is the referencing tile again
        assert document["root"]["boundingVolume"] == parent["boundingVolume"], path
        assert document["root"]["geometricError"] == parent["geometricError"], path
    _check_tile(document["root"], path, transform, depth, report, check_content, f"{path.name}:root")


def _check_tile(tile: dict, path: Path, transform: np.ndarray, depth: int,
                report: TilesetReport, check_content: bool, where: str) -> None:
    region = np.array(tile["boundingVolume"]["region"])
    west, south, east, north, low, high = region
    assert west <= east and south <= north and low <= high, where
    assert -np.pi <= west and east <= np.pi and -np.pi / 2 <= south and north <= np.pi / 2, where
    assert tile["geometricError"] >= 0, where
    world = transform @ (np.array(tile["transform"]).reshape(4, 4, order="F")
                         if "transform" in tile else np.eye(4))
    report.max_depth = max(report.max_depth, depth)
    children = tile.get("children", [])
    if not children and "content" not in tile:
        raise AssertionError(f"{where}: a leaf without content")
    for k, child in enumerate(children):
        inner = np.array(child["boundingVolume"]["region"])
        assert inner[0] >= west and inner[1] >= south and inner[2] <= east and inner[3] <= north \
            and inner[4] >= low and inner[5] <= high, f"{where}/{k}: child region outside parent's"
        assert child["geometricError"] < tile["geometricError"], f"{where}/{k}: error must decrease"
        _check_tile(child, path, world, depth + 1, report, check_content, f"{where}/{k}")
    if "content" in tile:
        uri = tile["content"]["uri"]
        target = (path.parent / uri).resolve()
        assert target.is_file(), f"{where}: content {uri} missing"
        if uri.endswith(".json"):
            assert not children, f"{where}: a tile with an external tileset has no children"
            _check_file(target, tile, world, depth, report, check_content)
            return
        report.contents.append(target)
        if check_content:
            _check_content(target, region, world, report, where)


def _check_extensions_declared(document: dict, path: Path) -> None:
    used: set[str] = set()

    def visit(node):
        if isinstance(node, dict):
            used.update(node.get("extensions", {}))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document)
    assert used <= set(document.get("extensionsUsed", [])), f"{path}: undeclared {used}"


def _check_content(glb_path: Path, region: np.ndarray, world: np.ndarray,
                   report: TilesetReport, where: str) -> None:
    """Every vertex lies in the tile's region; features and their table agree."""
    document, binary = read_glb(glb_path.read_bytes())
    for name in _extension_names(document):
        assert name in document.get("extensionsUsed", []), f"{glb_path}: {name} not declared"
    points = []
    ids_seen: set[int] = set()
    tables = document.get("extensions", {}).get("EXT_structural_metadata", {}).get("propertyTables", [])
    for primitive in document["meshes"][0]["primitives"]:
        gltf = accessor_array(document, binary, primitive["attributes"]["POSITION"]).astype(float)
        points.append(gltf @ Y_UP_TO_Z_UP.T)
        features = primitive.get("extensions", {}).get("EXT_mesh_features")
        if features is None:
            continue
        (feature_id,) = features["featureIds"]
        accessor = document["accessors"][primitive["attributes"][f"_FEATURE_ID_{feature_id['attribute']}"]]
        assert accessor["type"] == "SCALAR" and not accessor.get("normalized", False), glb_path
        ids = accessor_array(document, binary, primitive["attributes"]["_FEATURE_ID_0"])
        assert np.array_equal(ids, np.round(ids)), glb_path
        count = tables[feature_id["propertyTable"]]["count"]
        assert 0 <= ids.min() and ids.max() < count, f"{glb_path}: feature id out of the table"
        assert feature_id["featureCount"] == len(np.unique(ids)), glb_path
        ids_seen.update(int(i) for i in np.unique(ids))
    local = np.concatenate(points)
    ecef = local @ world[:3, :3].T + world[:3, 3]
    geo = ecef_to_geodetic(ecef)
    lon, lat = np.radians(geo[:, 0]), np.radians(geo[:, 1])
    west, south, east, north, low, high = region
    outside = (lon < west) | (lon > east) | (lat < south) | (lat > north) | (geo[:, 2] < low) | (geo[:, 2] > high)
    assert not outside.any(), f"{where}: {outside.sum()} vertices outside the region"
    if tables:
        (table,) = tables
        metadata = document["extensions"]["EXT_structural_metadata"]
        declared = metadata["schema"]["classes"][table["class"]]["properties"]
        required = {name for name, d in declared.items() if d.get("required")}
        assert required <= set(table["properties"]) <= set(declared), f"{glb_path}: table vs class"
        assert ids_seen == set(range(table["count"])), f"{glb_path}: features without geometry"
        views = document["bufferViews"]
        for spec in table["properties"].values():
            for key in ("values", "stringOffsets"):
                if key in spec:
                    assert views[spec[key]]["byteOffset"] % 8 == 0, f"{glb_path}: unaligned column"
        report.features.extend(decode_table(table, buffer_views(document, binary)))


def _extension_names(document: dict) -> set[str]:
    names = set(document.get("extensions", {}))
    for primitive in document["meshes"][0]["primitives"]:
        names.update(primitive.get("extensions", {}))
    return names
