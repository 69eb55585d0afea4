"""Walking in water: the linear depth law, depth and depth × velocity limits, re-routing,
stranding, and routes planned on water known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.errors import SimInputError
from sim.evacuation import DEFAULT_PROFILES, Distribution, EvacuationConfig, Profile, Water, simulate
from sim.evacuation.rimea import Layout, agents_table, box, carve
from sim.evacuation.water import blend_frames, clean_grid, hazard_grid


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


def test_route_updates_make_walkers_read_the_new_fields(monkeypatch):
    """Agents remember the field gradients around them (``navigation.descent_direction``);
    every route update clears that memory, so the walker above turns back on the new field
    rather than follow the old one's remembered slope."""
    from sim.evacuation import model

    cleared = []
    compute = model._Run.compute_routes

    def recording(self, t, classes=None):
        compute(self, t, classes)
        cleared.append(bool((self.memo_at == -1).all()))

    monkeypatch.setattr(model._Run, "compute_routes", recording)
    lay, exits = two_streets()
    depth = flooded(lay, 0.0, 2.0, 0.6)
    dry = np.zeros_like(depth)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: depth if t >= 4.0 else dry)
    assert len(cleared) >= 2 and all(cleared)
    assert res.arrived == 1 and res.trajectories["y"].max() > 8.0


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


# --- flowing water -----------------------------------------------------------------------------

def flowing(lay: Layout, d: float, v: float, where=None):
    """Uniform depth ``d`` flowing at ``v`` m/s (everywhere, or where ``where`` is True)."""
    depth = np.full(lay.walls.shape, d, dtype=np.float32)
    speed = np.full(lay.walls.shape, v, dtype=np.float32)
    if where is not None:
        depth = np.where(where, depth, 0.0).astype(np.float32)
        speed = np.where(where, speed, 0.0).astype(np.float32)
    return depth, speed


def test_walking_speed_in_flowing_water_falls_with_depth_times_velocity():
    """0.2 m deep flowing at 2 m/s: d/d_lim = 0.4 but d·v / (d·v)_lim = 0.4/0.6, so an adult
    keeps 1 − 2/3 of its speed (the hazard index of sim.evacuation.water)."""
    lay, exits = corridor()
    d, v = flowing(lay, 0.2, 2.0)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3], profile=["adult"]), exits, lambda t: Water(d, v),
              duration_s=400.0)
    assert 40.0 / walk_time(res) == pytest.approx(1.3 / 3.0, rel=0.03)


def test_hazard_grid_is_depth_over_its_limit_or_depth_times_speed_over_its_limit():
    """Cells worked by hand with an adult's limits (0.5 m, 0.6 m²/s): 0.25 m still → 0.5;
    0.2 m at 2 m/s → max(0.4, 0.4/0.6); dry at 3 m/s → 0; 0.6 m still → 1.2. Without a flow
    grid only the depth counts."""
    depth = np.array([[0.25, 0.2], [0.0, 0.6]], np.float32)
    speed = np.array([[0.0, 2.0], [3.0, 0.0]], np.float32)
    assert np.allclose(hazard_grid(depth, speed, 0.5, 0.6), [[0.5, 0.4 / 0.6], [0.0, 1.2]], rtol=1e-6)
    assert np.allclose(hazard_grid(depth, np.zeros((0, 0), np.float32), 0.5, 0.6), [[0.5, 0.4], [0.0, 1.2]], rtol=1e-6)


def test_frames_blend_linearly_in_time_on_any_grid_layout():
    """A quarter of the way from 0.2 m to 1.0 m is 0.4 m; the blend takes views (a flipped
    frame, one column broadcast down the rows) as well as whole grids, and keeps float32."""
    a = np.full((3, 4), 0.2, np.float32)
    b = np.broadcast_to(np.float32([1.0, 0.2, 0.0, 0.6]), (3, 4))
    out = blend_frames(a[::-1], b, 0.25)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert np.allclose(out, np.broadcast_to([0.4, 0.2, 0.15, 0.3], (3, 4)), atol=1e-7)


