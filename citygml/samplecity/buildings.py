"""Building plans: lots along the streets of each block, footprints, heights and uses.

Each block is split lengthwise into two rows of lots (背割り), each row facing its street;
a footprint stays inside its lot with setbacks, so no two buildings overlap and none
reaches a road.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property
from itertools import accumulate

import numpy as np
import shapely

from citygml.samplecity.site import HEIGHT_DECIMALS, Site
from citygml.samplecity.streets import StreetGrid
from citygml.samplecity.terrain import Terrain, scarp_y

#: Usage code → (lot frontage range m, footprint depth range m, storey height m).
USAGE_FORM: dict[str, tuple[tuple[float, float], tuple[float, float], float]] = {
    "401": ((12, 22), (12, 20), 3.8),
    "402": ((10, 24), (10, 22), 4.0),
    "403": ((14, 22), (12, 18), 3.2),
    "404": ((12, 20), (12, 18), 3.6),
    "411": ((9, 13), (7, 11), 2.9),
    "412": ((14, 24), (9, 14), 2.9),
    "413": ((8, 12), (8, 12), 3.0),
    "414": ((10, 16), (10, 14), 3.0),
    "415": ((9, 13), (8, 12), 3.2),
    "421": ((20, 34), (14, 20), 3.8),
    "422": ((24, 38), (12, 18), 3.8),
    "431": ((18, 34), (14, 22), 5.5),
    "441": ((20, 38), (14, 22), 5.5),
    "451": ((10, 16), (8, 12), 4.0),
}

#: Storeys (min, max) per usage downtown and elsewhere.
STOREYS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "401": ((3, 12), (2, 5)), "402": ((2, 8), (1, 3)), "403": ((5, 12), (3, 7)),
    "404": ((3, 9), (2, 5)), "411": ((1, 3), (1, 3)), "412": ((3, 14), (2, 6)),
    "413": ((2, 4), (2, 3)), "414": ((3, 8), (3, 5)), "415": ((1, 2), (1, 2)),
    "421": ((3, 6), (2, 4)), "422": ((2, 4), (2, 4)), "431": ((1, 3), (1, 2)),
    "441": ((1, 2), (1, 2)), "451": ((1, 1), (1, 1)),
}

#: Usage mix per zone: more offices and shops downtown, houses elsewhere.
ZONE_MIX: dict[str, dict[str, float]] = {
    "downtown": {"401": 22, "402": 22, "403": 3, "404": 6, "411": 10, "412": 14, "413": 9,
                 "414": 8, "421": 2, "422": 2, "431": 2},
    "mid": {"401": 7, "402": 8, "411": 46, "412": 18, "413": 7, "414": 3, "415": 2,
            "421": 1, "422": 3, "431": 3, "441": 2},
    "residential": {"402": 4, "411": 64, "412": 14, "413": 4, "415": 3, "422": 2, "431": 3,
                    "441": 3, "451": 3},
    "industrial": {"401": 8, "411": 20, "412": 6, "431": 30, "441": 34, "402": 2},
}

GABLED_USAGES = frozenset({"411", "413", "415", "451"})
SPLIT_USAGES = frozenset({"401", "402", "404", "412", "414", "421", "422"})
UNKNOWN_HEIGHT = -9999.0


class TooManyBuildings(ValueError):
    """The street grid has fewer lots than the buildings asked for."""

DEFAULT_LOD1_HEIGHT = 3.0  # LOD1 prism height where the measured height is unknown


@dataclass
class PartPlan:
    """One volume: a footprint (k, 2) counter-clockwise in local metres, with its heights."""

    footprint: np.ndarray
    measured_height: float  # m, or UNKNOWN_HEIGHT
    storeys: int | None
    roof: str  # "flat" or "gable"
    eave_height: float  # above ground; equals the top for flat roofs


@dataclass
class BuildingPlan:
    number: int  # n of <citycode>-bldg-<n>
    usage: str
    building_class: str
    year: int | None
    ground: float  # T.P. m, lowest TIN height under the footprint
    footprint: np.ndarray  # whole-building outline (k, 2)
    parts: list[PartPlan]  # one part: a plain building; several: BuildingParts
    lod2: bool
    zone: str
    block: int = -1  # index of its block in the street grid
    shelter: bool = False
    centroid: tuple[float, float] = (0.0, 0.0)
    risks: list[tuple] = field(default_factory=list)  # filled by the hazard step

    @property
    def measured_height(self) -> float:
        return self.parts[0].measured_height

    @property
    def storeys(self) -> int | None:
        return self.parts[0].storeys

    @cached_property
    def floor_area(self) -> float:
        return sum(_area(p.footprint) * (p.storeys or 1) for p in self.parts)


def _area(ring: np.ndarray) -> float:
    """Area of a simple polygon (k, 2) by the shoelace formula, about its first vertex for precision
    (which also makes the closing term vanish)."""
    x, y = ring[:, 0] - ring[0, 0], ring[:, 1] - ring[0, 1]
    return 0.5 * abs(float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])))


@dataclass(frozen=True)
class Zoning:
    """Downtown sits on the terrace just above the scarp; industry on the eastern lowland."""

    cx: float
    cy: float
    site: Site

    def zone(self, x: float, y: float) -> str:
        r = np.hypot(x - self.cx, y - self.cy) / self.site.scale
        if r < 420:
            return "downtown"
        if x > self.site.width * 0.74 and y > float(scarp_y(x, self.site)) + 60:
            return "industrial"
        return "mid" if r < 950 else "residential"


def _usage_table(zone: str) -> tuple[list[str], list[float]]:
    codes = list(ZONE_MIX[zone])
    return codes, list(accumulate(ZONE_MIX[zone][c] for c in codes))


def _lots(grid: StreetGrid, zoning: Zoning, rnd: random.Random) -> list[tuple]:
    """Candidate lots: (usage, zone, u0, u1, v0, v1, notch_u, notch_v, back_sign, block) in frame coordinates."""
    frame = grid.frame
    tables = {zone: _usage_table(zone) for zone in ZONE_MIX}
    west, south, east, north = grid.area.bounds
    lots = []
    for block_index, block in enumerate(grid.blocks):
        bx, by = frame.to_xy((block.u0 + block.u1) / 2, (block.v0 + block.v1) / 2)
        if not (west - 60 < bx < east + 60 and south - 60 < by < north + 60):
            continue
        zone = zoning.zone(float(bx), float(by))
        codes, cumulative = tables[zone]
        v_mid = (block.v0 + block.v1) / 2
        for front_v, back_v in ((block.v0, v_mid), (block.v1, v_mid)):
            u = block.u0
            row_depth = abs(back_v - front_v)
            while True:
                usage = rnd.choices(codes, cum_weights=cumulative)[0]
                (f_lo, f_hi), (d_lo, d_hi), _ = USAGE_FORM[usage]
                frontage = rnd.uniform(f_lo, f_hi) * (0.85 if zone == "downtown" else 1.0)
                if u + frontage > block.u1:
                    break
                side = rnd.uniform(0.4, 1.0)
                front = rnd.uniform(0.3, 1.0) if zone == "downtown" else rnd.uniform(1.0, 3.0)
                depth = min(row_depth - front - 0.8, rnd.uniform(d_lo, d_hi))
                width = frontage - 2 * side
                if depth >= 5.0 and width >= 5.0:
                    sign = 1.0 if back_v > front_v else -1.0
                    va, vb = sorted((front_v + sign * front, front_v + sign * (front + depth)))
                    notch = rnd.random() < 0.15 and width > 9 and depth > 9
                    nu = width * rnd.uniform(0.35, 0.55) if notch else 0.0
                    nv = depth * rnd.uniform(0.35, 0.55) if notch else 0.0
                    lots.append((usage, zone, u + side, u + side + width, va, vb, nu, nv, sign, block_index))
                u += frontage
    return lots


def _outline(frame, u0, u1, v0, v1, nu: float, nv: float, sign: float) -> np.ndarray:
    """Rectangle or L-shape (a back corner cut out), counter-clockwise, in local metres."""
    if nu == 0.0:
        u, v = [u0, u1, u1, u0], [v0, v0, v1, v1]
    elif sign > 0:  # back is the v1 side: cut the (u1, v1) corner
        u = [u0, u1, u1, u1 - nu, u1 - nu, u0]
        v = [v0, v0, v1 - nv, v1 - nv, v1, v1]
    else:  # back is the v0 side: cut the (u1, v0) corner
        u = [u0, u1 - nu, u1 - nu, u1, u1, u0]
        v = [v0, v0, v0 + nv, v0 + nv, v1, v1]
    return np.array([frame.to_xy(a, b) for a, b in zip(u, v)])


def plan_buildings(
    site: Site, grid: StreetGrid, terrain: Terrain, count: int, rng: np.random.Generator
) -> list[BuildingPlan]:
    """``count`` buildings on the lots nearest downtown (with a ragged edge), in a fixed order."""
    zoning = Zoning(site.width * 0.42, float(scarp_y(site.width * 0.42, site)) - 220.0 * site.scale, site)
    rnd = random.Random(int(rng.integers(2**63)))
    lots = _lots(grid, zoning, rnd)
    outlines = [_outline(grid.frame, *lot[2:9]) for lot in lots]
    if not lots:
        raise ValueError("the street grid left no lots")
    ring_index = np.repeat(np.arange(len(outlines)), [len(o) for o in outlines])
    polygons = shapely.polygons(shapely.linearrings(np.concatenate(outlines), indices=ring_index))
    usable = grid.area.difference(grid.corridor)
    shapely.prepare(usable)
    ok = shapely.contains(usable, polygons)
    centroids = shapely.get_coordinates(shapely.centroid(polygons))
    distance = np.hypot(centroids[:, 0] - zoning.cx, centroids[:, 1] - zoning.cy)
    key = np.where(ok, distance * rng.uniform(0.8, 1.25, len(lots)), np.inf)
    available = int(ok.sum())
    if count > available:
        raise TooManyBuildings(f"the sample city has room for at most {available} buildings, not {count}")
    chosen = np.sort(np.argsort(key, kind="stable")[:count])
    grounds = _lowest_ground(terrain, [outlines[i] for i in chosen])
    plans = []
    for n, (idx, ground) in enumerate(zip(chosen, grounds), start=1):
        usage, zone, *_ = lots[idx]
        plans.append(_plan_one(n, usage, zone, outlines[idx], ground, rnd))
        plans[-1].centroid = (float(centroids[idx, 0]), float(centroids[idx, 1]))
        plans[-1].block = lots[idx][9]
    return plans


def _lowest_ground(terrain: Terrain, outlines: list[np.ndarray]) -> np.ndarray:
    """Lowest TIN height under each footprint's corners, rounded as written."""
    if not outlines:
        return np.array([])
    points = np.concatenate(outlines)
    heights = terrain.height_at(points[:, 0], points[:, 1])
    starts = np.cumsum([0] + [len(o) for o in outlines[:-1]])
    return np.round(np.minimum.reduceat(heights, starts), HEIGHT_DECIMALS)


