"""The sample town laid out, before any feature is built: ground, streets, buildings, hazards,
shelters, bridges and land use, all in local metres.

The town grows with the buildings asked for: up to ``BASE_BUILDINGS`` they fill the plain of
a 3.6 km × 2.8 km site outward from downtown; beyond, the whole site (terrain, river meanders,
zoning, flood ponds) is scaled by √(buildings / BASE_BUILDINGS), so density stays as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citygml.samplecity.bridges import BridgePlan, plan_bridges
from citygml.samplecity.buildings import BuildingPlan, TooManyBuildings, plan_buildings
from citygml.samplecity.features import Risk
from citygml.samplecity.hazards import SCENARIOS, InlandFlood, depth_rank, make_inland_flood
from citygml.samplecity.landuse import LandUsePlan, plan_land_use
from citygml.samplecity.shelters import Shelter, choose_shelters, make_shelter, shelter_count
from citygml.samplecity.site import HEIGHT_DECIMALS, Site
from citygml.samplecity.streets import StreetGrid, make_streets
from citygml.samplecity.terrain import Terrain, make_terrain, scarp_y

BASE_BUILDINGS = 20_000
MAX_BUILDINGS = 2_000_000  # about the 23 wards of Tokyo; larger is refused up front
HIGH_GROUND = 14.0  # m T.P.: the terrace at scale 1, above every flood assumption there
#: Elsewhere a shelter site is "high" this far above the highest flood surface (the terrace falls eastward).
HIGH_GROUND_MARGIN = 2.6
POOLS_AT_SCALE_1 = 7
GROWTH = 1.1  # site scale step when the lots run out


@dataclass
class Town:
    """Everything the dataset is made from; features are built from it file by file."""

    seed: int
    iur: str
    textures: bool
    site: Site
    terrain: Terrain
    grid: StreetGrid
    plans: list[BuildingPlan]
    inland: InlandFlood
    risks: dict[int, list[Risk]]
    shelters: list[Shelter]
    bridges: list[BridgePlan]
    land_use: list[LandUsePlan]


def lay_out(buildings: int, seed: int, iur: str, textures: bool) -> Town:
    """The town for ``buildings`` buildings; the same arguments give the same town."""
    if buildings < 0:
        raise ValueError("the number of buildings cannot be negative")
    if buildings > MAX_BUILDINGS:
        raise ValueError(f"the sample city makes at most {MAX_BUILDINGS:,} buildings, not {buildings:,}")
    scale = max(1.0, math.sqrt(buildings / BASE_BUILDINGS))
    while True:
        site = Site(scale=scale)
        rng = np.random.default_rng(seed)
        terrain = make_terrain(site, rng)
        grid = make_streets(site, rng)
        try:
            plans = plan_buildings(site, grid, terrain, buildings, rng)
            break
        except TooManyBuildings:
            scale *= GROWTH
    inland = make_inland_flood(site.width, site.height, rng, pools=round(POOLS_AT_SCALE_1 * scale**2))
    risks = building_risks(plans, inland)
    shelters = _shelters(site, plans, risks)
    more = np.random.default_rng([seed, 1])  # bridges and land use draw apart from the rest
    bridges = plan_bridges(site, grid, terrain, more)
    land_use = plan_land_use(site, grid, plans, more)
    return Town(seed, iur, textures, site, terrain, grid, plans, inland, risks, shelters, bridges, land_use)


def building_risks(plans: list[BuildingPlan], inland: InlandFlood) -> dict[int, list[Risk]]:
    """Depth = flood water surface − ground where positive, per scenario, plus inland pools."""
    if not plans:
        return {}
    cx = np.array([p.centroid[0] for p in plans])
    cy = np.array([p.centroid[1] for p in plans])
    ground = np.array([p.ground for p in plans])
    result: dict[int, list[Risk]] = {p.number: [] for p in plans}
    for scenario in SCENARIOS:
        depth = np.round(scenario.surface(cx) - ground, HEIGHT_DECIMALS)
        duration = scenario.duration(depth)
        for k in np.flatnonzero(depth > 0):
            d = float(depth[k])
            dur = None if duration is None else float(duration[k])
            result[plans[k].number].append(Risk(scenario, d, str(depth_rank(d)), dur))
    pooled = inland.depth(cx, cy)
    for k in np.flatnonzero(pooled >= 0.05):
        d = float(pooled[k])
        result[plans[k].number].append(Risk(None, d, str(depth_rank(d)), None))
    return result


def high_ground(x: np.ndarray) -> np.ndarray:
    """Ground height (T.P. m) a shelter site needs at easting ``x``: 14 m, or less where every
    flood surface is lower, always ``HIGH_GROUND_MARGIN`` above the highest of them."""
    highest = np.max([s.surface(x) for s in SCENARIOS], axis=0)
    return np.minimum(HIGH_GROUND, highest + HIGH_GROUND_MARGIN)


def _shelters(site: Site, plans: list[BuildingPlan], risks: dict[int, list[Risk]]) -> list[Shelter]:
    if not plans:
        return []
    x = np.array([p.centroid[0] for p in plans])
    ground = np.array([p.ground for p in plans])
    high = {p.number for p, ok in zip(plans, ground >= high_ground(x)) if ok}
    chosen = choose_shelters(plans, shelter_count(plans), lambda p: p.number in high)
    if not chosen:
        return []
    cx = np.array([p.centroid[0] for p in chosen])
    cy = np.array([p.centroid[1] for p in chosen])
    lat, lon = site.to_latlon(cx, cy)
    near_scarp = np.abs(cy - scarp_y(cx, site)) < 80.0
    shelters = []
    for k, p in enumerate(chosen):
        entries = risks.get(p.number, [])
        river = max((r.depth for r in entries if r.scenario is not None), default=0.0)
        pooled = max((r.depth for r in entries if r.scenario is None), default=0.0)
        shelters.append(make_shelter(
            k, p, float(lat[k]), float(lon[k]), site.city_code, site.city_name,
            river, pooled, bool(near_scarp[k]), f"{site.city_code}-bldg-{p.number}",
        ))
    return shelters