def test_the_provider_may_give_depth_and_speed_or_depth_and_velocity_components():
    lay, exits = corridor()
    d, v = flowing(lay, 0.2, 2.0)
    u, w = v * 0.6, v * 0.8  # components of the same 2 m/s
    agents = agents_table([0.5], [1.0], speed_mps=[1.3])
    times = [run(lay, agents, exits, provider, duration_s=400.0).arrival_s[0]
             for provider in (lambda t: Water(d, v), lambda t: (d, v), lambda t: (d, u, w),
                              lambda t: Water.from_velocity(d, u, w))]
    assert np.allclose(times, times[0])


def test_shallow_fast_water_blocks_an_adult_who_takes_the_dry_detour():
    """0.2 m deep (below the adult depth limit of 0.5 m) but flowing at 3.5 m/s: d·v = 0.7 m²/s
    beyond the adult limit of 0.6 m²/s (Jonkman & Penning-Rowsell 2008), so the short street
    is closed to walkers and the agent goes round."""
    lay, exits = two_streets()
    wet = flooded(lay, 0.0, 2.0, 1.0) > 0
    d, v = flowing(lay, 0.2, 3.5, wet)
    res = run(lay, agents_table([0.5], [1.0], speed_mps=[1.3]), exits, lambda t: (d, v))
    assert res.arrived == 1
    tr = res.trajectories
    assert tr["y"].max() > 8.0
    assert not ((tr["x"] > 10.0) & (tr["x"] < 20.0) & (tr["y"] < 2.0)).any()


def test_water_too_fast_for_the_elderly_strands_them_where_and_when_it_reaches_them():
    """0.15 m flowing at 3 m/s: d·v = 0.45 m²/s, below the adult limit (0.6) and above that of
    the elderly (0.4): the adult walks through, the elderly person is stranded where it stands
    when the water arrives at 20 s, with its place and time."""
    lay, exits = corridor()
    d, v = flowing(lay, 0.15, 3.0)
    dry = np.zeros_like(d)
    agents = agents_table([0.5, 0.5], [0.5, 1.5], speed_mps=[0.05, 0.05], profile=["adult", "elderly"])
    res = run(lay, agents, exits, lambda t: (d, v) if t >= 20.0 else (dry, dry), duration_s=60.0)
    assert np.isnan(res.stranded_s[0])
    assert res.stranded_s[1] == pytest.approx(20.0)
    # where it stood: its last recorded place (0.5 s before, at 0.05 m/s), 1 m on from its start
    tr = res.trajectories[res.trajectories["agent_id"] == 1]
    last = tr.loc[tr["t"].idxmax()]
    assert last["t"] == pytest.approx(19.5)
    assert np.hypot(res.stranded_x[1] - last["x"], res.stranded_y[1] - last["y"]) <= 0.5 * 0.05 + 1e-6
    assert res.stranded_x[1] == pytest.approx(0.5 + 20.0 * 0.05, abs=0.05)


def test_profile_water_limits_can_be_overridden():
    """Water 0.2 m deep flowing at 3.5 m/s over the middle of a corridor (d·v = 0.7 m²/s) cuts
    an adult off (limit 0.6 m²/s), who is stranded at once; a profile given 1.0 m²/s (fit
    adults, the upper range of Abt et al. 1989) wades through."""
    lay, exits = corridor()
    r, c = np.mgrid[0:lay.walls.shape[0], 0:lay.walls.shape[1]]
    xc = lay.origin[0] + (c + 0.5) * lay.cell_size
    d, v = flowing(lay, 0.2, 3.5, (xc > 10.0) & (xc < 20.0))
    fit = dict(DEFAULT_PROFILES, fit=Profile("fit", Distribution(1.3), depth_limit_m=0.7, dv_limit_m2s=1.0))
    agents = agents_table([0.5, 0.5], [0.5, 1.5], speed_mps=[1.3, 1.3], profile=["adult", "fit"])
    res = run(lay, agents, exits, lambda t: (d, v), profiles=fit)
    assert res.stranded_s[0] == 0.0 and np.isnan(res.arrival_s[0])
    assert np.isfinite(res.arrival_s[1]) and np.isnan(res.stranded_s[1])


# --- water known in advance --------------------------------------------------------------------

