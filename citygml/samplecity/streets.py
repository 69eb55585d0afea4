"""A slightly rotated street grid: roads as strips between blocks, cut at the river corridor."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry import box

from citygml.samplecity.site import Site
from citygml.samplecity.terrain import CORRIDOR_HALF_WIDTH, river_centre_y

GRID_ANGLE_DEG = 8.0
MAIN_ROAD_WIDTH = 16.0
LOCAL_ROAD_WIDTH = 6.0
MAIN_EVERY = 5  # every fifth street is a main road


@dataclass(frozen=True)
class Frame:
    """The street grid's frame: ``u`` along the blocks' long side, ``v`` across, metres."""

    cx: float
    cy: float
    cos: float
    sin: float

    def to_xy(self, u, v):
        return self.cx + u * self.cos - v * self.sin, self.cy + u * self.sin + v * self.cos

    def to_uv(self, x, y):
        dx, dy = np.asarray(x) - self.cx, np.asarray(y) - self.cy
        return dx * self.cos + dy * self.sin, -dx * self.sin + dy * self.cos

    def rect(self, u0: float, u1: float, v0: float, v1: float) -> ShapelyPolygon:
        """A rectangle of the frame, counter-clockwise, in local metres."""
        return ShapelyPolygon(np.c_[self.to_xy(np.array([u0, u1, u1, u0]), np.array([v0, v0, v1, v1]))])


@dataclass
class Road:
    """One street: its pieces (shapely polygons in local metres) and its codes."""

    name: str
    polygons: list[ShapelyPolygon]
    main: bool


@dataclass(frozen=True)
class Block:
    """A city block between four streets, in frame coordinates."""

    u0: float
    u1: float
    v0: float
    v1: float


#: A band of road across the grid: (start, end, main) in frame coordinates.
Band = tuple[float, float, bool]


@dataclass
class StreetGrid:
    frame: Frame
    roads: list[Road]
    blocks: list[Block]
    corridor: ShapelyPolygon  # river channel and levees: nothing is built there
    area: ShapelyPolygon
    along: list[Band]  # streets along v (running roughly north-south), at these u bands


def _bands(rng: np.random.Generator, extent: float, block: tuple[float, float]) -> list[Band]:
    """Alternating road bands (start, end, main) from -extent to +extent."""
    bands, pos, k = [], -extent, 0
    while pos < extent:
        main = k % MAIN_EVERY == 0
        width = MAIN_ROAD_WIDTH if main else LOCAL_ROAD_WIDTH
        bands.append((pos, pos + width, main))
        pos += width + rng.uniform(*block)
        k += 1
    return bands


def river_corridor(site: Site, half_width: float = CORRIDOR_HALF_WIDTH) -> ShapelyPolygon:
    """The strip between the levees' outer feet (or any other half-width about the centreline)."""
    x = np.linspace(-50.0, site.width + 50.0, 200)
    yc = river_centre_y(x, site)
    ring = np.concatenate([np.c_[x, yc - half_width], np.c_[x[::-1], yc[::-1] + half_width]])
    return ShapelyPolygon(ring)


def make_streets(site: Site, rng: np.random.Generator) -> StreetGrid:
    """Lay the grid over the site; roads are clipped to the site and stop at the river."""
    angle = np.radians(GRID_ANGLE_DEG)
    frame = Frame(site.width / 2, site.height / 2, float(np.cos(angle)), float(np.sin(angle)))
    extent = float(np.hypot(site.width, site.height) / 2 + 150)
    across = _bands(rng, extent, (30.0, 42.0))  # streets along u, at v bands
    along = _bands(rng, extent, (85.0, 125.0))  # streets along v, at u bands
    area = box(0.0, 0.0, site.width, site.height)
    corridor = river_corridor(site)
    usable = area.difference(corridor)
    roads: list[Road] = []
    for k, (v0, v1, main) in enumerate(across):
        piece = frame.rect(-extent, extent, v0, v1)
        roads.append(Road(f"u{k}", _clip(piece, usable), main))
    for k, (u0, u1, main) in enumerate(along):
        pieces = [
            frame.rect(u0, u1, a[1], b[0]) for a, b in zip(across[:-1], across[1:])
        ]
        roads.append(Road(f"v{k}", [p for piece in pieces for p in _clip(piece, usable)], main))
    roads = [r for r in roads if r.polygons]
    blocks = [
        Block(a[1], b[0], c[1], d[0])
        for a, b in zip(along[:-1], along[1:])
        for c, d in zip(across[:-1], across[1:])
    ]
    return StreetGrid(frame, roads, blocks, corridor, area, along)


def _clip(piece: ShapelyPolygon, usable) -> list[ShapelyPolygon]:
    """Pieces of a road strip inside the usable area, densified so heights can follow the ground."""
    clipped = piece.intersection(usable)
    parts = [g for g in getattr(clipped, "geoms", [clipped]) if g.geom_type == "Polygon" and g.area > 1.0]
    return [shapely.segmentize(shapely.geometry.polygon.orient(p, 1.0), 30.0) for p in parts]
