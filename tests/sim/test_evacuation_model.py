"""Building blocks of the evacuation engine: travel-time fields, laws, profiles, inputs, exits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.errors import SimInputError
from sim.evacuation import DEFAULT_PROFILES, EvacuationConfig, crowd, simulate, weidmann_speed
from sim.evacuation.navigation import descent_direction, exit_fields, nearest_exits
from sim.evacuation.rimea import agents_table, box, room_crowd
from sim.evacuation.water import water_factor_grid


def test_fast_marching_distance_from_a_line_is_exact_and_from_a_point_within_7_percent():
    free = np.ones((101, 101))
    line = exit_fields(free, [np.arange(101) * 101], 0.5)[0]  # column 0 of every row
    assert np.allclose(line, np.arange(101) * 0.5, atol=1e-9)
    point = exit_fields(free, [np.array([50 * 101 + 50])], 1.0)[0]
    yy, xx = np.mgrid[0:101, 0:101]
    d = np.hypot(yy - 50, xx - 50)
    far = d > 10
    # first-order fast marching overestimates diagonals; the error shrinks with distance
    assert np.all(point[far] >= d[far] - 1e-9)
    assert np.max((point[far] - d[far]) / d[far]) < 0.07


def test_fast_marching_goes_round_walls_and_leaves_enclosed_cells_unreachable():
    speed = np.ones((30, 30))
    speed[10, :25] = 0.0  # a wall with a gap at the east end
    speed[20:25, 20:25] = 0.0
    speed[22, 22] = 1.0  # enclosed
    t = exit_fields(speed, [np.array([0])], 1.0)[0]
    assert np.isinf(t[22, 22]) and np.isinf(t[10, 5])
    assert t[11, 0] > 2 * 25 - 1  # down to the gap and back
    slow = exit_fields(np.full((5, 50), 0.5), [np.array([0])], 1.0)[0]
    assert slow[0, 49] == pytest.approx(98.0)  # half speed: twice the time


def test_weidmann_and_water_laws():
    assert weidmann_speed(np.array([0.0]))[0] == pytest.approx(1.34)
    assert weidmann_speed(np.array([5.4]))[0] == pytest.approx(0.0, abs=1e-12)
    assert weidmann_speed(np.array([1.0]))[0] == pytest.approx(1.34 * (1 - np.exp(-1.913 * (1 - 1 / 5.4))))
    f = water_factor_grid(np.array([0.0, 0.25, 0.5, 0.7, np.nan]), 0.5)
    assert np.allclose(f, [1.0, 0.5, 0.0, 0.0, 1.0])


def test_profile_speeds_are_drawn_inside_their_ranges_with_the_cited_means():
    from scipy.stats import truncnorm

    rng = np.random.default_rng(0)
    for name, nominal in (("adult", 1.3), ("elderly", 1.0), ("needs_help", 0.5)):
        s = DEFAULT_PROFILES[name].speed
        v = s.sample(rng, 20000)
        assert v.min() >= s.low and v.max() <= s.high
        expected = truncnorm.mean((s.low - s.mean) / s.sd, (s.high - s.mean) / s.sd, loc=s.mean, scale=s.sd)
        assert v.mean() == pytest.approx(expected, abs=0.01)
        assert v.mean() == pytest.approx(nominal, rel=0.05)  # the issue's ~1.3, ~1.0 and 0.5 m/s
    assert DEFAULT_PROFILES["adult"].depth_limit_m == 0.5
    assert DEFAULT_PROFILES["elderly"].depth_limit_m == DEFAULT_PROFILES["needs_help"].depth_limit_m == 0.3


def _room():
    lay = box(0.0, 0.0, 10.0, 10.0)
    exits = pd.DataFrame([("A", 10.25, 2.0, 0.8), ("B", 10.25, 8.0, 0.8)], columns=["id", "x", "y", "radius_m"])
    from sim.evacuation.rimea import carve
    carve(lay, 10.0, 1.0, 10.25, 3.0)
    carve(lay, 10.0, 7.0, 10.25, 9.0)
    return lay, exits


@pytest.mark.parametrize("agents, message", [
    (agents_table([-5.0], [1.0]), "outside the grid"),
    (agents_table([10.1], [5.0]), "inside a wall"),
    (agents_table([1.0], [1.0], profile=["child"]), "unknown profile"),
    (agents_table([1.0], [1.0], exit_id=["Z"]), "not an exit"),
    (agents_table([1.0], [1.0], speed_mps=[-1.0]), "speed_mps"),
    (pd.DataFrame({"id": [1], "x": [1.0]}), "lacks column"),
])
def test_bad_inputs_raise_sim_input_error(agents, message):
    lay, exits = _room()
    with pytest.raises(SimInputError, match=message):
        simulate(lay.walls, lay.cell_size, lay.origin, agents, exits)


@pytest.mark.parametrize("fine, slowed", [(0.0, 0.25), (-0.1, 0.25), (0.3, 0.25)])
def test_re_plan_intervals_must_be_positive_and_the_slowed_no_finer(fine, slowed):
    lay, exits = _room()
    cfg = EvacuationConfig(plan_interval_s=fine, slowed_plan_interval_s=slowed)
    with pytest.raises(SimInputError, match="plan_interval_s"):
        simulate(lay.walls, lay.cell_size, lay.origin, agents_table([1.0], [1.0]), exits, config=cfg)


def test_exits_outside_the_grid_are_refused():
    lay, exits = _room()
    exits.loc[0, "x"] = 50.0
    with pytest.raises(SimInputError, match="exit A .* outside the grid"):
        simulate(lay.walls, lay.cell_size, lay.origin, agents_table([1.0], [1.0]), exits)


def test_a_full_shelter_closes_and_the_rest_go_to_the_other():
    lay, exits = _room()
    exits["capacity"] = [30, np.nan]
    x, y = room_crowd(0.0, 0.0, 10.0, 5.0, 80, np.random.default_rng(2))  # all nearer to A
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y), exits,
                   config=EvacuationConfig(dt_s=0.1, duration_s=300.0))
    got = pd.Series(res.exit_id[np.isfinite(res.arrival_s)]).value_counts()
    assert res.arrived == 80
    assert got["A"] == 30 and got["B"] == 50


def test_exit_choice_spreads_a_crowd_over_two_doors_by_expected_queue():
    lay, exits = _room()
    x, y = room_crowd(0.0, 0.0, 10.0, 4.5, 120, np.random.default_rng(3))  # all nearer to A
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y), exits,
                   config=EvacuationConfig(dt_s=0.1, duration_s=300.0))
    got = pd.Series(res.exit_id).value_counts()
    assert res.arrived == 120
    assert got.get("B", 0) >= 20  # some walk further to the idle door rather than queue


def test_same_seed_same_result_and_waiting_agents_start_on_time():
    lay, exits = _room()
    x, y = room_crowd(0.0, 0.0, 10.0, 10.0, 60, np.random.default_rng(4))
    agents = agents_table(x, y, start_s=np.where(np.arange(60) < 30, 0.0, 20.0))
    cfg = EvacuationConfig(dt_s=0.2, duration_s=200.0, seed=5)
    a = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    b = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    assert np.array_equal(a.arrival_s, b.arrival_s, equal_nan=True)
    assert np.all(a.arrival_s[30:] > 20.0)


def test_each_cell_lists_its_k_nearest_exits_on_foot():
    """Open ground, eight point exits: a cell's list holds the k = 3 exits nearest to it as
    the crow flies (on open ground the walk is the straight line), nearest first, at distances
    no shorter than the straight line and at most 7% longer (first-order fast marching on the
    4-neighbour stencil overestimates diagonals by up to that, see the test above). Where two
    candidates lie within that error of each other the order may differ, so those cells are
    left out of the comparison."""
    n, k = 120, 3
    rng = np.random.default_rng(5)
    rows, cols = rng.integers(5, n - 5, 8), rng.integers(5, n - 5, 8)
    labels, dist = nearest_exits(np.ones((n, n)), [np.array([r * n + c]) for r, c in zip(rows, cols)], 1.0, k)
    yy, xx = np.mgrid[0:n, 0:n]
    euclid = np.hypot(yy.ravel()[:, None] - rows[None, :], xx.ravel()[:, None] - cols[None, :])
    order = np.argsort(euclid, axis=1)
    ranked = np.take_along_axis(euclid, order, axis=1)
    # the set of the k nearest where the k-th and the next differ by more than the error
    unambiguous = ranked[:, k] > 1.08 * ranked[:, k - 1] + 1.0
    assert unambiguous.mean() > 0.5
    assert np.array_equal(np.sort(labels[unambiguous], axis=1), np.sort(order[unambiguous, :k], axis=1))
    # and their order where each exit is that much farther than the one before
    ordered = np.all(ranked[:, 1:k + 1] > 1.08 * ranked[:, :k] + 1.0, axis=1)
    assert ordered.mean() > 0.2
    assert np.array_equal(labels[ordered], order[ordered, :k])
    true = np.take_along_axis(euclid, labels.astype(np.int64), axis=1)
    assert np.all(dist >= true - 1e-4)
    far = true > 10.0
    assert np.all(dist[far] <= 1.07 * true[far])


def test_exit_labels_beyond_a_byte_survive_the_march():
    """300 point exits on open ground (labels up to 299; the marches' heap packs a cell and its
    label into one number): each cell's nearest exit is the one nearest as the crow flies
    wherever the second lies more than the fast march's 7 % diagonal error farther, and there at a
    distance from the straight line to 7 % above it (as in the test above)."""
    n = 400
    rng = np.random.default_rng(8)
    rows, cols = rng.integers(5, n - 5, 300), rng.integers(5, n - 5, 300)
    labels, dist = nearest_exits(np.ones((n, n)), [np.array([r * n + c]) for r, c in zip(rows, cols)], 1.0, 1)
    yy, xx = np.mgrid[0:n, 0:n]
    euclid = np.hypot(yy.ravel()[:, None] - rows[None, :], xx.ravel()[:, None] - cols[None, :])
    ranked = np.sort(euclid, axis=1)
    clear = ranked[:, 1] > 1.08 * ranked[:, 0] + 1.0
    assert clear.mean() > 0.5 and labels.max() == 299
    assert np.array_equal(labels[clear, 0], np.argmin(euclid[clear], axis=1))
    true = euclid[np.arange(n * n), labels[:, 0]]
    assert np.all(dist[:, 0] >= true - 1e-4)
    # near a boundary between two exits' cells a cell's value comes from its own exit's side of
    # the stencil alone, so the 7 % bound holds away from the boundaries, and beyond 20 cells
    # (at 10.6 cells the first-order march measured 7.04 % over, near a diagonal)
    far = clear & (true > 20.0)
    assert np.all(dist[far, 0] <= 1.07 * true[far])


def test_remembered_field_gradients_give_the_headings_read_afresh():
    """An agent's heading is blended from the field gradients at the four cell centres around
    it, which it remembers while it stays among them. Wandering in small random steps through a
    hall crossed by four bars, heading for one exit then the other, the headings with the gradients remembered are
    those read afresh every time, to the bit; after the fields change (here: the same exit's
    field on other walls), clearing the memory, as ``_Run.compute_routes`` does, gives the new
    field's heading, and keeping it would not."""
    n, k = 40, 2
    walls = np.zeros((n, n), dtype=bool)
    walls[10:30:6, 5:35] = True  # bars across the hall: fields bend round their ends
    exits = [np.array([2 * n + 2]), np.array([37 * n + 37])]

    def fields(w):
        lab, val = nearest_exits(np.where(w, 0.0, 1.0), exits, 1.0, k)
        return lab.reshape(1, -1), val.reshape(1, -1)

    dense, dense_of = np.zeros((1, 0, 0), np.float32), np.full(2, -1, np.int64)
    lab, val = fields(walls)
    memo_at, memo = np.full(1, -1, np.int64), np.zeros((1, 8))
    rng = np.random.default_rng(3)
    x, y, hits = 20.3, 4.1, 0
    for step in range(3000):
        x = min(max(x + rng.normal(0.0, 0.15), 0.5), n - 0.5)
        y = min(max(y + rng.normal(0.0, 0.15), 0.5), n - 0.5)
        e = (step // 500) % 2
        before = memo_at[0]
        kept = descent_direction(lab[0], val[0], k, dense[0], dense_of, n, n, e, x, y, 1.0, 0, memo_at, memo)
        hits += memo_at[0] == before
        fresh = descent_direction(lab[0], val[0], k, dense[0], dense_of, n, n, e, x, y, 1.0, 0,
                                  np.full(1, -1, np.int64), np.zeros((1, 8)))
        assert kept == fresh
    assert hits > 1500  # most small steps stay among the same four centres
    # the same exit, the same four centres, a wall now in the way: the heading turns once cleared
    x, y = 20.5, 31.0
    lab2, val2 = fields(walls | (np.arange(n)[:, None] == 32) & (np.arange(n)[None, :] >= 12))
    old = descent_direction(lab[0], val[0], k, dense[0], dense_of, n, n, 1, x, y, 1.0, 0, memo_at, memo)
    stale = descent_direction(lab2[0], val2[0], k, dense[0], dense_of, n, n, 1, x, y, 1.0, 0, memo_at, memo)
    memo_at.fill(-1)
    new = descent_direction(lab2[0], val2[0], k, dense[0], dense_of, n, n, 1, x, y, 1.0, 0, memo_at, memo)
    assert stale == old and new != old
    assert new == descent_direction(lab2[0], val2[0], k, dense[0], dense_of, n, n, 1, x, y, 1.0, 0,
                                    np.full(1, -1, np.int64), np.zeros((1, 8)))
    assert new[0] < -0.5  # round the new wall's west end


def test_shelters_that_fill_send_people_on_to_the_next_by_walking_time():
    """Six shelters of 10 places in a row along a corridor, each cell listing only its 2
    nearest: 50 people starting at the west end fill the near shelters and go on, shelter by
    shelter, beyond the lists they started with; every one of them arrives (none is left as
    'not arrived'), those turned away are flagged, and their arrival counts the extra walk."""
    lay = box(0.0, 0.0, 62.0, 4.0)
    exits = pd.DataFrame({"id": [f"s{k}" for k in range(6)], "x": 10.0 * np.arange(1, 7), "y": 2.0,
                          "radius_m": 1.0, "capacity": 10})
    x, y = room_crowd(0.0, 0.0, 6.0, 4.0, 50, np.random.default_rng(8))
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y), exits,
                   config=EvacuationConfig(dt_s=0.5, duration_s=600.0, candidate_exits=2))
    assert res.arrived == 50 and res.stranded == 0
    got = pd.Series(res.exit_id).value_counts()
    assert list(got.sort_index()) == [10, 10, 10, 10, 10]  # the first five shelters, full
    assert res.redirected.sum() > 0
    # those sent on walked further: the last arrivals reached the fifth shelter, 50 m away
    assert np.nanmax(res.arrival_s[got.index[0] != res.exit_id]) > 50.0 / 1.61