def test_routes_plan_on_the_water_at_the_time_the_walker_gets_there():
    """The short street floods from 3 s to 5 s (to 0.6 m, beyond the adult limit), before a
    walker setting off at 0 s can reach it (its flooded stretch starts 9.5 m away, 7 s at
    1.3 m/s). Knowing the flood in advance, the walker takes the dry detour from the start and
    never sets foot in the street; knowing only the water of the moment, it sets off along the
    street, turns back when the water closes it, and arrives later."""
    lay, exits = two_streets()
    full = flooded(lay, 0.0, 2.0, 0.6)

    def depth(t: float) -> np.ndarray:
        return (full * np.clip((t - 3.0) / 2.0, 0.0, 1.0)).astype(np.float32)

    agents = agents_table([0.5], [1.0], speed_mps=[1.3])
    ahead = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, depth=depth,
                     forecast_times=[0.0, 3.0, 5.0, 60.0, 300.0],
                     config=EvacuationConfig(dt_s=0.1, duration_s=300.0, trajectory_interval_s=0.5))
    now = run(lay, agents, exits, depth)
    assert ahead.arrived == now.arrived == 1
    tr = ahead.trajectories
    assert not ((tr["x"] > 4.0) & (tr["x"] < 26.0) & (tr["y"] < 2.0)).any()  # up the west lane at once
    late = now.trajectories
    assert late.loc[(late["t"] <= 5.0) & (late["y"] < 2.0), "x"].max() > 4.0  # it had set off along the street
    assert ahead.arrival_s[0] < now.arrival_s[0]


def two_shelters_and_a_flooding_stretch() -> tuple[Layout, pd.DataFrame, object]:
    """A 60 m corridor with a shelter at each end; the stretch 6–12 m from the west one floods from
    13 s to 15 s to 0.6 m (beyond the adult limit of 0.5 m: closed at 14.67 s)."""
    lay = box(0.0, 0.0, 60.0, 2.0)
    exits = pd.DataFrame([("W", 1.0, 1.0, 0.5), ("E", 59.0, 1.0, 0.5)], columns=["id", "x", "y", "radius_m"])
    r, c = np.mgrid[0:lay.walls.shape[0], 0:lay.walls.shape[1]]
    xc = lay.origin[0] + (c + 0.5) * lay.cell_size
    stretch = np.where((xc > 6.0) & (xc < 12.0), 0.6, 0.0).astype(np.float32)

    def depth(t: float) -> np.ndarray:
        return (stretch * np.clip((t - 13.0) / 2.0, 0.0, 1.0)).astype(np.float32)

    return lay, exits, depth


def test_each_walker_checks_its_own_way_against_the_water_to_come():
    """Two walkers 19 m from the west shelter and 39 m from the east one. The first sets off at
    0 s and is past the flooding stretch at 10.8 s (at 1.3 m/s); the second sets off at 8 s and
    would reach it at 14.2 s and be in it when it closes. Routes planned on the first walker's
    arrival count the stretch open for both; checking its own way when it chooses, the second
    walks east at once. Without the check (``route_check_s=0``) it heads west and is caught in
    the stretch."""
    lay, exits, depth = two_shelters_and_a_flooding_stretch()
    agents = agents_table([20.0, 20.0], [0.6, 1.4], speed_mps=[1.3, 1.3], start_s=[0.0, 8.0])
    runs = {check: simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, depth=depth,
                            forecast_times=[0.0, 13.0, 15.0, 300.0],
                            config=EvacuationConfig(dt_s=0.1, duration_s=200.0, trajectory_interval_s=0.5,
                                                    route_check_s=check))
            for check in (300.0, 0.0)}
    checked, unchecked = runs[300.0], runs[0.0]
    assert checked.arrived == 2 and checked.stranded == 0 and list(checked.exit_id) == ["W", "E"]
    second = checked.trajectories[checked.trajectories["agent_id"] == 1]
    assert second["x"].min() > 19.5  # never set off west
    # 38.5 m (to the shelter's edge) at 1.3 m/s after setting off at 8 s, within a step or two
    assert checked.arrival_s[1] == pytest.approx(8.0 + (39.0 - 0.5) / 1.3, abs=0.5)
    assert unchecked.arrived == 1 and unchecked.stranded == 1 and np.isfinite(unchecked.arrival_s[0])
    # caught in the stretch when it closed (14.67 s), its centre within the flooded cells
    assert 6.0 < unchecked.stranded_x[1] < 12.0
    assert unchecked.stranded_s[1] == pytest.approx(14.67, abs=0.5)