def _plan_one(n, usage, zone, outline, ground, rng: random.Random) -> BuildingPlan:
    downtown = zone == "downtown"
    s_lo, s_hi = STOREYS[usage][0 if downtown else 1]
    storeys = rng.randint(s_lo, s_hi)
    if usage == "411":
        storeys = rng.choices([1, 2, 3], weights=[0.15, 0.75, 0.10])[0]
    storey_h = USAGE_FORM[usage][2]
    known = rng.random() > 0.04
    measured = round(storeys * storey_h + rng.uniform(0.3, 1.5), 1) if known else UNKNOWN_HEIGHT
    rect = len(outline) == 4
    gable = known and rect and usage in GABLED_USAGES
    lod2 = rng.random() < (0.18 if downtown else 0.08)
    top = measured if known else DEFAULT_LOD1_HEIGHT
    if gable:
        width = min(float(np.linalg.norm(outline[1] - outline[0])), float(np.linalg.norm(outline[2] - outline[1])))
        rise = min(2.5, 0.3 * width)
        parts = [PartPlan(outline, measured, storeys, "gable", round(top - rise, 3))]
    else:
        parts = [PartPlan(outline, measured, storeys if known else None, "flat", top)]
    if lod2 and known and rect and usage in SPLIT_USAGES and storeys >= 4 and rng.random() < 0.4:
        parts = _split(outline, measured, storeys, storey_h, rng)
    building_class = "3002" if (storeys >= 3 or usage in ("401", "421", "422", "431", "441")) else "3001"
    year = rng.randint(1958, 2022) if rng.random() < 0.7 else None
    return BuildingPlan(n, usage, building_class, year, float(ground), outline, parts, lod2, zone)


def _split(outline, measured, storeys, storey_h, rng) -> list[PartPlan]:
    """A tower on a podium: the outline cut across its first edge into two parts."""
    t = rng.uniform(0.4, 0.6)
    a, b, c, d = outline
    ab, dc = a + t * (b - a), d + t * (c - d)
    low = rng.randint(1, min(3, storeys - 1))
    low_h = round(low * storey_h + 0.8, 1)
    return [
        PartPlan(np.array([a, ab, dc, d]), measured, storeys, "flat", measured),
        PartPlan(np.array([ab, b, c, dc]), low_h, low, "flat", low_h),
    ]
