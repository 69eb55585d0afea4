"""The 3D Tiles 1.1 tree: a balanced quadtree over points and its tileset.json files.

Interior tiles carry no content and refine additively (``ADD``); leaves hold content
with their own ENU→ECEF ``transform`` (interior tiles have none, so nothing is inherited).
Every ``levels_per_file`` levels the tree continues in an external tileset, keeping
each JSON file small (OGC 22-025r4 §"External tilesets": the referencing tile has no
children and the external root repeats its bounding volume and geometric error).
"""

from __future__ import annotations

import json
import math
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_EARTH_RADIUS = 6_371_008.8  # mean radius, metres; only used to size cells
#: Regions are padded by this much (radians; ~6 cm) and these metres in height, to cover
#: float32 rounding and the chord sag of triangle edges between vertices.
REGION_PAD_RADIANS = 1e-8
REGION_PAD_METRES = 0.1


@dataclass
class Tile:
    """A node of the tree; leaves list their members (indices into the caller's items)."""

    id: str
    depth: int
    cell: np.ndarray  # (4,) x0, y0, x1, y1 metres in the tree's plane
    members: np.ndarray
    children: list[Tile] = field(default_factory=list)
    geometric_error: float = 0.0
    region: np.ndarray | None = None  # (6,) west, south, east, north radians; min, max h
    content: Path | None = None  # path of the content file
    transform: np.ndarray | None = None  # 4×4

    def leaves(self) -> list[Tile]:
        return [self] if not self.children else [t for c in self.children for t in c.leaves()]

    def walk(self) -> list[Tile]:
        return [self] + [t for c in self.children for t in c.walk()]


