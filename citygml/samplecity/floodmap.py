"""Official-style flood extent: DEM cells grouped by depth rank, runs merged along each row.

A cell is flooded where the mean of its corners' depths (water surface − ground) is
positive, outside the river corridor; polygon heights are the water surface, which is
planar (linear in easting), so the merged rectangles stay planar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citygml.samplecity.hazards import FloodScenario, depth_rank
from citygml.samplecity.site import Site
from citygml.samplecity.terrain import CORRIDOR_HALF_WIDTH, Terrain, river_distance


@dataclass(frozen=True)
class FloodRun:
    """Cells [i0, i1) of grid row j at one depth rank."""

    j: int
    i0: int
    i1: int
    rank: str


def flood_runs(terrain: Terrain, site: Site, scenario: FloodScenario) -> list[FloodRun]:
    xs, ys, z = terrain.xs, terrain.ys, terrain.z
    depth = scenario.surface(xs)[None, :] - z
    cell = (depth[:-1, :-1] + depth[1:, :-1] + depth[:-1, 1:] + depth[1:, 1:]) / 4
    cx, cy = np.meshgrid((xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2)
    flooded = (cell > 0) & (river_distance(cx, cy, site) > CORRIDOR_HALF_WIDTH)
    ranks = np.where(flooded, depth_rank(np.maximum(cell, 0)), 0)
    runs = []
    for j, row in enumerate(ranks):
        edges = np.flatnonzero(np.diff(np.r_[0, row, 0]) != 0)
        for i0, i1 in zip(edges[:-1], edges[1:]):
            if row[i0] > 0:
                runs.append(FloodRun(j, int(i0), int(i1), str(row[i0])))
    return runs
