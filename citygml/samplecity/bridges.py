"""Road bridges (brid:Bridge) where the main streets running across the river meet it.

A deck spans the levee corridor along its street: a ramp up from each bank's road end
to a flat span over the levee crests, ``DECK_THICKNESS`` deep. LOD1 is the deck's outline
from the water surface to the deck top, as the PLATEAU standard (標準製品仕様書, brid:lod1Solid)
asks; LOD2 is the deck as a closed solid of planar faces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, box

from citygml.samplecity.site import HEIGHT_DECIMALS, Site
from citygml.samplecity.streets import StreetGrid
from citygml.samplecity.terrain import Terrain, river_water_level

DECK_THICKNESS = 1.2  # m
CLEARANCE = 1.0  # deck top above the highest ground it spans, m
RAMP = 30.0  # m of ramp at each end
OVERLAP = 1.0  # m the deck reaches onto each road end
#: Bridge_class codes and their shares: mostly girder bridges (01 桁橋), some truss and arch.
CLASSES = (("01", 0.8), ("02", 0.1), ("03", 0.1))
ROAD_BRIDGE = "01"  # Bridge_function 道路橋


@dataclass(frozen=True)
class BridgePlan:
    """A deck in the street frame: u across the deck, v along it (v0 < v1), heights in T.P. m."""

    u0: float
    u1: float
    v: tuple[float, float, float, float]  # deck ends and ramp tops along v
    heights: tuple[float, float, float, float]  # deck top at those four stations
    water: float  # river surface under the bridge
    bridge_class: str
    year: int

    def stations(self, frame) -> np.ndarray:
        """(2, 4, 2) local metres of the deck edges at u0 and u1, at the four v stations."""
        v = np.array(self.v)
        return np.stack([np.c_[frame.to_xy(np.full(4, u), v)] for u in (self.u0, self.u1)])


def plan_bridges(site: Site, grid: StreetGrid, terrain: Terrain, rng: np.random.Generator) -> list[BridgePlan]:
    """One bridge per main street and crossing of the levee corridor, inside the site."""
    frame = grid.frame
    area = box(0.0, 0.0, site.width, site.height)
    extent = float(np.hypot(site.width, site.height))
    bridges = []
    for u0, u1, main in grid.along:
        if not main:
            continue
        uc = (u0 + u1) / 2
        centre = LineString(np.c_[frame.to_xy(np.array([uc, uc]), np.array([-extent, extent]))])
        crossing = centre.intersection(grid.corridor)
        for piece in getattr(crossing, "geoms", [crossing]):
            if piece.is_empty or piece.length < 2 * RAMP:
                continue
            _, v = frame.to_uv(*np.asarray(piece.coords).T)
            va, vb = float(v.min()) - OVERLAP, float(v.max()) + OVERLAP
            if not area.contains(frame.rect(u0, u1, va, vb)):
                continue
            bridges.append(_deck(frame, terrain, u0, u1, va, vb, rng))
    return bridges


def _deck(frame, terrain: Terrain, u0: float, u1: float, va: float, vb: float, rng) -> BridgePlan:
    uc = (u0 + u1) / 2
    v = np.linspace(va, vb, max(3, int((vb - va) / 5.0)))
    ground = terrain.height_at(*frame.to_xy(np.full_like(v, uc), v))
    top = round(float(ground.max()) + CLEARANCE, HEIGHT_DECIMALS)
    ends = np.round(terrain.height_at(*frame.to_xy(np.array([uc, uc]), np.array([va, vb]))), HEIGHT_DECIMALS)
    x_mid, _ = frame.to_xy(uc, (va + vb) / 2)
    codes, shares = zip(*CLASSES)
    return BridgePlan(
        u0, u1, (va, va + RAMP, vb - RAMP, vb), (float(ends[0]), top, top, float(ends[1])),
        water=float(river_water_level(x_mid)),
        bridge_class=str(rng.choice(codes, p=shares)),
        year=int(rng.integers(1958, 2016)),
    )


def deck_outline(plan: BridgePlan, frame) -> np.ndarray:
    """The deck's outline (4, 2), counter-clockwise, local metres."""
    return np.asarray(shapely.get_coordinates(frame.rect(plan.u0, plan.u1, plan.v[0], plan.v[3])))[:4]
