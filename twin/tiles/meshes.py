"""Triangle meshes of PLATEAU buildings (and bridges, water bodies), in a local east-north-up frame.

A building is meshed at the requested LOD, falling back LOD2 (``boundedBy`` surfaces,
else the LOD2 solid) → LOD1 solid → LOD0 footprint extruded by ``measuredHeight``.
Each polygon is projected onto its best-fit plane (Newell's normal, see Sutherland,
Sproull & Schumacker 1974, or Glassner, *Graphics Gems* III) and triangulated with
mapbox-earcut, holes included; every polygon keeps its own vertices so normals are flat.

Buildings are meshed many at a time (``building_meshes``): one coordinate transform and
one triangulation for all their polygons, so numpy's per-call cost is paid per batch,
not per building; each building still gets its own frame and Mesh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import mapbox_earcut
import numpy as np

from citygml.model import Feature, Geometry, Polygon
from twin.city.heights import DEFAULT_HEIGHT_M, STOREY_HEIGHT_M
from twin.tiles.enu import LocalFrame, geodetic_to_local

#: Planning assumptions for buildings without a usable measuredHeight (overridable).

#: Points closer than this (metres) to the previous one in a ring are dropped.
_MERGE_DISTANCE = 1e-4
#: Polygons with a smaller area (m²) are degenerate.
_MIN_AREA = 1e-6

Lod = int | Literal["max"]


@dataclass(slots=True)
class Mesh:
    """Triangles in an ENU frame at ``origin`` (lon, lat degrees; h metres).

    ``uv`` follows CityGML's convention (origin at the image's lower-left corner);
    ``triangle_image`` indexes ``images`` (−1: untextured). ``bounds`` is
    (west, south, east, north) in degrees and (min h, max h) in metres.
    """

    origin: tuple[float, float, float]
    positions: np.ndarray  # (n, 3) float32 east, north, up
    normals: np.ndarray  # (n, 3) float32 unit
    indices: np.ndarray  # (m, 3) uint32
    bounds: np.ndarray  # (6,) float64
    feature_ids: np.ndarray  # (n,) uint32
    uv: np.ndarray | None = None  # (n, 2) float32
    triangle_image: np.ndarray | None = None  # (m,) int32
    images: tuple[str, ...] = ()
    lod: int = -1

    @property
    def frame(self) -> LocalFrame:
        return LocalFrame(*self.origin)

    def estimated_bytes(self) -> int:
        """Rough glb size: vertex attributes and indices (images not included)."""
        per_vertex = 28 + (8 if self.uv is not None else 0)
        return len(self.positions) * per_vertex + self.indices.size * 4


@dataclass
class MeshStats:
    """Counters of what meshing did, for summaries and warnings."""

    buildings: int = 0
    without_geometry: int = 0
    default_height: int = 0
    degenerate_polygons: int = 0
    textured_polygons: int = 0
    texture_mismatches: int = 0
    degenerate_triangles: int = 0
    missing_textures: int = 0
    lods: Counter = field(default_factory=Counter)

    def update(self, other: MeshStats) -> None:
        for name in ("buildings", "without_geometry", "default_height", "degenerate_polygons",
                     "textured_polygons", "texture_mismatches", "degenerate_triangles", "missing_textures"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lods.update(other.lods)


@dataclass(slots=True)
class _Batch:
    """The polygons chosen for many buildings, flattened into rings of (lat, lon, h) rows.

    Rings are consecutive, each polygon's exterior first; polygons are in building
    order, then selection order, which is the order their vertices take in the meshes.
    """

    points: np.ndarray  # (n, 3)
    ring_sizes: np.ndarray  # (rings,)
    ring_polygon: np.ndarray  # (rings,)
    point_building: np.ndarray  # (n,)
    polygon_building: np.ndarray  # (polygons,)
    polygon_mode: np.ndarray  # (polygons,) 0 surface, 1 extruded up (FootPrint), 2 down (RoofEdge)
    polygon_height: np.ndarray  # (polygons,) extrusion height
    textured: list[tuple[int, Polygon]]  # surface polygons with a texture, by index
    lod: np.ndarray  # (buildings,) LOD used; −1 without geometry
    defaulted: np.ndarray  # (buildings,) selections that got a default height
    top: np.ndarray  # (buildings,) height added above the points (footprints)
    below: np.ndarray  # (buildings,) height added below the points (roof edges)
    stride: int  # keys per polygon: two caps and one wall per ring


@dataclass(slots=True)
class _Part:
    """Mesh vertices and triangles of many buildings; ``key`` orders vertices into meshes."""

    positions: np.ndarray  # (n, 3)
    normals: np.ndarray  # (n, 3)
    # (n,) polygon × _Batch.stride + piece (extrusions: 0 top cap, 1 bottom, 2 + ring walls):
    # sorted stably, it puts vertices in building, then polygon, then piece order.
    key: np.ndarray
    triangles: np.ndarray  # (m, 3) into positions
    uv: np.ndarray | None = None  # (n, 2)
    triangle_image: np.ndarray | None = None  # (m,) index into the building's images


@dataclass(slots=True)
class _Selection:
    """The polygons chosen for one feature (a building or a part) and how to use them."""

    lod: int
    polygons: list[Polygon]
    extrude: str | None  # None, "FootPrint" or "RoofEdge"
    height: float = 0.0
    defaulted: bool = False


def building_mesh(feature: Feature, lod: Lod = "max", *, ellipsoidal_offset: float = 0.0,
                  default_height: float = DEFAULT_HEIGHT_M,
                  storey_height: float = STOREY_HEIGHT_M,
                  stats: MeshStats | None = None) -> Mesh | None:
    """Mesh one building (with its BuildingParts) or None when it has no usable geometry.

    ``lod`` is 0, 1, 2 (3 also works) or "max"; a missing LOD falls back to lower ones.
    ``ellipsoidal_offset`` (metres) is added to every height, for globes that expect
    ellipsoidal heights; 0 keeps PLATEAU's orthometric heights.
    """
    return building_meshes([feature], lod, ellipsoidal_offset=ellipsoidal_offset,
                           default_height=default_height, storey_height=storey_height,
                           stats=stats)[0]


def building_meshes(features: Sequence[Feature], lod: Lod = "max", *,
                    ellipsoidal_offset: float = 0.0, default_height: float = DEFAULT_HEIGHT_M,
                    storey_height: float = STOREY_HEIGHT_M,
                    stats: MeshStats | None = None) -> list[Mesh | None]:
    """``building_mesh`` of each feature, meshed together in one vectorised pass.

    All buildings' points go through one geodetic→ENU transform and all their polygons
    through one triangulation; each building still gets its own frame and Mesh.
    """
    stats = stats if stats is not None else MeshStats()
    stats.buildings += len(features)
    level = 4 if lod == "max" else int(lod)
    batch = _gather([_select_building(f, level, default_height, storey_height) for f in features])
    bounds, active = _bounds(batch, ellipsoidal_offset)
    stats.without_geometry += len(features) - int(active.sum())
    stats.default_height += int(batch.defaulted[active].sum())
    origins = np.column_stack([(bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2,
                               bounds[:, 4]])
    with np.errstate(invalid="ignore"):
        enu = geodetic_to_local(batch.points[:, 1], batch.points[:, 0],
                                batch.points[:, 2] + ellipsoidal_offset, origins, batch.point_building)
    polygon_active = active[batch.polygon_building]
    surface = batch.polygon_mode == 0
    images: dict[int, dict[str, int]] = {}  # building → its images, in order of first use
    parts = []
    if surface.any():
        parts.append(_surfaces(batch, enu, surface, polygon_active, images, stats))
    if not surface.all():
        parts.append(_extrusions(batch, enu, ~surface, polygon_active, stats))
    return _split(batch, parts, images, bounds, origins, active, stats)


def _select_building(feature: Feature, lod: int, default_height: float,
                     storey_height: float) -> list[_Selection]:
    """The building's own geometry, or its parts' where those are more detailed."""
    defaults = (default_height, storey_height)
    own = _select(feature, lod, None, defaults)
    parts = [s for s in (_select(p, lod, feature, defaults) for p in feature.parts) if s]
    if parts and (own is None or max(s.lod for s in parts) > own.lod):
        return parts
    return [own] if own else []


#: Geometry roles tried at each LOD (LOD2 and up alike), most detailed first.
_ROLES = {2: ("boundedBy", "Solid", "MultiSurface"), 1: ("Solid", "MultiSurface"),
          0: ("FootPrint", "RoofEdge", "MultiSurface")}  # CityGML 3.0 writes LOD0 as lod0MultiSurface


def _select(feature: Feature, lod: int, parent: Feature | None,
            defaults: tuple[float, float]) -> _Selection | None:
    """The most detailed geometry at ``lod`` or below."""
    geometries: dict[tuple[int, str], Geometry] = {}
    for geometry in feature.geometries:  # the first of each (lod, role), as Feature.geometry
        geometries.setdefault((geometry.lod, geometry.role), geometry)
    for level in range(lod, -1, -1):
        for role in _ROLES[min(level, 2)]:
            geometry = geometries.get((level, role))
            polygons = geometry.polygons() if geometry is not None else []
            if not polygons:
                continue
            if level > 0:
                return _Selection(level, polygons, None)
            # A part without its own height borrows its building's.
            height = _height(feature) or (_height(parent) if parent is not None else None)
            if height is not None:
                return _Selection(0, polygons, role, height)
            return _Selection(0, polygons, role, _default_height(feature, *defaults), True)
    return None


def _height(feature: Feature) -> float | None:
    value = feature.measured_height
    # PLATEAU writes -9999 / 9999 for unknown heights.
    return value if value is not None and 0 < value < 9999 else None


def _default_height(feature: Feature, default_height: float, storey_height: float) -> float:
    storeys = feature.storeys
    return storeys * storey_height if storeys and 0 < storeys < 9999 else default_height


#: _Batch.polygon_mode of each _Selection.extrude.
_MODES = {None: 0, "FootPrint": 1, "RoofEdge": 2}


def _gather(chosen: list[list[_Selection]]) -> _Batch:
    """Flatten each building's selections into one batch of rings."""
    rings: list[np.ndarray] = []
    polygon_rings: list[int] = []
    textured: list[tuple[int, Polygon]] = []
    selection_polygons, selection_building, selection_mode, selection_height = [], [], [], []
    for building, selections in enumerate(chosen):
        for selection in selections:
            polygons = selection.polygons
            mode = _MODES[selection.extrude]
            if mode == 0:
                first = len(polygon_rings)
                textured += [(first + k, p) for k, p in enumerate(polygons) if p.texture is not None]
            rings += [r for p in polygons for r in (p.exterior, *p.interiors)]
            polygon_rings += [1 + len(p.interiors) for p in polygons]
            selection_polygons.append(len(polygons))
            selection_building.append(building)
            selection_mode.append(mode)
            selection_height.append(selection.height)
    counts = np.array(polygon_rings, np.int64)
    ring_sizes = np.fromiter(map(len, rings), np.int64, len(rings))
    ring_polygon = np.repeat(np.arange(len(counts)), counts)
    polygon_building = np.repeat(np.array(selection_building, np.int64), selection_polygons)
    return _Batch(
        points=np.asarray(np.concatenate(rings) if rings else np.zeros((0, 3)), float).reshape(-1, 3),
        ring_sizes=ring_sizes, ring_polygon=ring_polygon,
        point_building=np.repeat(polygon_building[ring_polygon], ring_sizes),
        polygon_building=polygon_building,
        polygon_mode=np.repeat(np.array(selection_mode, np.int64), selection_polygons),
        polygon_height=np.repeat(np.array(selection_height, float), selection_polygons),
        textured=textured,
        lod=np.array([max((s.lod for s in c), default=-1) for c in chosen], np.int64),
        defaulted=np.array([sum(s.defaulted for s in c) for c in chosen], np.int64),
        top=np.array([_extruded(c, "FootPrint") for c in chosen]),
        below=np.array([_extruded(c, "RoofEdge") for c in chosen]),
        stride=2 + int(counts.max(initial=0)))


