"""Buildings and terrain as 3D Tiles 1.1 (OGC 22-025r4) with glb content.

Two steps, so a city can be converted file by file and in parallel:

1. ``mesh_buildings`` (one task per CityGML file) meshes buildings into a batch folder
   (``twin.meshstore``), copying their textures;
2. ``write_building_tiles`` (the merge) builds a quadtree over all batches' building
   origins and writes one glb per leaf, reading only that leaf's buildings.

Each building is one feature: ``_FEATURE_ID_0`` per vertex (EXT_mesh_features) indexes
a property table (EXT_structural_metadata, schema in each glb; see
``twin.tile_metadata``). Content is in an ENU frame at the tile's centre, glTF y-up;
the tile's ``transform`` takes ENU to ECEF (3D Tiles applies the y-up→z-up turn first).
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citygml.model import Feature
from twin.enu import LocalFrame, enu_rotation
from twin.glb import GltfBuilder
from twin.meshes import Lod, Mesh, MeshStats, building_meshes, terrain_mesh
from twin.meshstore import MeshBatch, MeshBatchWriter, image_mime
from twin.tile_metadata import CLASS_NAME, BuildingProperties, schema, table_columns
from twin.tileset import (Tile, build_quadtree, fill_regions, plane_coordinates,
                          region_of_bounds, write_tilesets)

#: ENU (east, north, up) → glTF (x, y, z) with y up: (e, u, −n). 3D Tiles turns glTF's
#: y-up into z-up by the inverse of this before applying the tile transform.
ENU_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: Required credit for PLATEAU data (site policy, CC BY 4.0 compatible); CesiumJS shows
#: a glTF's ``asset.copyright`` as an on-screen credit.
ATTRIBUTION = "出典：国土交通省 Project PLATEAU"

#: Buildings meshed together by ``mesh_buildings``: enough to amortise numpy's per-call
#: cost (a few µs per building is left), few enough to keep memory small.
MESH_CHUNK = 500

_BUILDING_MATERIAL = {"name": "building", "doubleSided": True, "pbrMetallicRoughness": {
    "baseColorFactor": [0.86, 0.86, 0.84, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.9}}
_TERRAIN_MATERIAL = {"name": "terrain", "pbrMetallicRoughness": {
    "baseColorFactor": [0.62, 0.66, 0.55, 1.0], "metallicFactor": 0.0, "roughnessFactor": 1.0}}


@dataclass(frozen=True)
class TilingOptions:
    """Limits that make a leaf tile: a tile over either limit is split (browser-sized)."""

    max_buildings: int = 2000
    max_bytes: int = 4_000_000
    levels_per_file: int = 4


@dataclass
class TilesetSummary:
    """What was written."""

    tiles: int
    content_tiles: int
    tileset_files: int
    features: int
    bytes: int
    max_content_bytes: int
    depth: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def mesh_buildings(features: Iterable[Feature], batch_dir: Path | str,
                   open_image: Callable[[str], bytes] | None = None, *, lod: Lod = "max",
                   ellipsoidal_offset: float = 0.0,
                   properties: Callable[[Feature], BuildingProperties] = BuildingProperties.from_feature,
                   stats: MeshStats | None = None) -> MeshStats:
    """Mesh buildings (e.g. one file's) into a batch folder; the meshing counters.

    Features that are not buildings are ignored; ``properties`` maps a building to
    what its tile says about it (the default reads the feature's own attributes).
    Buildings are meshed ``MESH_CHUNK`` at a time, in one vectorised pass each.
    """
    stats = stats if stats is not None else MeshStats()
    buildings = (f for f in features if f.element == "Building")
    with MeshBatchWriter(batch_dir, open_image) as batch:
        while chunk := list(itertools.islice(buildings, MESH_CHUNK)):
            meshes = building_meshes(chunk, lod, ellipsoidal_offset=ellipsoidal_offset, stats=stats)
            for feature, mesh in zip(chunk, meshes):
                if mesh is not None:
                    batch.add(mesh, properties(feature))
    return stats


def write_buildings(items: Iterable[tuple[Mesh, BuildingProperties]], out_dir: Path | str,
                    open_image: Callable[[str], bytes] | None = None,
                    options: TilingOptions = TilingOptions()) -> TilesetSummary:
    """One-step tiling of meshes already in memory (small cities, tests)."""
    with tempfile.TemporaryDirectory(prefix="machi-twin-batch-") as work:
        with MeshBatchWriter(Path(work) / "batch", open_image) as batch:
            for mesh, props in items:
                batch.add(mesh, props)
        return write_building_tiles([Path(work) / "batch"], out_dir, options)


def write_building_tiles(batches: Sequence[Path | str], out_dir: Path | str,
                         options: TilingOptions = TilingOptions(),
                         metadata: dict | None = None) -> TilesetSummary:
    """Merge batch folders into ``out_dir/tileset.json`` + ``content/*.glb``."""
    out_dir = Path(out_dir)
    opened = [MeshBatch(b) for b in batches]
    which = np.concatenate([np.full(len(b), k) for k, b in enumerate(opened)] + [np.zeros(0, int)])
    local = np.concatenate([np.arange(len(b)) for b in opened] + [np.zeros(0, int)])
    if len(which) == 0:
        raise ValueError("no buildings to tile")
    origins = np.concatenate([b.origins for b in opened])
    sizes = np.concatenate([b.estimated_bytes() for b in opened])
    properties = [b.properties() for b in opened]
    root = build_quadtree(plane_coordinates(origins[:, 0], origins[:, 1]), sizes,
                          options.max_buildings, options.max_bytes)
    for leaf in root.leaves():
        meshes = [opened[which[i]].mesh(local[i]) for i in leaf.members]
        props = [_with_lod(properties[which[i]][local[i]], m) for i, m in zip(leaf.members, meshes)]
        images = {name: opened[which[i]].image_path(name).read_bytes()
                  for i, m in zip(leaf.members, meshes) for name in m.images}
        bounds = np.array([m.bounds for m in meshes])
        frame = LocalFrame((bounds[:, 0].min() + bounds[:, 2].max()) / 2,
                           (bounds[:, 1].min() + bounds[:, 3].max()) / 2, float(bounds[:, 4].min()))
        _write_content(leaf, out_dir, building_glb(meshes, props, images, frame), frame, bounds)
    return _finish(root, out_dir, options.levels_per_file, len(which), metadata)


def write_terrain_tiles(triangles: np.ndarray, out_dir: Path | str, *,
                        ellipsoidal_offset: float = 0.0, max_triangles: int = 200_000,
                        levels_per_file: int = 4, stats: MeshStats | None = None) -> TilesetSummary:
    """TIN triangles ((m, 3, 3) rows of lat, lon, h) as a terrain tileset in ``out_dir``."""
    out_dir = Path(out_dir)
    triangles = np.asarray(triangles, float).reshape(-1, 3, 3)
    centroids = triangles.mean(axis=1)
    root = build_quadtree(plane_coordinates(centroids[:, 1], centroids[:, 0]),
                          np.zeros(len(triangles)), max_triangles, 1)
    for leaf in root.leaves():
        mesh = terrain_mesh(triangles[leaf.members], ellipsoidal_offset=ellipsoidal_offset, stats=stats)
        if mesh is None:
            continue
        builder = GltfBuilder()
        builder.json["asset"]["copyright"] = ATTRIBUTION
        builder.primitive(mesh.positions @ ENU_TO_GLTF.T, mesh.normals @ ENU_TO_GLTF.T,
                          mesh.indices, builder.material(_TERRAIN_MATERIAL))
        _write_content(leaf, out_dir, builder.to_glb(), mesh.frame, mesh.bounds[None])
    _prune_empty(root)
    return _finish(root, out_dir, levels_per_file, 0, None)


def building_glb(meshes: Sequence[Mesh], properties: Sequence[BuildingProperties],
                 images: Mapping[str, bytes], frame: LocalFrame) -> bytes:
    """One glb of buildings (feature ``i`` = ``meshes[i]`` = ``properties[i]``) in ``frame``."""
    positions, normals, uv, indices, feature_ids, triangle_image, names = _merge(meshes, frame)
    builder = GltfBuilder()
    builder.json["asset"]["copyright"] = ATTRIBUTION
    builder.use_extension("EXT_mesh_features")
    builder.use_extension("EXT_structural_metadata")
    columns = table_columns(properties)
    table_properties = {}
    for name, parts in columns.items():
        views = [builder.buffer_view(p) for p in parts]
        table_properties[name] = ({"values": views[0]} if len(views) == 1 else
                                  {"values": views[0], "stringOffsets": views[1],
                                   "stringOffsetType": "UINT32"})
    builder.json["extensions"] = {"EXT_structural_metadata": {
        "schema": schema(),
        "propertyTables": [{"name": "buildings", "class": CLASS_NAME, "count": len(properties),
                            "properties": table_properties}]}}
    materials = {-1: builder.material(_BUILDING_MATERIAL)}
    for k, name in enumerate(names):
        data = images[name]
        texture = builder.texture(data, image_mime(data) or "image/png")
        materials[k] = builder.material({"name": name, "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorTexture": {"index": texture}, "metallicFactor": 0.0, "roughnessFactor": 1.0}})
    for group in np.unique(triangle_image):
        tris = indices[triangle_image == group]
        used, remapped = np.unique(tris, return_inverse=True)
        ids = feature_ids[used]
        extension = {"featureIds": [{"featureCount": int(len(np.unique(ids))), "attribute": 0,
                                     "propertyTable": 0}]}
        texcoords = None
        if group >= 0:
            texcoords = uv[used] * [1.0, -1.0] + [0.0, 1.0]  # CityGML v up → glTF v down
        builder.primitive(positions[used], normals[used], remapped.reshape(-1, 3), materials[int(group)],
                          uv=texcoords, feature_ids=ids,
                          extensions={"EXT_mesh_features": extension})
    return builder.to_glb()


def _merge(meshes: Sequence[Mesh], frame: LocalFrame):
    """All meshes in ``frame``'s glTF y-up axes, with feature ids and tile-wide image indices."""
    names = list(dict.fromkeys(n for m in meshes for n in m.images))
    lookup = {n: k for k, n in enumerate(names)}
    positions, normals, uvs, indices, ids, tri_images = [], [], [], [], [], []
    offset = 0
    for k, mesh in enumerate(meshes):
        # Building ENU → ECEF → tile ENU → glTF, as one rotation and one translation.
        rotation = ENU_TO_GLTF @ frame.rotation.T @ enu_rotation(mesh.origin[0], mesh.origin[1])
        shift = ENU_TO_GLTF @ frame.from_ecef(mesh.frame.origin_ecef[None])[0]
        positions.append(mesh.positions.astype(np.float64) @ rotation.T + shift)
        normals.append(mesh.normals @ rotation.T)
        uvs.append(mesh.uv if mesh.uv is not None else np.zeros((len(mesh.positions), 2), np.float32))
        indices.append(mesh.indices.astype(np.int64) + offset)
        ids.append(np.full(len(mesh.positions), k, np.uint32))
        if mesh.triangle_image is None:
            tri_images.append(np.full(len(mesh.indices), -1, np.int64))
        else:
            table = np.array([lookup[n] for n in mesh.images] + [-1], np.int64)
            tri_images.append(table[mesh.triangle_image])
        offset += len(mesh.positions)
    return (np.concatenate(positions), np.concatenate(normals), np.concatenate(uvs),
            np.concatenate(indices), np.concatenate(ids), np.concatenate(tri_images), names)


def _with_lod(props: BuildingProperties, mesh: Mesh) -> BuildingProperties:
    return props if props.lod is not None else dataclasses.replace(props, lod=mesh.lod)


def _write_content(leaf: Tile, out_dir: Path, glb: bytes, frame: LocalFrame,
                   bounds: np.ndarray) -> None:
    path = out_dir / "content" / f"{leaf.id}.glb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(glb)
    leaf.content = path
    leaf.transform = frame.matrix()
    leaf.region = region_of_bounds(bounds)


def _prune_empty(tile: Tile) -> None:
    """Drop leaves that got no content (all-degenerate terrain chunks)."""
    for child in tile.children:
        _prune_empty(child)
    tile.children = [c for c in tile.children if c.content is not None or c.children]


def _finish(root: Tile, out_dir: Path, levels: int, features: int,
            metadata: dict | None) -> TilesetSummary:
    if root.content is None and not root.children:
        raise ValueError("nothing to write: every input was degenerate")
    fill_regions(root)
    files = write_tilesets(root, out_dir, levels, metadata)
    tiles = root.walk()
    sizes = [t.content.stat().st_size for t in tiles if t.content is not None]
    return TilesetSummary(tiles=len(tiles), content_tiles=len(sizes), tileset_files=len(files),
                          features=features, bytes=sum(sizes), max_content_bytes=max(sizes),
                          depth=max(t.depth for t in tiles))