def test_the_way_check_follows_the_field_and_compares_each_cell_with_its_own_arrival():
    """``route_closes`` on a 1 × 10 row of 1 m cells whose field falls by 1 m a cell towards
    column 0: a walker at column 9 leaving at t = 100 s at 2 m/s gets to column j at 100 + (9 - j)/2 s."""
    from sim.evacuation.exit_choice import route_closes

    nx = 10
    lab = np.zeros(nx, dtype=np.int16)
    val = np.arange(nx, dtype=np.float32)
    none = np.zeros((0, 0), dtype=np.float32)
    dense_of = np.full(1, -1, dtype=np.int64)

    def closes(cell: int, when: float, horizon: float = 1e9) -> bool:
        close = np.full(nx, np.inf, dtype=np.float32)
        close[cell] = when
        return route_closes(lab, val, 1, none, dense_of, 1, nx, 0, 9, 0, close, 100.0, 2.0, horizon)

    assert closes(3, 103.0)  # reached at 103 s: closed on arrival
    assert not closes(3, 103.01)  # open when the walker gets there
    assert closes(0, 104.5) and not closes(0, 104.6)  # the exit's own cell, 4.5 s away
    assert not closes(3, 103.0, horizon=2.9)  # beyond the look ahead: left to a later check
    assert not closes(3, 103.0, horizon=0.0) and closes(9, 100.0, horizon=0.0)


@pytest.mark.parametrize("look_ahead", [-1.0, float("inf"), float("nan")])
def test_a_negative_or_endless_way_check_is_refused(look_ahead):
    lay, exits, depth = two_shelters_and_a_flooding_stretch()
    with pytest.raises(SimInputError, match="route_check_s"):
        simulate(lay.walls, lay.cell_size, lay.origin, agents_table([20.0], [1.0]), exits, depth=depth,
                 forecast_times=[0.0, 300.0], config=EvacuationConfig(route_check_s=look_ahead))


def test_a_look_ahead_longer_than_the_grid_checks_every_way_whole():
    """``closing_near`` takes its window no wider than the grid: a look ahead of a million seconds
    gives the soonest closing time anywhere to every block (and the walk is then bounded by the
    way itself)."""
    from sim.evacuation.exit_choice import closing_near

    close = np.full((40, 70), np.inf, dtype=np.float32)
    close[3, 65] = 12.0
    near = closing_near(close, 16, 10**9)
    assert near.shape == (3, 5) and np.all(near == 12.0)
    assert closing_near(close, 16, 16)[0, 0] == np.inf  # 65 columns away: beyond one block's reach
    lay, exits, depth = two_shelters_and_a_flooding_stretch()
    agents = agents_table([20.0, 20.0], [0.6, 1.4], speed_mps=[1.3, 1.3], start_s=[0.0, 8.0])
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, depth=depth, forecast_times=[0.0, 13.0, 15.0, 300.0],
                   config=EvacuationConfig(dt_s=0.1, duration_s=200.0, route_check_s=1e6))
    assert list(res.exit_id) == ["W", "E"] and res.stranded == 0


def test_forecast_times_need_a_water_provider():
    lay, exits = corridor()
    with pytest.raises(SimInputError, match="forecast"):
        simulate(lay.walls, lay.cell_size, lay.origin, agents_table([0.5], [1.0]), exits, forecast_times=[0.0, 60.0])


def test_water_grids_are_cleaned_only_when_they_have_to_be():
    """NaN reads as dry and still, a flow speed as its magnitude; a clean float32 grid is used
    as it is (no copy of a city's 25 M cells), anything else is copied."""
    depth = np.array([[0.25, np.nan], [0.0, 1.5]], dtype=np.float32)
    speed = np.array([[-1.5, np.nan], [0.5, -0.0]], dtype=np.float32)
    assert np.array_equal(clean_grid(depth), [[0.25, 0.0], [0.0, 1.5]])
    assert np.array_equal(clean_grid(speed, magnitude=True), [[1.5, 0.0], [0.5, 0.0]])
    assert np.array_equal(clean_grid(np.array([[-1.0]], np.float32)), [[-1.0]])  # a depth keeps its sign
    dry = np.zeros((3, 4), dtype=np.float32)
    assert clean_grid(dry) is dry and clean_grid(dry, magnitude=True) is dry
    assert clean_grid(np.zeros((3, 4))).dtype == np.float32
