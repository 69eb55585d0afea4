"""Walking in water: the linear depth law, depth limits, re-routing and stranding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.evacuation import EvacuationConfig, simulate
from sim.evacuation.rimea import Layout, agents_table, box, carve


def run(lay: Layout, agents: pd.DataFrame, exits: pd.DataFrame, depth, **cfg):
    cfg.setdefault("dt_s", 0.1)
    cfg.setdefault("duration_s", 300.0)
    cfg.setdefault("trajectory_interval_s", 0.5)
    return simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, depth=depth, config=EvacuationConfig(**cfg))


def uniform(lay: Layout, d: float):
    grid = np.full(lay.walls.shape, d, dtype=np.float32)
    return lambda t: grid


def corridor() -> tuple[Layout, pd.DataFrame]:
    return box(0.0, 0.0, 44.0, 2.0), pd.DataFrame([("E", 43.5, 1.0, 0.5)], columns=["id", "x", "y", "radius_m"])


def walk_time(res, x0: float = 1.0, x1: float = 41.0) -> float:
    tr = res.trajectories
    return tr.loc[tr["x"] >= x1, "t"].min() - tr.loc[tr["x"] > x0, "t"].min()


def test_adult_walks_at_half_speed_in_quarter_metre_of_water():
    lay, exits = corridor()
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3], profile=["adult"]), exits, uniform(lay, 0.25))
    assert 40.0 / walk_time(res) == pytest.approx(0.65, rel=0.03)


def test_elderly_limit_is_lower_than_adults():
    lay, exits = corridor()
    agents = agents_table([0.5, 0.5], [0.5, 1.5], speed_mps=[1.0, 1.0], profile=["adult", "elderly"])
    res = run(lay, agents, exits, uniform(lay, 0.3))
    assert np.isfinite(res.arrival_s[0]) and res.stranded == 1
    assert np.isfinite(res.stranded_s[1])


def test_adult_stops_and_is_stranded_where_and_when_water_reaches_half_a_metre():
    lay, exits = corridor()
    rows, cols = lay.walls.shape

    def rising(t: float) -> np.ndarray:  # 5 cm/min over the whole corridor: 0.5 m at 600 s
        return np.full((rows, cols), 0.05 * t / 60.0, dtype=np.float32)

    slow = agents_table([0.5], [1.0], speed_mps=[0.05], profile=["adult"])
    res = run(lay, slow, exits, rising, duration_s=900.0)
    assert res.arrived == 0 and res.stranded == 1
    assert res.stranded_s[0] == pytest.approx(600.0, abs=0.2)
    # it walked ∫ 0.05 (1 − d/0.5) dt = 0.05 · 600 / 2 = 15 m before the water stopped it
    assert res.stranded_x[0] == pytest.approx(0.5 + 15.0, abs=0.2)
    assert res.stranded_y[0] == pytest.approx(1.0, abs=0.05)


def two_streets() -> tuple[Layout, pd.DataFrame]:
    """A short street (y 0–2) and a long detour (y 8–10) joined at both ends by 2 m lanes."""
    lay = box(0.0, 0.0, 30.0, 10.0)
    carve(lay, 2.0, 2.0, 28.0, 8.0, value=True)
    return lay, pd.DataFrame([("E", 29.5, 1.0, 0.5)], columns=["id", "x", "y", "radius_m"])


def flooded(lay: Layout, y0: float, y1: float, d: float) -> np.ndarray:
    r, c = np.mgrid[0:lay.walls.shape[0], 0:lay.walls.shape[1]]
    xc = lay.origin[0] + (c + 0.5) * lay.cell_size
    yc = lay.origin[1] - (r + 0.5) * lay.cell_size
    return np.where((xc > 10.0) & (xc < 20.0) & (yc > y0) & (yc < y1), d, 0.0).astype(np.float32)


def test_reroutes_around_a_flooded_street_when_a_dry_route_exists():
    lay, exits = two_streets()
    depth = flooded(lay, 0.0, 2.0, 0.6)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: depth)
    assert res.arrived == 1 and res.stranded == 0
    tr = res.trajectories
    assert tr["y"].max() > 8.0  # took the detour
    assert not ((tr["x"] > 10.0) & (tr["x"] < 20.0) & (tr["y"] < 2.0)).any()


def test_turns_back_when_water_closes_the_street_ahead():
    lay, exits = two_streets()
    depth = flooded(lay, 0.0, 2.0, 0.6)
    dry = np.zeros_like(depth)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: depth if t >= 4.0 else dry)
    assert res.arrived == 1
    tr = res.trajectories
    assert tr.loc[tr["t"] <= 4.0, "x"].max() > 4.0  # it had set off along the short street
    assert tr["y"].max() > 8.0


def test_stranded_when_no_dry_route_remains():
    lay, exits = two_streets()
    depth = flooded(lay, 0.0, 2.0, 0.6) + flooded(lay, 8.0, 10.0, 0.6)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: depth)
    assert res.arrived == 0 and res.stranded == 1
    assert res.stranded_s[0] == 0.0
    assert res.stranded_x[0] == pytest.approx(0.5) and res.stranded_y[0] == pytest.approx(1.0)


def test_water_beyond_the_limit_blocks_like_a_wall_even_before_routes_are_updated():
    lay, exits = corridor()
    deep = np.zeros(lay.walls.shape, dtype=np.float32)
    edge = lay.walls.shape[1] // 2
    deep[:, edge:] = 0.6
    x_edge = lay.origin[0] + edge * lay.cell_size
    dry = np.zeros_like(deep)
    # the route field is refreshed only every 1,000 s, so the agent keeps heading into the water
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: deep if t >= 1.0 else dry,
              duration_s=60.0, nav_min_interval_s=1000.0, nav_refresh_s=1000.0)
    assert res.arrived == 0
    assert x_edge - 0.5 < res.trajectories["x"].max() < x_edge  # waits at the water's edge
