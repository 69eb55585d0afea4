"""The City's terrain grid as a 3D Tiles 1.1 tileset: a pyramid of regular meshes.

The meshes are built from the terrain grid itself (whatever its source: a DEM, a GSI DEM, or
heights estimated from the buildings), so the ground drawn is the ground the flood runs on and
the buildings stand on. Vertices sit at cell centres and take the grid's own heights; those of the
outermost rows and columns sit on the grid's outer edges instead (with their cells' heights), so that the
ground covers every cell, and a building at the edge of the grid does not hang over nothing. The
finest level samples every ``step``-th cell (``leaf_step``: no coarser than the measured DEM's
spacing, at most ``MAX_LEAF_SPACING_M``); each level above takes every other vertex of the one
below. A tile holds ``BLOCK`` × ``BLOCK`` quads of its level and refines by ``REPLACE`` into
its (up to) four children, so a distant view loads a few coarse tiles. A tile's
``geometricError`` is its level's vertex spacing in metres (leaves: 0). Every tile's content is in
one east-north-up frame at the grid's centre, the root's ``transform`` (tile transforms compose
down the tree, so the other tiles have none); float32 positions within tens of kilometres of it
keep millimetres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import Transformer

from twin.lonlat import to_lonlat
from twin.tiles.city_tiles import ENU_TO_GLTF, TERRAIN_MATERIAL, TilesetSummary, finish_tileset
from twin.tiles.enu import LocalFrame
from twin.tiles.glb import GltfBuilder
from twin.tiles.tileset import Tile, region_of_bounds

#: Quads per tile side at every level (129 × 129 vertices, 32,768 triangles, about 0.8 MB).
BLOCK = 128
#: The finest mesh spacing used when the measured DEM is coarser (or the terrain is estimated).
MAX_LEAF_SPACING_M = 10.0


def leaf_step(resolution: float, dem_spacing_m: float | None) -> int:
    """Cells between leaf vertices: the DEM's spacing (capped at ``MAX_LEAF_SPACING_M``) in whole cells."""
    spacing = MAX_LEAF_SPACING_M if dem_spacing_m is None else min(dem_spacing_m, MAX_LEAF_SPACING_M)
    return max(1, int(spacing // resolution))


@dataclass(frozen=True)
class _Level:
    rows: np.ndarray  # grid row of each vertex row
    cols: np.ndarray  # grid column of each vertex column
    spacing_m: float

    @property
    def blocks(self) -> tuple[int, int]:
        return math.ceil((len(self.rows) - 1) / BLOCK), math.ceil((len(self.cols) - 1) / BLOCK)


def write_terrain_tiles(heights: np.ndarray, transform: Affine, crs: str, out_dir: Path | str, *, credit: str,
                        step: int = 1, ellipsoidal_offset: float = 0.0, levels_per_file: int = 4) -> TilesetSummary:
    """Write ``out_dir/tileset.json`` and ``content/*.glb`` for a north-up grid (``heights[row, col]``,
    no NaN) with ``transform`` in the plane CRS ``crs``; leaf vertices every ``step`` cells. ``credit``
    (the sources the heights came from) goes into every glb's ``asset.copyright``."""
    out_dir = Path(out_dir)
    rows, cols = heights.shape
    if rows < 2 or cols < 2:
        raise ValueError(f"a {rows} × {cols} grid is too small to mesh")
    levels = [_Level(_indices(rows, step), _indices(cols, step), step * transform.a)]
    while levels[-1].blocks != (1, 1):
        below = levels[-1]
        levels.append(_Level(_halve(below.rows), _halve(below.cols), below.spacing_m * 2))
    lonlat = to_lonlat(crs)
    lon, lat = lonlat.transform(transform.c + transform.a * cols / 2, transform.f + transform.e * rows / 2)
    frame = LocalFrame(float(lon), float(lat), float(np.min(heights)) + ellipsoidal_offset)
    surface = _Surface(heights, transform, lonlat, out_dir, ellipsoidal_offset, frame, credit)
    root = _tile(len(levels) - 1, 0, 0, levels, surface)
    root.transform = frame.matrix()
    return finish_tileset(root, out_dir, levels_per_file, 0, None, refine="REPLACE")


@dataclass(frozen=True)
class _Surface:
    """What every tile of one terrain tileset is cut from and written with."""

    heights: np.ndarray
    transform: Affine
    to_lonlat: Transformer
    out_dir: Path
    offset: float  # added to the heights: the geoid height where the tiles are ellipsoidal
    frame: LocalFrame
    credit: str


def _indices(count: int, step: int) -> np.ndarray:
    found = np.arange(0, count, step)
    return found if found[-1] == count - 1 else np.append(found, count - 1)


def _halve(indices: np.ndarray) -> np.ndarray:
    found = indices[::2]
    return found if found[-1] == indices[-1] else np.append(found, indices[-1])


def _tile(level: int, i: int, j: int, levels: list[_Level], surface: _Surface) -> Tile:
    """The tile of block (i, j) at ``level`` with its content, and its children below."""
    spec = levels[level]
    r = spec.rows[i * BLOCK:(i + 1) * BLOCK + 1]
    c = spec.cols[j * BLOCK:(j + 1) * BLOCK + 1]
    tile = Tile(f"r{level}_{i}_{j}", len(levels) - 1 - level, np.zeros(4), np.zeros(0, np.int64),
                geometric_error=0.0 if level == 0 else spec.spacing_m)
    builder, bounds = _mesh(surface, r, c)
    path = surface.out_dir / "content" / f"{tile.id}.glb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(builder.to_glb())
    tile.content, tile.region = path, region_of_bounds(bounds[None])
    if level > 0:
        below = levels[level - 1].blocks
        tile.children = [_tile(level - 1, ci, cj, levels, surface)
                         for ci in (2 * i, 2 * i + 1) for cj in (2 * j, 2 * j + 1)
                         if ci < below[0] and cj < below[1]]
    return tile


def _mesh(surface: _Surface, r: np.ndarray, c: np.ndarray) -> tuple[GltfBuilder, np.ndarray]:
    """One tile's regular mesh over grid rows ``r`` × columns ``c`` (cell centres; the grid's outer edges for
    its first and last rows and columns), in the surface's frame."""
    heights, transform, offset, frame = surface.heights, surface.transform, surface.offset, surface.frame
    rows, cols = heights.shape
    x = transform.c + transform.a * (c + 0.5 - 0.5 * (c == 0) + 0.5 * (c == cols - 1))
    y = transform.f + transform.e * (r + 0.5 - 0.5 * (r == 0) + 0.5 * (r == rows - 1))
    xx, yy = np.meshgrid(x, y)
    lon, lat = surface.to_lonlat.transform(xx.ravel(), yy.ravel())
    h = heights[np.ix_(r, c)].ravel().astype(np.float64) + offset
    bounds = np.array([lon.min(), lat.min(), lon.max(), lat.max(), h.min(), h.max()])
    enu = frame.from_geodetic(lon, lat, h)
    n_rows, n_cols = len(r), len(c)
    corner = (np.arange(n_rows - 1)[:, None] * n_cols + np.arange(n_cols - 1)[None, :]).ravel()
    # Row 0 is north: (v, v + n_cols, v + 1) runs counter-clockwise seen from above.
    faces = np.concatenate([np.stack([corner, corner + n_cols, corner + 1], axis=1),
                            np.stack([corner + 1, corner + n_cols, corner + n_cols + 1], axis=1)])
    face_normals = np.cross(enu[faces[:, 1]] - enu[faces[:, 0]], enu[faces[:, 2]] - enu[faces[:, 0]])
    normals = np.zeros_like(enu)
    for k in range(3):
        np.add.at(normals, faces[:, k], face_normals)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    builder = GltfBuilder()
    builder.json["asset"]["copyright"] = surface.credit
    builder.primitive(enu @ ENU_TO_GLTF.T, normals @ ENU_TO_GLTF.T, faces.astype(np.uint32),
                      builder.material(TERRAIN_MATERIAL))
    return builder, bounds