def plane_coordinates(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Equirectangular metres about the points' mean: good enough to size tiles."""
    lat0 = np.radians(np.mean(lat))
    scale = np.radians(_EARTH_RADIUS)
    return np.column_stack([(lon - np.mean(lon)) * scale * np.cos(lat0), (lat - np.mean(lat)) * scale])


def build_quadtree(xy: np.ndarray, sizes: np.ndarray, max_items: int, max_bytes: int) -> Tile:
    """Split at median x, then each half at its median y, while a tile is over a limit.

    Median splits keep the four children equally full, whatever the density. A
    tile's geometric error is its cell's diagonal (leaves 0): skipping a tile hides
    what lies within that cell. Should a split not shrink the cell (coincident
    points), the child's error halves so errors still decrease strictly with depth.
    """
    cell = np.array([*xy.min(axis=0), *xy.max(axis=0)]) if len(xy) else np.zeros(4)
    root = Tile("r", 0, cell, np.arange(len(xy)))
    stack = [root]
    while stack:
        tile = stack.pop()
        members = tile.members
        if len(members) <= 1 or (len(members) <= max_items and sizes[members].sum() <= max_bytes):
            continue
        for k, (child_cell, child_members) in enumerate(_quarters(xy, members, tile.cell)):
            child = Tile(f"{tile.id}{k}", tile.depth + 1, child_cell, child_members)
            tile.children.append(child)
            stack.append(child)
        tile.members = np.zeros(0, np.int64)
    _set_errors(root, math.inf)
    return root


def _quarters(xy: np.ndarray, members: np.ndarray, cell: np.ndarray):
    x0, y0, x1, y1 = cell
    by_x = members[np.argsort(xy[members, 0], kind="stable")]
    half = len(by_x) // 2
    xm = (xy[by_x[half - 1], 0] + xy[by_x[half], 0]) / 2
    for side, (a, b) in zip((by_x[:half], by_x[half:]), ((x0, xm), (xm, x1))):
        by_y = side[np.argsort(xy[side, 1], kind="stable")]
        half_y = len(by_y) // 2
        if half_y == 0:
            yield np.array([a, y0, b, y1]), by_y
            continue
        ym = (xy[by_y[half_y - 1], 1] + xy[by_y[half_y], 1]) / 2
        yield np.array([a, y0, b, ym]), by_y[:half_y]
        yield np.array([a, ym, b, y1]), by_y[half_y:]


def _set_errors(tile: Tile, parent_error: float) -> None:
    if not tile.children:
        tile.geometric_error = 0.0
        return
    diagonal = float(np.hypot(tile.cell[2] - tile.cell[0], tile.cell[3] - tile.cell[1]))
    tile.geometric_error = diagonal if diagonal < parent_error else parent_error / 2
    for child in tile.children:
        _set_errors(child, tile.geometric_error)


def region_of_bounds(bounds: np.ndarray) -> np.ndarray:
    """A padded 3D Tiles region (radians, metres) around (k, 6) degree/metre bounds."""
    bounds = np.asarray(bounds, float).reshape(-1, 6)
    west, south = np.radians(bounds[:, 0].min()), np.radians(bounds[:, 1].min())
    east, north = np.radians(bounds[:, 2].max()), np.radians(bounds[:, 3].max())
    return np.array([west - REGION_PAD_RADIANS, south - REGION_PAD_RADIANS,
                     east + REGION_PAD_RADIANS, north + REGION_PAD_RADIANS,
                     bounds[:, 4].min() - REGION_PAD_METRES, bounds[:, 5].max() + REGION_PAD_METRES])


def fill_regions(tile: Tile) -> np.ndarray:
    """Set interior regions to the union of their children's; the root's region."""
    if tile.children:
        regions = np.array([fill_regions(c) for c in tile.children])
        tile.region = np.array([regions[:, 0].min(), regions[:, 1].min(), regions[:, 2].max(),
                                regions[:, 3].max(), regions[:, 4].min(), regions[:, 5].max()])
    return tile.region


def region_diagonal(region: np.ndarray) -> float:
    """Approximate diagonal (metres) of a region, heights included."""
    west, south, east, north, low, high = region
    dx = (east - west) * _EARTH_RADIUS * math.cos((south + north) / 2)
    dy = (north - south) * _EARTH_RADIUS
    return math.sqrt(dx * dx + dy * dy + (high - low) ** 2)


def write_tilesets(root: Tile, out_dir: Path, levels_per_file: int = 4,
                   metadata: dict | None = None, refine: str = "ADD") -> list[Path]:
    """Write ``tileset.json`` (and external ones under ``tilesets/``); the files written.

    ``refine`` is the root's (inherited by every tile): ``ADD`` for trees whose interior tiles are
    empty, ``REPLACE`` for a pyramid whose every tile has content (the terrain).
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    root_error = max(root.geometric_error, region_diagonal(root.region))
    _write_file(root, out_dir / "tileset.json", out_dir, levels_per_file, root_error, metadata, written, refine)
    return written


def _write_file(root: Tile, path: Path, out_dir: Path, levels: int, tileset_error: float,
                metadata: dict | None, written: list[Path], refine: str) -> None:
    pending: list[Tile] = []
    document = {"asset": {"version": "1.1", "generator": "machi-twin"},
                "geometricError": tileset_error,
                "root": _tile_json(root, root.depth, path.parent, out_dir, levels, pending)}
    document["root"]["refine"] = refine
    if metadata:
        document["asset"]["extras"] = metadata
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, separators=(",", ":"), ensure_ascii=False))
    written.append(path)
    for tile in pending:
        _write_file(tile, out_dir / "tilesets" / f"{tile.id}.json", out_dir, levels,
                    tile.geometric_error, None, written, refine)


def _tile_json(tile: Tile, top: int, base: Path, out_dir: Path, levels: int,
               pending: list[Tile]) -> dict:
    node: dict = {"boundingVolume": {"region": [float(v) for v in tile.region]},
                  "geometricError": tile.geometric_error}
    if tile.transform is not None:
        node["transform"] = [float(v) for v in tile.transform.flatten(order="F")]
    if tile.content is not None:
        node["content"] = {"uri": _relative(tile.content, base)}
    if tile.children and tile.depth - top >= levels:
        pending.append(tile)
        node["content"] = {"uri": _relative(out_dir / "tilesets" / f"{tile.id}.json", base)}
    elif tile.children:
        node["children"] = [_tile_json(c, top, base, out_dir, levels, pending) for c in tile.children]
    return node


def _relative(target: Path, base: Path) -> str:
    return posixpath.relpath(Path(target).as_posix(), Path(base).as_posix())