def _extruded(selections: list[_Selection], role: str) -> float:
    """The largest height a building's ``role`` polygons are extruded by (0 if none)."""
    return max((s.height for s in selections if s.extrude == role), default=0.0)


def _bounds(batch: _Batch, ellipsoidal_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Each building's (west, south, east, north, min h, max h) over its finite points, and
    whether it has any."""
    buildings = len(batch.lod)
    finite = np.isfinite(batch.points).all(axis=1)
    active = np.bincount(batch.point_building[finite], minlength=buildings) > 0
    starts = np.searchsorted(batch.point_building, np.arange(buildings))
    # A sentinel row keeps reduceat's indices in range for buildings without points.
    low = np.vstack([np.where(finite[:, None], batch.points, np.inf), np.full((1, 3), np.inf)])
    high = np.vstack([np.where(finite[:, None], batch.points, -np.inf), np.full((1, 3), -np.inf)])
    lo, hi = np.minimum.reduceat(low, starts), np.maximum.reduceat(high, starts)
    bounds = np.column_stack([lo[:, 1], lo[:, 0], hi[:, 1], hi[:, 0],
                              lo[:, 2] + ellipsoidal_offset - batch.below,
                              hi[:, 2] + ellipsoidal_offset + batch.top])
    bounds[~active] = np.nan
    return bounds, active


def _subset(batch: _Batch, enu: np.ndarray,
            polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points, ring sizes, ring → polygon (renumbered) and batch indices of the polygons
    where ``polygons`` is True."""
    ring_mask = polygons[batch.ring_polygon]
    point_mask = np.repeat(ring_mask, batch.ring_sizes)
    renumber = np.cumsum(polygons) - 1
    return (enu[point_mask], batch.ring_sizes[ring_mask], renumber[batch.ring_polygon[ring_mask]],
            np.flatnonzero(polygons))


def _surfaces(batch: _Batch, enu: np.ndarray, surface: np.ndarray, polygon_active: np.ndarray,
              images: dict[int, dict[str, int]], stats: MeshStats) -> _Part:
    """Planar polygons (holes included) triangulated, with their textures."""
    points, sizes, ring_polygon, which = _subset(batch, enu, surface)
    result = _triangulate(points, sizes, ring_polygon, len(which))
    stats.degenerate_polygons += int((~result.ok & polygon_active[which]).sum())
    part = _Part(result.points, _rows(result.normals, result.point_polygon),
                 which[result.point_polygon] * batch.stride, result.triangles)
    if batch.textured:
        _texture(part, batch, result, sizes, ring_polygon, which, images, stats)
    return part


def _texture(part: _Part, batch: _Batch, result: _Triangulation, sizes: np.ndarray,
             ring_polygon: np.ndarray, which: np.ndarray, images: dict[int, dict[str, int]],
             stats: MeshStats) -> None:
    """UVs and per-building image indices of the textured surface polygons."""
    local = np.full(len(batch.polygon_mode), -1, np.int64)
    local[which] = np.arange(len(which))
    ring_start = np.cumsum(sizes) - sizes
    exterior_start = ring_start[np.searchsorted(ring_polygon, np.arange(len(which)))]
    raw_uv = np.full((int(sizes.sum()), 2), np.nan)
    polygon_image = np.full(len(which), -1, np.int32)
    for index, polygon in batch.textured:
        k = local[index]
        if not result.ok[k]:
            continue
        texture, n = polygon.texture, len(polygon.exterior)
        if len(texture.uv) != n:
            stats.texture_mismatches += 1
            continue
        raw_uv[exterior_start[k]:exterior_start[k] + n] = texture.uv
        own = images.setdefault(int(batch.polygon_building[index]), {})
        polygon_image[k] = own.setdefault(texture.image, len(own))
        stats.textured_polygons += 1
    uv = raw_uv[result.source]
    holed = np.flatnonzero((polygon_image >= 0) & (np.bincount(ring_polygon, minlength=len(which)) > 1))
    first = np.searchsorted(result.point_polygon, holed)
    last = np.searchsorted(result.point_polygon, holed, side="right")
    for lo, hi in zip(first.tolist(), last.tolist()):
        _extend_uv(uv[lo:hi], result.points[lo:hi])
    part.uv = np.nan_to_num(uv)
    part.triangle_image = polygon_image[result.point_polygon[result.triangles[:, 0]]]


def _extend_uv(uv: np.ndarray, points: np.ndarray) -> None:
    """Fill a textured polygon's hole UVs (NaN) by the affine map fitted to its exterior."""
    known = ~np.isnan(uv[:, 0])
    design = np.column_stack([points, np.ones(len(points))])
    coeffs, *_ = np.linalg.lstsq(design[known], uv[known], rcond=None)
    uv[~known] = design[~known] @ coeffs


def _extrusions(batch: _Batch, enu: np.ndarray, extruded: np.ndarray, polygon_active: np.ndarray,
                stats: MeshStats) -> _Part:
    """Prisms from footprints (up) or roof edges (down): caps and one quad per edge."""
    points, sizes, ring_polygon, which = _subset(batch, enu, extruded)
    cap = _triangulate(points, sizes, ring_polygon, len(which))
    height = batch.polygon_height[which]
    ok = cap.ok & (height > 0)
    stats.degenerate_polygons += int((~ok & polygon_active[which]).sum())
    kept = ok[cap.point_polygon]
    polygon = cap.point_polygon[kept]
    low = cap.points[kept]
    low[:, 2] -= np.where(batch.polygon_mode[which] == 2, height, 0.0)[polygon]
    high = low.copy()
    high[:, 2] += height[polygon]
    renumber = np.cumsum(kept) - 1
    triangles = renumber[cap.triangles[ok[cap.point_polygon[cap.triangles[:, 0]]]]]
    up = np.where(cap.normals[:, 2] >= 0, 1.0, -1.0)
    down = up[polygon[triangles[:, 0]]] < 0
    triangles[down] = triangles[down][:, ::-1]
    normal = up[:, None] * cap.normals
    key = which[polygon] * batch.stride
    n = len(low)
    walls = _walls(low, high, np.searchsorted(np.cumsum(sizes), cap.source[kept], side="right"),
                   np.searchsorted(ring_polygon, polygon), key)
    return _Part(np.concatenate([high, low, walls.positions]),
                 np.concatenate([normal[polygon], -normal[polygon], walls.normals]),
                 np.concatenate([key, key + 1, walls.key]),
                 np.concatenate([triangles, triangles[:, ::-1] + n, walls.triangles + 2 * n]))


def _walls(low: np.ndarray, high: np.ndarray, ring: np.ndarray, exterior_ring: np.ndarray,
           key: np.ndarray) -> _Part:
    """One quad per ring edge between ``low`` and ``high`` points, facing outwards.

    ``ring`` numbers each point's ring (points of a ring consecutive), ``exterior_ring``
    its polygon's exterior ring, ``key`` the polygon's key.
    """
    start = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]]) if len(ring) else np.zeros(0, np.int64)
    size = np.diff(np.r_[start, len(ring)])
    position = np.arange(len(ring))
    nxt = position + 1
    nxt[start + size - 1] = start
    x, y = low[:, 0], low[:, 1]
    area = np.add.reduceat(x * y[nxt] - x[nxt] * y, start) if len(ring) else np.zeros(0)
    # Exterior anticlockwise seen from above, holes clockwise: walls then face outwards.
    flip = np.repeat((area > 0) != (ring[start] == exterior_ring[start]), size)
    first = np.repeat(start, size)
    last = first + np.repeat(size, size) - 1
    rows = np.where(flip, last - (position - first), position)
    following = rows[nxt]
    quads = np.stack([low[rows], low[following], high[following], high[rows]], axis=1)
    normals = _cross(quads[:, 1] - quads[:, 0], quads[:, 3] - quads[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    base = 4 * np.arange(len(quads))[:, None]
    return _Part(quads.reshape(-1, 3), np.repeat(normals, 4, axis=0),
                 np.repeat(key + 2 + ring - exterior_ring, 4),
                 np.concatenate([base + [0, 1, 2], base + [0, 2, 3]]))


def _split(batch: _Batch, parts: list[_Part], images: dict[int, dict[str, int]],
           bounds: np.ndarray, origins: np.ndarray, active: np.ndarray,
           stats: MeshStats) -> list[Mesh | None]:
    """Order all vertices by key, then cut them and their triangles into one Mesh per building."""
    sizes = [len(p.positions) for p in parts]
    offsets = np.cumsum([0] + sizes[:-1])
    key = np.concatenate([p.key for p in parts] + [np.zeros(0, np.int64)])
    order = np.argsort(key, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    triangles = np.concatenate([p.triangles + o for p, o in zip(parts, offsets)]
                               + [np.zeros((0, 3), np.int64)])
    triangle_order = np.argsort(key[triangles[:, 0]], kind="stable")
    triangles = rank[_rows(triangles, triangle_order)]
    buildings = len(batch.lod)
    vertex_building = batch.polygon_building[key[order] // batch.stride]
    triangle_building = vertex_building[triangles[:, 0]]
    vertex_end = np.cumsum(np.bincount(vertex_building, minlength=buildings))
    vertex_start = np.r_[0, vertex_end[:-1]]
    triangle_end = np.cumsum(np.bincount(triangle_building, minlength=buildings))
    triangle_start = np.r_[0, triangle_end[:-1]]
    indices = (triangles - vertex_start[triangle_building, None]).astype(np.uint32)
    positions = _ordered([p.positions for p in parts], order, (0, 3)).astype(np.float32)
    normals = _ordered([p.normals for p in parts], order, (0, 3)).astype(np.float32)
    uv = triangle_image = None
    if images:
        uv = _ordered([p.uv if p.uv is not None else np.zeros((n, 2)) for p, n in zip(parts, sizes)],
                      order, (0, 2)).astype(np.float32)
        triangle_image = _ordered([p.triangle_image if p.triangle_image is not None
                                   else np.full(len(p.triangles), -1, np.int32) for p in parts],
                                  triangle_order, (0,)).astype(np.int32)
    feature_ids = np.zeros(len(positions), np.uint32)
    keep = (triangle_end > triangle_start) & active
    stats.without_geometry += int((active & ~keep).sum())
    stats.lods.update(batch.lod[keep].tolist())
    meshes: list[Mesh | None] = [None] * len(keep)
    for b, v0, v1, t0, t1, origin, lod in zip(
            np.flatnonzero(keep).tolist(), vertex_start[keep].tolist(), vertex_end[keep].tolist(),
            triangle_start[keep].tolist(), triangle_end[keep].tolist(), origins[keep].tolist(),
            batch.lod[keep].tolist()):
        named = tuple(images.get(b, ()))
        meshes[b] = Mesh(origin=tuple(origin), positions=positions[v0:v1], normals=normals[v0:v1],
                         indices=indices[t0:t1], bounds=bounds[b], feature_ids=feature_ids[v0:v1],
                         uv=uv[v0:v1] if named else None,
                         triangle_image=triangle_image[t0:t1] if named else None,
                         images=named, lod=lod)
    return meshes


def _ordered(arrays: list[np.ndarray], order: np.ndarray, empty: tuple[int, ...]) -> np.ndarray:
    return _rows(np.concatenate(arrays), order) if arrays else np.zeros(empty)


@dataclass(slots=True)
class _Triangulation:
    """Polygons triangulated together: kept points, triangles into them, per-polygon data."""

    points: np.ndarray  # (n, 3)
    source: np.ndarray  # (n,) index of each point in the input
    point_polygon: np.ndarray  # (n,)
    triangles: np.ndarray  # (m, 3) into points
    normals: np.ndarray  # (polygons, 3) unit normals (Newell), arbitrary where degenerate
    ok: np.ndarray  # (polygons,) True where the polygon got triangles


def _triangulate(points: np.ndarray, ring_sizes: np.ndarray, ring_polygon: np.ndarray,
                 polygons: int) -> _Triangulation:
    """Triangulate many polygons at once; rings are consecutive, each polygon's exterior first.

    Repeated points are merged, rings with fewer than three distinct points or a
    non-finite coordinate are dropped (a polygon whose exterior is dropped is
    degenerate). Convex rings without holes are fanned in bulk; the others go through
    earcut one by one, in the plane of their Newell normal.
    """
    ring_sizes = np.asarray(ring_sizes, np.int64)
    ring_polygon = np.asarray(ring_polygon, np.int64)
    rings = len(ring_sizes)
    exterior = np.r_[True, ring_polygon[1:] != ring_polygon[:-1]] if rings else np.zeros(0, bool)
    point_ring = np.repeat(np.arange(rings), ring_sizes)
    starts = np.cumsum(ring_sizes) - ring_sizes
    previous = np.arange(len(points)) - 1
    nonempty = ring_sizes > 0
    previous[starts[nonempty]] = (starts + ring_sizes - 1)[nonempty]
    finite = np.isfinite(points).all(axis=1)
    with np.errstate(invalid="ignore"):
        keep = _norm(points - _rows(points, previous)) > _MERGE_DISTANCE
    ring_ok = (np.bincount(point_ring, ~finite, rings) == 0) & (np.bincount(point_ring, keep, rings) >= 3)
    polygon_ok = np.zeros(polygons, bool)
    polygon_ok[ring_polygon[exterior & ring_ok]] = True
    ring_used = ring_ok & polygon_ok[ring_polygon]
    source = np.flatnonzero(keep & ring_used[point_ring])
    points = _rows(points, source)

    # The rings still in use, renumbered; ``following`` is the next point around a ring.
    used = np.flatnonzero(ring_used)
    sizes = np.bincount(point_ring[source], minlength=rings)[used]
    starts = np.cumsum(sizes) - sizes
    ring_of = np.repeat(np.arange(len(used)), sizes)
    following = np.arange(len(points)) + 1
    following[starts + sizes - 1] = starts
    poly_of_ring = ring_polygon[used]
    point_polygon = poly_of_ring[ring_of]

    # Newell's normal of each exterior ring, about its centroid for round-off.
    centre = np.add.reduceat(points, starts) / sizes[:, None] if len(used) else np.zeros((0, 3))
    centred = points - _rows(centre, ring_of)
    area = 0.5 * np.add.reduceat(_cross(centred, _rows(centred, following)), starts) if len(used) else centre
    is_exterior = exterior[used]
    normals = np.tile([0.0, 0.0, 1.0], (polygons, 1))
    origin = np.zeros((polygons, 3))
    size = _norm(area)
    flat_ok = np.zeros(polygons, bool)
    flat_ok[poly_of_ring[is_exterior]] = size[is_exterior] >= _MIN_AREA
    ext_rings = np.flatnonzero(is_exterior & flat_ok[poly_of_ring])
    normals[poly_of_ring[ext_rings]] = area[ext_rings] / size[ext_rings, None]
    origin[poly_of_ring[ext_rings]] = centre[ext_rings]

    # Plane coordinates: (u, v, normal) right-handed, so exteriors run anticlockwise.
    helper = np.eye(3)[np.argmin(np.abs(normals), axis=1)]
    u = _cross(helper, normals)
    u /= _norm(u)[:, None]
    v = _cross(normals, u)
    relative = points - _rows(origin, point_polygon)
    flat = np.column_stack([_dot(relative, _rows(u, point_polygon)), _dot(relative, _rows(v, point_polygon))])

    preceding = np.arange(len(points)) - 1
    preceding[starts] = starts + sizes - 1
    d1 = flat - _rows(flat, preceding)
    d2 = _rows(flat, following) - flat
    turn = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    slack = 1e-9 * np.hypot(d1[:, 0], d1[:, 1]) * np.hypot(d2[:, 0], d2[:, 1])
    rings_of_polygon = np.bincount(poly_of_ring, minlength=polygons)
    convex_ring = np.bincount(ring_of, turn < -slack, len(used)) == 0
    fan = flat_ok[poly_of_ring] & convex_ring & (rings_of_polygon[poly_of_ring] == 1)
    fanned = np.zeros(polygons, bool)
    fanned[poly_of_ring[fan]] = True
    pieces = [_fan(starts[fan], sizes[fan])]
    pieces += _earcut(flat, starts, sizes, poly_of_ring, np.flatnonzero(flat_ok & ~fanned))
    triangles = np.concatenate(pieces)

    a, b, c = (_rows(flat, triangles[:, k]) for k in range(3))
    signed = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    triangles[signed < 0] = triangles[signed < 0][:, ::-1]
    triangles = triangles[np.abs(signed) > 2 * _MIN_AREA * 1e-3]
    ok = np.zeros(polygons, bool)
    ok[point_polygon[triangles[:, 0]]] = True
    return _Triangulation(points, source, point_polygon, triangles, normals, ok)


def _fan(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Fan triangles (s, s+j, s+j+1) of convex rings."""
    counts = sizes - 2
    ring = np.repeat(np.arange(len(starts)), counts)
    j = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    base = starts[ring]
    return np.column_stack([base, base + j, base + j + 1]).astype(np.int64)


def _earcut(flat: np.ndarray, starts: np.ndarray, sizes: np.ndarray, poly_of_ring: np.ndarray,
            polygons: np.ndarray) -> list[np.ndarray]:
    """Earcut triangles of ``polygons`` (holes included), one call each, into ``flat`` rows."""
    first_ring = np.searchsorted(poly_of_ring, polygons).tolist()
    end_ring = np.searchsorted(poly_of_ring, polygons, side="right").tolist()
    ends = starts + sizes
    pieces = []
    for r0, r1 in zip(first_ring, end_ring):
        first, last = int(starts[r0]), int(ends[r1 - 1])
        tris = mapbox_earcut.triangulate_float64(flat[first:last], (ends[r0:r1] - first).astype(np.uint32))
        pieces.append(tris.reshape(-1, 3).astype(np.int64) + first)
    return pieces


def _rows(a: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``a[index]`` for an integer index: np.take is several times faster on (n, k) rows."""
    return np.take(a, index, axis=0)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross products of (n, 3) arrays (np.cross is slow on many short rows)."""
    return np.column_stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                            a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                            a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _norm(a: np.ndarray) -> np.ndarray:
    return np.sqrt(_dot(a, a))
