"""Land use (luse:LandUse) with PLATEAU's Common_landUseType classes.

Each block is classed by the buildings on it (the use that covers most of their floor
area), an empty block by where it lies (paddy on the lowland, fields and woods on the
terrace, now and then a park); every street is road land; the river corridor is water
surface (204) between the banks and other natural land (205, the levees and the riverside).
Class codes and meanings: PLATEAU 標準製品仕様書 3.x, Common_landUseType.xml (table 4-303).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.geometry import box

from citygml.samplecity.buildings import BuildingPlan
from citygml.samplecity.site import Site
from citygml.samplecity.streets import StreetGrid, river_corridor
from citygml.samplecity.terrain import WATER_HALF_WIDTH, scarp_y

#: Building usage (Building_usage) → land-use class (Common_landUseType).
USAGE_LAND = {
    "401": "212", "402": "212", "403": "212", "404": "212",  # 商業用地
    "411": "211", "412": "211", "413": "211", "414": "211", "415": "211",  # 住宅用地
    "421": "214", "422": "214",  # 公益施設用地
    "431": "216",  # 交通施設用地 (運輸倉庫施設)
    "441": "213",  # 工業用地
    "451": "219",  # 農林漁業施設用地
}
PADDY, FIELD, WOOD, WATER, RIVERSIDE, ROAD, PARK = "201", "202", "203", "204", "205", "215", "217"
PARK_SHARE = 0.05  # of empty blocks
WOOD_SHARE = 0.3  # of empty terrace blocks that are not parks


@dataclass(frozen=True)
class LandUsePlan:
    """Polygons (each a (k, 2) counter-clockwise ring, local metres) of one land-use class."""

    code: str
    rings: list[np.ndarray]


def plan_land_use(site: Site, grid: StreetGrid, plans: list[BuildingPlan], rng: np.random.Generator) -> list[LandUsePlan]:
    """Blocks, then streets, then the river corridor, in that order."""
    area = box(0.0, 0.0, site.width, site.height)
    usable = area.difference(grid.corridor)
    floor_by_block: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in plans:
        floor_by_block[p.block][USAGE_LAND[p.usage]] += p.floor_area
    u = np.array([[b.u0, b.u1, b.u1, b.u0] for b in grid.blocks]).reshape(-1, 4)
    v = np.array([[b.v0, b.v0, b.v1, b.v1] for b in grid.blocks]).reshape(-1, 4)
    x, y = grid.frame.to_xy(u, v)
    shapes = shapely.polygons(np.stack([x, y], axis=-1))
    shapely.prepare(area)
    near = np.flatnonzero(shapely.intersects(area, shapes))
    pieces = shapely.intersection(shapes[near], usable)
    result = []
    for index, shape, piece in zip(near, shapes[near], pieces):
        rings = _rings(piece)
        if not rings:
            continue
        uses = floor_by_block.get(int(index))
        code = max(uses.items(), key=lambda item: item[1])[0] if uses else _empty_block(site, shape, rng)
        result.append(LandUsePlan(code, rings))
    for road in grid.roads:
        result.append(LandUsePlan(ROAD, [r for p in road.polygons for r in _rings(p)]))
    water = river_corridor(site, WATER_HALF_WIDTH).intersection(area)
    result.append(LandUsePlan(WATER, _rings(water)))
    result.append(LandUsePlan(RIVERSIDE, _rings(grid.corridor.intersection(area).difference(water))))
    return [r for r in result if r.rings]


def _empty_block(site: Site, shape: ShapelyPolygon, rng: np.random.Generator) -> str:
    c = shape.centroid
    draw = rng.random()
    if draw < PARK_SHARE:
        return PARK
    if c.y < float(scarp_y(c.x, site)):
        return WOOD if draw < PARK_SHARE + WOOD_SHARE else FIELD
    return PADDY


def _rings(geometry) -> list[np.ndarray]:
    """Counter-clockwise exterior rings (open) of the polygons in a shapely geometry, holes dropped."""
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if g.geom_type == "Polygon" and g.area > 1.0]
    return [np.asarray(shapely.geometry.polygon.orient(p, 1.0).exterior.coords)[:-1] for p in parts]
