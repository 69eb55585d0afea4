"""Helpers the evacuation tests share: the steps they run at, a run shorthand, and geometry
checks written independently of the engine (plain numpy over the walls raster)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.evacuation import MAX_DT_S, EvacuationConfig, simulate
from sim.evacuation.rimea import Layout

#: The steps every behaviour is checked at: a fine one, and the largest the engine accepts,
#: which is the step the city runs use (bench/evacuation.py, twin's city evacuation).
STEPS = (0.1, MAX_DT_S)
STEP_IDS = ("0.1s", "city-step")

#: radius of the hard core an agent keeps from walls (half of the default ``core_m``)
CORE_RADIUS = EvacuationConfig().core_m / 2
CORE = EvacuationConfig().core_m


def run(lay: Layout, agents: pd.DataFrame, exits: pd.DataFrame, **cfg):
    cfg.setdefault("dt_s", 0.1)
    cfg.setdefault("duration_s", 600.0)
    return simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=EvacuationConfig(**cfg))


def exits_table(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "x", "y", "radius_m"])


def wall_distance(lay: Layout, x: np.ndarray, y: np.ndarray, reach: float = 1.0) -> np.ndarray:
    """Exact distance (m) from each map point to the nearest wall cell (a square) within
    ``reach``, the grid's outside counting as wall; ``reach`` where none is that near."""
    h = lay.cell_size
    gx = np.asarray(x, float) - lay.origin[0]
    gy = lay.origin[1] - np.asarray(y, float)
    ny, nx = lay.walls.shape
    k = int(np.ceil(reach / h)) + 1
    dr, dc = np.mgrid[-k:k + 1, -k:k + 1]
    r = np.floor(gy / h).astype(int)[:, None] + dr.ravel()[None, :]
    c = np.floor(gx / h).astype(int)[:, None] + dc.ravel()[None, :]
    inside = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
    wall = ~inside
    wall[inside] = lay.walls[r[inside], c[inside]]
    qx = np.clip(gx[:, None], c * h, (c + 1) * h)
    qy = np.clip(gy[:, None], r * h, (r + 1) * h)
    d = np.hypot(gx[:, None] - qx, gy[:, None] - qy)
    return np.minimum(np.where(wall, d, np.inf).min(axis=1), reach)


def pair_distances(traj: pd.DataFrame) -> np.ndarray:
    """Per recorded time, the smallest distance between two agents present (inf if alone)."""
    out = []
    for _, frame in traj.groupby("t"):
        p = frame[["x", "y"]].to_numpy()
        if len(p) < 2:
            continue
        d = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
        d[np.diag_indices(len(p))] = np.inf
        out.append(d.min())
    return np.array(out)
