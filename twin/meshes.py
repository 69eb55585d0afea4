"""Triangle meshes of PLATEAU buildings and terrain, in a local east-north-up frame.

A building is meshed at the requested LOD, falling back LOD2 (``boundedBy`` surfaces,
else the LOD2 solid) → LOD1 solid → LOD0 footprint extruded by ``measuredHeight``.
Each polygon is projected onto its best-fit plane (Newell's normal, see Sutherland,
Sproull & Schumacker 1974, or Glassner, *Graphics Gems* III) and triangulated with
mapbox-earcut, holes included; every polygon keeps its own vertices so normals are flat.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import mapbox_earcut
import numpy as np

from citygml.model import Feature, Polygon
from twin.enu import LocalFrame

#: Planning assumptions for buildings without a usable measuredHeight (overridable).
DEFAULT_STOREY_HEIGHT = 3.0
DEFAULT_HEIGHT = 6.0

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
    lods: Counter = field(default_factory=Counter)

    def update(self, other: MeshStats) -> None:
        for name in ("buildings", "without_geometry", "default_height", "degenerate_polygons",
                     "textured_polygons", "texture_mismatches", "degenerate_triangles"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lods.update(other.lods)


@dataclass(slots=True)
class _Pieces:
    """Triangulated polygons collected before they become one Mesh."""

    positions: list[np.ndarray] = field(default_factory=list)
    normals: list[np.ndarray] = field(default_factory=list)
    uv: list[np.ndarray | None] = field(default_factory=list)
    triangles: list[np.ndarray] = field(default_factory=list)
    triangle_image: list[np.ndarray] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)

    def add(self, points: np.ndarray, tris: np.ndarray, normals: np.ndarray,
            uv: np.ndarray | None = None, triangle_image: np.ndarray | None = None) -> None:
        self.positions.append(points)
        self.normals.append(np.broadcast_to(normals, points.shape))
        self.uv.append(uv)
        self.triangles.append(tris)
        self.triangle_image.append(np.full(len(tris), -1, np.int32) if triangle_image is None
                                   else triangle_image)

    def image(self, key: str) -> int:
        return self.images.setdefault(key, len(self.images))


@dataclass(slots=True)
class _Selection:
    """The polygons chosen for one feature (a building or a part) and how to use them."""

    lod: int
    polygons: list[Polygon]
    extrude: str | None  # None, "FootPrint" or "RoofEdge"
    height: float = 0.0
    defaulted: bool = False


def building_mesh(feature: Feature, lod: Lod = "max", *, ellipsoidal_offset: float = 0.0,
                  default_height: float = DEFAULT_HEIGHT,
                  storey_height: float = DEFAULT_STOREY_HEIGHT,
                  stats: MeshStats | None = None) -> Mesh | None:
    """Mesh one building (with its BuildingParts) or None when it has no usable geometry.

    ``lod`` is 0, 1, 2 (3 also works) or "max"; a missing LOD falls back to lower ones.
    ``ellipsoidal_offset`` (metres) is added to every height, for globes that expect
    ellipsoidal heights; 0 keeps PLATEAU's orthometric heights.
    """
    stats = stats if stats is not None else MeshStats()
    stats.buildings += 1
    selections = _select_building(feature, 4 if lod == "max" else int(lod),
                                  default_height, storey_height)
    rings = [r for s in selections for p in s.polygons for r in (p.exterior, *p.interiors)]
    if not rings:
        stats.without_geometry += 1
        return None
    points = np.concatenate(rings)  # rows of (lat, lon, h)
    finite = points[np.isfinite(points).all(axis=1)]
    if len(finite) == 0:
        stats.without_geometry += 1
        return None
    top = max((s.height for s in selections if s.extrude == "FootPrint"), default=0.0)
    below = max((s.height for s in selections if s.extrude == "RoofEdge"), default=0.0)
    h = points[:, 2] + ellipsoidal_offset
    finite_h = finite[:, 2] + ellipsoidal_offset
    bounds = np.array([finite[:, 1].min(), finite[:, 0].min(), finite[:, 1].max(),
                       finite[:, 0].max(), finite_h.min() - below, finite_h.max() + top])
    frame = LocalFrame((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, float(bounds[4]))
    enu = frame.from_geodetic(points[:, 1], points[:, 0], h)

    pieces = _Pieces()
    start = 0
    for selection in selections:
        stats.default_height += selection.defaulted
        count = sum(len(r) for p in selection.polygons for r in (p.exterior, *p.interiors))
        local = enu[start:start + count]
        start += count
        if selection.extrude:
            ring_start = 0
            for polygon in selection.polygons:
                sizes = [len(polygon.exterior)] + [len(r) for r in polygon.interiors]
                rings = np.split(local[ring_start:ring_start + sum(sizes)], np.cumsum(sizes)[:-1])
                ring_start += sum(sizes)
                ok = _extrude(pieces, rings, selection.height, selection.extrude == "RoofEdge")
                stats.degenerate_polygons += not ok
        else:
            _add_polygons(pieces, local, selection.polygons, stats)
    if not pieces.triangles:
        stats.without_geometry += 1
        return None
    used = max(s.lod for s in selections)
    stats.lods[used] += 1
    return _assemble(pieces, frame, bounds, used)


def terrain_mesh(triangles: np.ndarray, *, ellipsoidal_offset: float = 0.0,
                 stats: MeshStats | None = None) -> Mesh | None:
    """One smooth-shaded mesh of TIN triangles, an (m, 3, 3) array of (lat, lon, h) rows.

    Shared corners become shared vertices; zero-area triangles are dropped (counted in
    ``stats.degenerate_triangles``); triangles are turned to face up.
    """
    stats = stats if stats is not None else MeshStats()
    tri = np.asarray(triangles, float).reshape(-1, 3, 3)
    tri = tri[np.isfinite(tri).all(axis=(1, 2))]
    if len(tri) == 0:
        return None
    flat = tri.reshape(-1, 3)
    # Corners of neighbouring triangles repeat the same posList values: merge them.
    keys = np.round(flat * [1e9, 1e9, 1e4]).astype(np.int64)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    first = np.zeros(len(unique), dtype=np.int64)
    first[inverse.ravel()[::-1]] = np.arange(len(flat))[::-1]
    vertices = flat[first]
    faces = inverse.reshape(-1, 3)
    h = vertices[:, 2] + ellipsoidal_offset
    bounds = np.array([vertices[:, 1].min(), vertices[:, 0].min(), vertices[:, 1].max(),
                       vertices[:, 0].max(), h.min(), h.max()])
    frame = LocalFrame((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, float(bounds[4]))
    enu = frame.from_geodetic(vertices[:, 1], vertices[:, 0], h)

    face_normals = np.cross(enu[faces[:, 1]] - enu[faces[:, 0]], enu[faces[:, 2]] - enu[faces[:, 0]])
    area2 = np.linalg.norm(face_normals, axis=1)
    keep = area2 > 2 * _MIN_AREA
    stats.degenerate_triangles += int((~keep).sum())
    faces, face_normals = faces[keep], face_normals[keep]
    down = face_normals[:, 2] < 0
    faces[down] = faces[down][:, ::-1]
    face_normals[down] *= -1
    normals = np.zeros_like(enu)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, length, out=np.tile([0.0, 0.0, 1.0], (len(enu), 1)), where=length > 0)
    return Mesh(origin=(frame.lon, frame.lat, frame.h), positions=enu.astype(np.float32),
                normals=normals.astype(np.float32), indices=faces.astype(np.uint32),
                bounds=bounds, feature_ids=np.zeros(len(enu), np.uint32))


def _select_building(feature: Feature, lod: int, default_height: float,
                     storey_height: float) -> list[_Selection]:
    """The building's own geometry, or its parts' where those are more detailed."""
    defaults = (default_height, storey_height)
    own = _select(feature, lod, None, defaults)
    parts = [s for s in (_select(p, lod, feature, defaults) for p in feature.parts) if s]
    if parts and (own is None or max(s.lod for s in parts) > own.lod):
        return parts
    return [own] if own else []


def _select(feature: Feature, lod: int, parent: Feature | None,
            defaults: tuple[float, float]) -> _Selection | None:
    """The most detailed geometry at ``lod`` or below."""
    for level in range(lod, -1, -1):
        roles = ("boundedBy", "Solid", "MultiSurface") if level >= 2 else (
            ("Solid", "MultiSurface") if level == 1 else ("FootPrint", "RoofEdge"))
        for role in roles:
            geometry = feature.geometry(level, role)
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
        keep = np.linalg.norm(points - points[previous], axis=1) > _MERGE_DISTANCE
    ring_ok = (np.bincount(point_ring, ~finite, rings) == 0) & (np.bincount(point_ring, keep, rings) >= 3)
    polygon_ok = np.zeros(polygons, bool)
    polygon_ok[ring_polygon[exterior & ring_ok]] = True
    ring_used = ring_ok & polygon_ok[ring_polygon]
    source = np.flatnonzero(keep & ring_used[point_ring])
    points = points[source]

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
    centred = points - centre[ring_of]
    area = 0.5 * np.add.reduceat(np.cross(centred, centred[following]), starts) if len(used) else centre
    is_exterior = exterior[used]
    normals = np.tile([0.0, 0.0, 1.0], (polygons, 1))
    origin = np.zeros((polygons, 3))
    size = np.linalg.norm(area, axis=1)
    flat_ok = np.zeros(polygons, bool)
    flat_ok[poly_of_ring[is_exterior]] = size[is_exterior] >= _MIN_AREA
    ext_rings = np.flatnonzero(is_exterior & flat_ok[poly_of_ring])
    normals[poly_of_ring[ext_rings]] = area[ext_rings] / size[ext_rings, None]
    origin[poly_of_ring[ext_rings]] = centre[ext_rings]

    # Plane coordinates: (u, v, normal) right-handed, so exteriors run anticlockwise.
    helper = np.eye(3)[np.argmin(np.abs(normals), axis=1)]
    u = np.cross(helper, normals)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(normals, u)
    relative = points - origin[point_polygon]
    flat = np.column_stack([np.einsum("ij,ij->i", relative, u[point_polygon]),
                            np.einsum("ij,ij->i", relative, v[point_polygon])])

    preceding = np.arange(len(points)) - 1
    preceding[starts] = starts + sizes - 1
    d1 = flat - flat[preceding]
    d2 = flat[following] - flat
    turn = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    slack = 1e-9 * np.linalg.norm(d1, axis=1) * np.linalg.norm(d2, axis=1)
    rings_of_polygon = np.bincount(poly_of_ring, minlength=polygons)
    convex_ring = np.bincount(ring_of, turn < -slack, len(used)) == 0
    fan = flat_ok[poly_of_ring] & convex_ring & (rings_of_polygon[poly_of_ring] == 1)
    pieces = [_fan(starts[fan], sizes[fan])]
    fanned = np.zeros(polygons, bool)
    fanned[poly_of_ring[fan]] = True
    for polygon in np.flatnonzero(flat_ok & ~fanned):
        own = np.flatnonzero(poly_of_ring == polygon)
        first, last = starts[own[0]], starts[own[-1]] + sizes[own[-1]]
        ends = (starts[own] + sizes[own] - first).astype(np.uint32)
        tris = mapbox_earcut.triangulate_float64(flat[first:last], ends)
        pieces.append(tris.reshape(-1, 3).astype(np.int64) + first)
    triangles = np.concatenate(pieces)

    a, b, c = flat[triangles[:, 0]], flat[triangles[:, 1]], flat[triangles[:, 2]]
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


def _add_polygons(pieces: _Pieces, enu: np.ndarray, polygons: list[Polygon], stats: MeshStats) -> None:
    """Triangulate planar polygons (holes included), with their textures, into ``pieces``."""
    ring_sizes = [len(r) for p in polygons for r in (p.exterior, *p.interiors)]
    ring_polygon = np.repeat(np.arange(len(polygons)), [1 + len(p.interiors) for p in polygons])
    result = _triangulate(enu, np.array(ring_sizes), ring_polygon, len(polygons))
    stats.degenerate_polygons += int((~result.ok).sum())
    if not len(result.triangles):
        return
    uv = None
    polygon_image = np.full(len(polygons), -1, np.int32)
    textured = [k for k, p in enumerate(polygons) if p.texture is not None and result.ok[k]]
    if textured:
        raw_uv = np.full((len(enu), 2), np.nan)
        exterior_start = np.cumsum([0] + ring_sizes)[np.r_[0, np.cumsum([1 + len(p.interiors) for p in polygons])[:-1]]]
        for k in textured:
            texture = polygons[k].texture
            n = len(polygons[k].exterior)
            if len(texture.uv) != n:
                stats.texture_mismatches += 1
                continue
            raw_uv[exterior_start[k]:exterior_start[k] + n] = texture.uv
            polygon_image[k] = pieces.image(texture.image)
            stats.textured_polygons += 1
        uv = raw_uv[result.source]
        for k in np.flatnonzero((polygon_image >= 0) & np.array([bool(p.interiors) for p in polygons])):
            _extend_uv(uv, result.points, result.point_polygon == k)
        uv = np.nan_to_num(uv)
    pieces.add(result.points, result.triangles, result.normals[result.point_polygon], uv,
               polygon_image[result.point_polygon[result.triangles[:, 0]]])


def _extend_uv(uv: np.ndarray, points: np.ndarray, mask: np.ndarray) -> None:
    """Fill a textured polygon's hole UVs by the affine map fitted to its exterior."""
    rows = np.flatnonzero(mask)
    known = ~np.isnan(uv[rows, 0])
    design = np.column_stack([points[rows], np.ones(len(rows))])
    coeffs, *_ = np.linalg.lstsq(design[known], uv[rows[known]], rcond=None)
    uv[rows[~known]] = design[~known] @ coeffs


