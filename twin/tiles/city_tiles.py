"""Buildings as 3D Tiles 1.1 (OGC 22-025r4) with glb content.

Buildings (and bridges and water bodies, meshed the same way) in two steps, so a city can be
converted file by file and in parallel:

1. ``mesh_buildings`` (one task per CityGML file) meshes buildings into a batch folder
   (``twin.tiles.meshstore``), copying their textures;
2. ``write_building_tiles`` (the merge) builds a quadtree over all batches' building
   origins and writes one glb per leaf, reading only that leaf's buildings.

Each building is one feature: ``_FEATURE_ID_0`` per vertex (EXT_mesh_features) indexes
a property table (EXT_structural_metadata, schema in each glb; see
``twin.tiles.metadata``). Content is in an ENU frame at the tile's centre, glTF y-up;
the tile's ``transform`` takes ENU to ECEF (3D Tiles applies the y-up→z-up turn first).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from citygml.model import Feature
from twin.convert.runners import Runner, run_inline
from twin.opendata.licence import ATTRIBUTION
from twin.tiles.enu import LocalFrame, enu_rotations, geodetic_to_ecef
from twin.tiles.glb import GltfBuilder
from twin.tiles.meshes import Lod, Mesh, MeshStats, building_meshes
from twin.tiles.meshstore import MeshBatch, MeshBatchWriter, MeshSet, concat_sets, image_mime
from twin.tiles.metadata import CLASS_NAME, BuildingProperties, schema, table_columns
from twin.tiles.tileset import Tile, build_quadtree, fill_regions, plane_coordinates, region_of_bounds, write_tilesets

#: ENU (east, north, up) → glTF (x, y, z) with y up: (e, u, −n). 3D Tiles turns glTF's
#: y-up into z-up by the inverse of this before applying the tile transform.
ENU_TO_GLTF = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

#: Buildings meshed together by ``mesh_buildings``: enough to amortise numpy's per-call
#: cost (a few µs per building is left), few enough to keep memory small.
MESH_CHUNK = 500

_BUILDING_MATERIAL = {"name": "building", "doubleSided": True, "pbrMetallicRoughness": {
    "baseColorFactor": [0.86, 0.86, 0.84, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.9}}
TERRAIN_MATERIAL = {"name": "terrain", "pbrMetallicRoughness": {
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
                   open_image: Callable[[str], bytes | None] | None = None, *, lod: Lod = "max",
                   ellipsoidal_offset: float = 0.0, elements: tuple[str, ...] | None = ("Building",),
                   properties: Callable[[Feature], BuildingProperties] = BuildingProperties.from_feature,
                   stats: MeshStats | None = None) -> MeshStats:
    """Mesh buildings (e.g. one file's) into a batch folder; the meshing counters.

    Features whose element is not in ``elements`` are ignored (None: mesh every feature, e.g.
    bridges or water bodies, by the same LOD rules); ``properties`` maps a feature to what its
    tile says about it (the default reads a building's own attributes). Features are meshed
    ``MESH_CHUNK`` at a time, in one vectorised pass each. Texture images the dataset lacks are
    counted in ``stats.missing_textures`` (their surfaces stay, untextured).
    """
    stats = stats if stats is not None else MeshStats()
    chosen = (f for f in features if elements is None or f.element in elements)
    with MeshBatchWriter(batch_dir, open_image) as batch:
        while chunk := list(itertools.islice(chosen, MESH_CHUNK)):
            meshes = building_meshes(chunk, lod, ellipsoidal_offset=ellipsoidal_offset, stats=stats)
            for feature, mesh in zip(chunk, meshes):
                if mesh is not None:
                    batch.add(mesh, properties(feature))
        stats.missing_textures += len(batch.missing_images)
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
                         metadata: dict | None = None, runner: Runner = run_inline,
                         on_tile: Callable[[LeafContent], None] = lambda leaf: None) -> TilesetSummary:
    """Merge batch folders into ``out_dir/tileset.json`` + ``content/*.glb``.

    The quadtree is planned here from the buildings' origins and sizes; each leaf's glb
    is a task for ``runner`` (tiles are independent, so they are written in parallel). A gml:id
    that a later batch repeats (overlapping inputs) is tiled once, from its first batch.
    """
    out_dir = Path(out_dir)
    opened = [MeshBatch(b) for b in batches]
    which = np.concatenate([np.full(len(b), k) for k, b in enumerate(opened)] + [np.zeros(0, int)])
    local = np.concatenate([np.arange(len(b)) for b in opened] + [np.zeros(0, int)])
    first = _first_of_each_id(opened)
    which, local = which[first], local[first]
    if len(which) == 0:
        raise ValueError("no buildings to tile")
    origins = np.concatenate([b.origins for b in opened])[first]
    sizes = np.concatenate([b.estimated_bytes() for b in opened])[first]
    root = build_quadtree(plane_coordinates(origins[:, 0], origins[:, 1]), sizes,
                          options.max_buildings, options.max_bytes)
    leaves = {leaf.id: leaf for leaf in root.leaves()}
    (out_dir / "content").mkdir(parents=True, exist_ok=True)
    batch_paths = [str(b) for b in batches]
    args = [(batch_paths, np.column_stack([which[leaf.members], local[leaf.members]]),
             str(out_dir / "content" / f"{leaf.id}.glb"), leaf.id) for leaf in leaves.values()]
    # Biggest tiles first, so that parallel workers finish together.
    args.sort(key=lambda item: -len(item[1]))
    for content in runner(write_leaf, args, on_tile):
        leaf = leaves[content.id]
        leaf.content, leaf.transform, leaf.region = Path(content.path), content.transform, content.region
    return finish_tileset(root, out_dir, options.levels_per_file, len(which), metadata)


def _first_of_each_id(batches: Sequence[MeshBatch]) -> np.ndarray:
    """Mask over all batches' buildings: True for the first with each gml:id (inputs that overlap
    repeat buildings; each is one feature)."""
    ids = [json.loads(line)["gml_id"] for b in batches for line in b.property_lines()]
    _, first = np.unique(np.array(ids, dtype=object), return_index=True)
    mask = np.zeros(len(ids), bool)
    mask[first] = True
    return mask


@dataclass(frozen=True)
class LeafContent:
    """What a leaf's task wrote: its glb, ENU→ECEF transform and region."""

    id: str
    path: str
    transform: np.ndarray
    region: np.ndarray


def write_leaf(batches: Sequence[str], members: np.ndarray, path: str, leaf_id: str) -> LeafContent:
    """Write one leaf tile's glb: ``members`` are (batch, building in batch) rows."""
    members = members[np.lexsort((members[:, 1], members[:, 0]))]
    sets, properties, names, images = [], [], [], []
    lookup: dict[str, int] = {}
    for k in np.unique(members[:, 0]):
        batch = MeshBatch(batches[k])
        chosen = members[members[:, 0] == k, 1]
        mesh_set = batch.gather(chosen)
        lines = batch.property_lines()
        properties += [BuildingProperties.from_json(lines[i]) for i in chosen]
        # Batch image numbers → the tile's (the trailing −1 keeps untextured triangles at −1).
        table = np.full(len(batch.image_names) + 1, -1, np.int64)
        for used in np.unique(mesh_set.triangle_image[mesh_set.triangle_image >= 0]):
            name = batch.image_names[used]
            if name not in lookup:
                lookup[name] = len(names)
                names.append(name)
                images.append(batch.image_path(name).read_bytes())
            table[used] = lookup[name]
        mesh_set.triangle_image = table[mesh_set.triangle_image]
        sets.append(mesh_set)
    geometry = concat_sets(sets)
    bounds = geometry.bounds
    frame = LocalFrame((bounds[:, 0].min() + bounds[:, 2].max()) / 2,
                       (bounds[:, 1].min() + bounds[:, 3].max()) / 2, float(bounds[:, 4].min()))
    Path(path).write_bytes(building_glb(geometry, properties, names, images, frame))
    return LeafContent(leaf_id, path, frame.matrix(), region_of_bounds(bounds))


def building_glb(geometry: MeshSet, properties: Sequence[BuildingProperties], names: Sequence[str],
                 images: Sequence[bytes], frame: LocalFrame) -> bytes:
    """One glb of buildings (feature ``i`` = building ``i`` of ``geometry`` = ``properties[i]``)
    in ``frame``; ``geometry.triangle_image`` indexes ``names``/``images`` (−1: untextured)."""
    positions, normals = _in_frame(geometry, frame)
    builder = GltfBuilder()
    builder.json["asset"]["copyright"] = ATTRIBUTION  # CesiumJS shows it as an on-screen credit
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
    for k, (name, data) in enumerate(zip(names, images)):
        texture = builder.texture(data, image_mime(data) or "image/png")
        materials[k] = builder.material({"name": name, "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorTexture": {"index": texture}, "metallicFactor": 0.0, "roughnessFactor": 1.0}})
    feature_ids = geometry.vertex_building.astype(np.uint32)
    for group in np.unique(geometry.triangle_image):
        tris = geometry.indices[geometry.triangle_image == group]
        used, remapped = np.unique(tris, return_inverse=True)
        ids = feature_ids[used]
        extension = {"featureIds": [{"featureCount": int(len(np.unique(ids))), "attribute": 0,
                                     "propertyTable": 0}]}
        texcoords = None
        if group >= 0:
            texcoords = geometry.uv[used] * [1.0, -1.0] + [0.0, 1.0]  # CityGML v up → glTF v down
        builder.primitive(positions[used], normals[used], remapped.reshape(-1, 3), materials[int(group)],
                          uv=texcoords, feature_ids=ids,
                          extensions={"EXT_mesh_features": extension})
    return builder.to_glb()


def _in_frame(geometry: MeshSet, frame: LocalFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions and normals moved from each building's ENU frame into ``frame``'s glTF y-up axes."""
    origins = geometry.origins
    # Building ENU → ECEF → tile ENU → glTF, as one rotation and one translation per building.
    rotations = ENU_TO_GLTF @ frame.rotation.T @ enu_rotations(origins[:, 0], origins[:, 1])
    shifts = frame.from_ecef(geodetic_to_ecef(*origins.T)) @ ENU_TO_GLTF.T
    building = geometry.vertex_building
    positions = np.einsum("vij,vj->vi", rotations[building], geometry.positions.astype(np.float64))
    normals = np.einsum("vij,vj->vi", rotations[building], geometry.normals.astype(np.float64))
    return positions + shifts[building], normals


def finish_tileset(root: Tile, out_dir: Path, levels: int, features: int, metadata: dict | None,
                   refine: str = "ADD") -> TilesetSummary:
    """Fill the regions, write the tileset files and count what was written."""
    if root.content is None and not root.children:
        raise ValueError("nothing to write: every input was degenerate")
    fill_regions(root)
    files = write_tilesets(root, out_dir, levels, metadata, refine=refine)
    tiles = root.walk()
    sizes = [t.content.stat().st_size for t in tiles if t.content is not None]
    return TilesetSummary(tiles=len(tiles), content_tiles=len(sizes), tileset_files=len(files),
                          features=features, bytes=sum(sizes), max_content_bytes=max(sizes),
                          depth=max(t.depth for t in tiles))