def test_the_serial_and_parallel_kernels_are_built_and_cached_apart() -> None:
    """numba names its cache files after the Python function: two dispatchers of one function
    shared one file, so whichever build was cached first ran for both, and the parallel planner
    ran every batch on one thread (the 100,000-agent hour: 284 s, 232 s once apart)."""
    for serial, parallel in ((crowd.plan_steps, crowd.plan_steps_parallel), (crowd.move_agents, crowd.move_strips)):
        paths = {d._cache._cache_file._index_path for d in (serial, parallel)}
        assert len(paths) == 2
        assert parallel.targetoptions.get("parallel") is True
        assert not serial.targetoptions.get("parallel")


def test_stored_in_space_order_the_results_come_back_in_the_input_order(monkeypatch) -> None:
    """Large runs store their agents in Z-order of where they stand, again every minute; here
    every run is made "large" and re-sorted every second. Eight people walking alone (4 m apart
    across a 40 m hall, input order scrambled) do not meet, so how they are stored changes
    nothing: each one's shelter, arrival and trajectory are those of the run in input order."""
    from sim.evacuation import model

    lay = box(0.0, 0.0, 40.0, 40.0)
    exits = pd.DataFrame([("W", 1.0, 20.0, 0.5), ("E", 39.0, 20.0, 0.5)], columns=["id", "x", "y", "radius_m"])
    x = np.array([30.0, 6.0, 26.0, 14.0, 34.0, 10.0, 22.0, 18.0])
    y = np.array([4.0, 36.0, 8.0, 28.0, 12.0, 32.0, 16.0, 24.0])
    agents = agents_table(x, y, speed_mps=np.full(8, 1.2), start_s=np.arange(8) * 0.5)
    cfg = EvacuationConfig(dt_s=0.2, duration_s=120.0, trajectory_interval_s=1.0)
    plain = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    monkeypatch.setattr(model, "SORT_AGENTS_FROM", 1)
    monkeypatch.setattr(model, "SORT_EVERY_S", 1.0)
    stored = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    assert plain.arrived == 8
    assert list(stored.agent_id) == list(plain.agent_id) == list(range(8))
    assert list(stored.exit_id) == list(plain.exit_id) == ["E" if v > 20 else "W" for v in x]
    assert np.array_equal(stored.arrival_s, plain.arrival_s) and np.array_equal(stored.start_s, plain.start_s)
    pd.testing.assert_frame_equal(stored.trajectories, plain.trajectories)
    # the trajectories list people in the input's order at every recorded time
    assert (stored.trajectories.groupby("t")["agent_id"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert crowd.z_order(np.array([0.0, 4.0, 0.0, 4.0]), np.array([0.0, 0.0, 4.0, 4.0]), 4.0).tolist() == [0, 1, 2, 3]


def test_the_step_orders_the_crowd_on_the_distances_the_exit_choice_read(monkeypatch) -> None:
    """Before each step the exit choice reads every walker's distance to its exit, and the step
    orders the crowd front first on those same distances, reading afresh only those whose exit the
    choice changed. Six shelters of 10 places along a corridor, 50 people setting off over 20 s and
    reconsidering as the shelters fill (their lists recomputed within a choice): the run with the
    distances read afresh at every step is the same to the bit, trajectories included."""
    from sim.evacuation import model

    lay = box(0.0, 0.0, 62.0, 4.0)
    exits = pd.DataFrame({"id": [f"s{k}" for k in range(6)], "x": 10.0 * np.arange(1, 7), "y": 2.0,
                          "radius_m": 1.0, "capacity": 10})
    rng = np.random.default_rng(8)
    x, y = room_crowd(0.0, 0.0, 6.0, 4.0, 50, rng)
    agents = agents_table(x, y, start_s=rng.uniform(0.0, 20.0, 50))
    cfg = EvacuationConfig(dt_s=0.5, duration_s=600.0, candidate_exits=2, trajectory_interval_s=1.0)
    seen: list[tuple[int, int]] = []
    order = crowd.front_first_order

    def spy(*args):
        known = args[-1]
        seen.append((int(np.isfinite(known).sum()), int(np.isnan(known).sum())))
        return order(*args)

    monkeypatch.setattr(crowd, "front_first_order", spy)
    shared = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    choose = model._Run._choose

    def forgetful(self, t, p, last):
        stale = choose(self, t, p, last)
        self.known = model.NO_DISTANCES
        return stale

    monkeypatch.setattr(model._Run, "_choose", forgetful)
    fresh = simulate(lay.walls, lay.cell_size, lay.origin, agents, exits, config=cfg)
    # the reuse took place, with some exits changed, and shelters filled on the way
    assert max(f for f, _ in seen) > 0 and max(n for _, n in seen) > 0
    assert shared.arrived == 50 and shared.redirected.sum() > 0
    assert list(shared.exit_id) == list(fresh.exit_id)
    assert np.array_equal(shared.arrival_s, fresh.arrival_s)
    pd.testing.assert_frame_equal(shared.trajectories, fresh.trajectories)