def _extrude(pieces: _Pieces, rings: list[np.ndarray], height: float, downwards: bool) -> bool:
    """A prism from a footprint (up) or roof edge (down): caps and one quad per edge."""
    sizes = np.array([len(r) for r in rings])
    cap = _triangulate(np.concatenate(rings), sizes, np.zeros(len(rings), np.int64), 1)
    if not cap.ok[0] or height <= 0:
        return False
    lift = np.array([0.0, 0.0, height])
    low = cap.points - lift if downwards else cap.points
    high = low + lift
    up = 1.0 if cap.normals[0, 2] >= 0 else -1.0
    tris = cap.triangles if up > 0 else np.ascontiguousarray(cap.triangles[:, ::-1])
    pieces.add(high, tris, up * cap.normals[0])
    pieces.add(low, np.ascontiguousarray(tris[:, ::-1]), -up * cap.normals[0])
    ring_of = np.searchsorted(np.cumsum(sizes), cap.source, side="right")
    for ring in np.unique(ring_of):
        rows = np.flatnonzero(ring_of == ring)
        x, y = low[rows, 0], low[rows, 1]
        # Exterior anticlockwise seen from above, holes clockwise: walls then face outwards.
        if ((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() > 0) != (ring == 0):
            rows = rows[::-1]
        quads = np.stack([low[rows], low[np.roll(rows, -1)], high[np.roll(rows, -1)], high[rows]], axis=1)
        normals = np.cross(quads[:, 1] - quads[:, 0], quads[:, 3] - quads[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        base = 4 * np.arange(len(quads))[:, None]
        pieces.add(quads.reshape(-1, 3), np.concatenate([base + [0, 1, 2], base + [0, 2, 3]]),
                   np.repeat(normals, 4, axis=0))
    return True


def _assemble(pieces: _Pieces, frame: LocalFrame, bounds: np.ndarray, lod: int) -> Mesh:
    """Concatenate pieces, offsetting indices."""
    sizes = [len(p) for p in pieces.positions]
    offsets = np.cumsum([0] + sizes[:-1])
    indices = np.concatenate([t + o for t, o in zip(pieces.triangles, offsets)])
    uv = triangle_image = None
    if pieces.images:
        uv = np.concatenate([u if u is not None else np.zeros((n, 2)) for u, n in zip(pieces.uv, sizes)])
        uv = uv.astype(np.float32)
        triangle_image = np.concatenate(pieces.triangle_image).astype(np.int32)
    positions = np.concatenate(pieces.positions)
    return Mesh(origin=(frame.lon, frame.lat, frame.h), positions=positions.astype(np.float32),
                normals=np.concatenate(pieces.normals).astype(np.float32),
                indices=indices.astype(np.uint32), bounds=bounds,
                feature_ids=np.zeros(len(positions), np.uint32), uv=uv,
                triangle_image=triangle_image, images=tuple(pieces.images), lod=lod)
