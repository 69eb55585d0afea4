"""Bodies: nobody passes through another or into a wall at any step the engine accepts; a door
passes no more people than its physical capacity; counterflows form lanes instead of jamming.
Each test runs at a 0.1 s step and at the largest step the engine accepts (the city's)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from evacuation_geometry import CORE, CORE_RADIUS, STEP_IDS, STEPS, exits_table, pair_distances, run, wall_distance

from sim.errors import SimInputError
from sim.evacuation import MAX_DT_S, EvacuationConfig, simulate
from sim.evacuation.crowd import wall_free
from sim.evacuation.rimea import agents_table, box, carve, room_crowd

steps = pytest.mark.parametrize("dt", STEPS, ids=STEP_IDS)


def two_groups(n: int, length: float, width: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` people at each end of a corridor (x 0.5–8 and length−8 … length−0.5), at random
    and at least 0.5 m apart."""
    pts: list[tuple[float, float]] = []
    for x0, x1 in ((0.5, 8.0), (length - 8.0, length - 0.5)):
        group: list[tuple[float, float]] = []
        while len(group) < n:
            p = (rng.uniform(x0, x1), rng.uniform(0.3, width - 0.3))
            if all(np.hypot(p[0] - q[0], p[1] - q[1]) >= 0.5 for q in group):
                group.append(p)
        pts += group
    xy = np.array(pts)
    return xy[:, 0], xy[:, 1]


def crossings(traj: pd.DataFrame, east: np.ndarray, west: np.ndarray) -> list[tuple[int, int, float, float]]:
    """Every step in which an eastbound and a westbound walker exchange their order along the
    corridor: (east id, west id, |Δy| before, |Δy| after)."""
    wide = traj.pivot(index="t", columns="agent_id")
    x, y = wide["x"], wide["y"]
    out = []
    for i in east:
        for j in west:
            dx = (x[i] - x[j]).to_numpy()
            dy = (y[i] - y[j]).to_numpy()
            s = np.sign(dx)
            for k in np.flatnonzero(np.isfinite(s[:-1]) & np.isfinite(s[1:]) & (s[:-1] * s[1:] < 0)):
                out.append((i, j, abs(dy[k]), abs(dy[k + 1])))
    return out


@steps
def test_walkers_never_pass_through_each_other_where_there_is_no_room_to_pass(dt):
    """A 0.7 m corridor holds one body across (two need 2 × 0.40 m): five people walking east
    and five walking west cannot get past each other, so an engine that let bodies tunnel
    through one another — a 1 s step moves 1.6 m, four body diameters — would show walkers
    exchanging places. Ours must show none, and no two cores ever overlapping."""
    lay = box(0.0, 0.0, 30.0, 0.75)
    x = np.r_[np.arange(5) * 1.0 + 1.0, 29.0 - np.arange(5) * 1.0]
    y = np.full(10, 0.375)
    exits = exits_table(("E", 30.0, 0.375, 0.3), ("W", 0.0, 0.375, 0.3))
    agents = agents_table(x, y, speed_mps=np.full(10, 1.6), exit_id=["E"] * 5 + ["W"] * 5)
    res = run(lay, agents, exits, dt_s=dt, duration_s=60.0, trajectory_interval_s=dt)
    assert res.arrived == 0  # nobody can get by
    assert crossings(res.trajectories, np.arange(5), np.arange(5, 10)) == []
    assert pair_distances(res.trajectories).min() >= CORE - 1e-6
    assert wall_distance(lay, res.trajectories["x"].to_numpy(), res.trajectories["y"].to_numpy()).min() \
        >= CORE_RADIUS - 1e-3


@steps
def test_head_on_walkers_in_a_2_m_corridor_pass_side_by_side(dt):
    """Three pairs meeting head on, each pair on one line: they must step aside and pass
    shoulder to shoulder. Whenever an eastbound and a westbound walker exchange order, they
    are a body's core apart across the corridor at the start or the end of that step (a body
    tunnelling through another would be on the same line at both), and no two cores overlap."""
    lay = box(0.0, 0.0, 40.0, 2.0)
    ys = np.array([1.0, 0.6, 1.4])
    x = np.r_[np.array([1.0, 5.0, 9.0]), np.array([39.0, 35.0, 31.0])]
    y = np.r_[ys, ys]
    exits = exits_table(("E", 40.0, 1.0, 1.0), ("W", 0.0, 1.0, 1.0))
    agents = agents_table(x, y, speed_mps=np.full(6, 1.3), exit_id=["E"] * 3 + ["W"] * 3)
    res = run(lay, agents, exits, dt_s=dt, duration_s=120.0, trajectory_interval_s=dt)
    assert res.arrived == 6
    events = crossings(res.trajectories, np.arange(3), np.arange(3, 6))
    assert len(events) == 9  # every pair passed, once
    assert all(max(before, after) >= CORE - 1e-6 for _, _, before, after in events), events
    assert pair_distances(res.trajectories).min() >= CORE - 1e-6


@steps
@pytest.mark.parametrize("seed", [0, 1])
def test_counterflow_of_twenty_each_way_forms_lanes_and_gets_through(dt, seed):
    """20 people each way in a 2 m corridor 30 m long (about 1.3 m⁻² in each group): they get
    past each other instead of jamming, in lanes as in the bidirectional experiments of Zhang
    et al. (2012, J. Stat. Mech. P02002), each keeping to its right."""
    lay = box(0.0, 0.0, 30.0, 2.0)
    x, y = two_groups(20, 30.0, 2.0, np.random.default_rng(seed))
    exits = exits_table(("E", 30.0, 1.0, 1.0), ("W", 0.0, 1.0, 1.0))
    agents = agents_table(x, y, speed_mps=np.full(40, 1.3), exit_id=["E"] * 20 + ["W"] * 20)
    res = run(lay, agents, exits, dt_s=dt, duration_s=300.0, trajectory_interval_s=max(0.5, dt))
    assert res.arrived == 40
    # alone, the farthest would walk 29.5 m in 23 s; a jam that dissolved by luck would take
    # minutes: two lanes of 1 m each carry 20 people in well under a minute
    assert res.evacuation_time_s < 60.0, res.evacuation_time_s
    tr = res.trajectories
    middle = tr[(tr["x"] > 10.0) & (tr["x"] < 20.0)]
    east_y = middle[middle["agent_id"] < 20].groupby("t")["y"].mean()
    west_y = middle[middle["agent_id"] >= 20].groupby("t")["y"].mean()
    both = east_y.index.intersection(west_y.index)
    # keeping right: eastbound walkers on the south half, westbound on the north half while
    # both groups are in the middle of the corridor
    assert (east_y[both] < west_y[both]).mean() > 0.9
    assert pair_distances(tr).min() >= CORE - 1e-6


@steps
def test_a_crowd_pushed_into_a_wall_corner_stays_out_of_the_walls(dt):
    """80 people in a 6 m × 6 m room whose only exit is a 1 m door in the far corner press
    into the corner while they queue: no recorded position lets a body's core into a wall."""
    lay = box(0.0, 0.0, 6.0, 6.0)
    carve(lay, 5.0, 6.0, 6.0, 6.25)  # door in the north wall, at the east corner
    exits = exits_table(("door", 5.5, 6.25, 0.5))
    x, y = room_crowd(0.0, 0.0, 6.0, 4.0, 80, np.random.default_rng(21))
    res = run(lay, agents_table(x, y), exits, dt_s=dt, duration_s=120.0, trajectory_interval_s=dt)
    assert res.arrived == 80
    tr = res.trajectories
    assert wall_distance(lay, tr["x"].to_numpy(), tr["y"].to_numpy()).min() >= CORE_RADIUS - 1e-3
    assert pair_distances(tr).min() >= CORE - 1e-6


@steps
@pytest.mark.parametrize("seed", [1, 2])
def test_a_one_metre_door_passes_no_more_than_its_physical_capacity(dt, seed):
    """100 people pressing out of a room through a 1 m door. The flow between the 11th and the
    90th person out must lie between the SFPE design flow of a 1 m door, 1.3 persons/(m·s)
    over the effective width 1 m − 2 × 0.15 m = 0.91 /s (Nelson & Mowrer, SFPE Handbook), a
    conservative planning figure real doors exceed, and the largest capacity measured at an
    emergency door, 3.3 persons/(m·s) (Daamen & Hoogendoorn 2012, Fire Technology 48: 55–71;
    a population with many children, whose smaller bodies pass more easily; adult groups
    stayed below it). Laboratory bottleneck flows of adults near 1.9 /s for 1 m (Seyfried et
    al. 2009, Transportation Science 43: 395–406) lie in between."""
    lay = box(0.0, 0.0, 10.0, 10.0)
    carve(lay, 4.5, 9.9, 5.5, 10.3)
    exits = exits_table(("door", 5.0, 10.25, 0.5))
    x, y = room_crowd(2.0, 0.0, 8.0, 8.0, 100, np.random.default_rng(seed))
    res = run(lay, agents_table(x, y, speed_mps=np.full(100, 1.3)), exits, dt_s=dt, duration_s=300.0,
              trajectory_interval_s=5.0)
    assert res.arrived == 100
    out = np.sort(res.arrival_s)
    flow = 79 / (out[89] - out[10])
    assert 0.91 <= flow <= 3.3, flow
    assert wall_distance(lay, res.trajectories["x"].to_numpy(), res.trajectories["y"].to_numpy()).min() \
        >= CORE_RADIUS - 1e-3


@steps
def test_people_starting_closer_to_a_wall_than_their_radius_set_off(dt):
    """Start positions thrown at random in a cell can lie within a body's radius of a wall
    (the city bench lost 3 of 20,000 that way: each stood for the whole hour). Two people
    stand 0.05 m from a block's top and its side, their way round its corner leading into it;
    they are moved out to the radius at the start and walk round to the exit."""
    lay = box(0.0, 0.0, 10.0, 6.0)
    carve(lay, 0.0, 0.0, 6.0, 3.0, value=True)  # the block, x 0–6, y 0–3
    exits = exits_table(("SE", 8.0, 0.0, 1.0))
    res = run(lay, agents_table([4.0, 6.05], [3.05, 1.5]), exits, dt_s=dt, duration_s=60.0, trajectory_interval_s=dt)
    assert res.arrived == 2
    tr = res.trajectories
    assert wall_distance(lay, tr["x"].to_numpy(), tr["y"].to_numpy()).min() >= CORE_RADIUS - 1e-3


def test_a_disc_touching_a_wall_moves_along_and_away_but_not_in():
    """A disc stopped against a wall stands at its radius only to rounding: at x = k − 0.2 beside
    a wall cell from x = k, the distance computes a hair above or below 0.2 depending on k. At
    either, a move away from the wall or along it is free and a move into it is not (the ray
    tests from the edge of the widened box once reported a contact at 0 in every direction)."""
    walls = np.zeros((3, 1002), dtype=bool)
    clear = np.zeros(walls.shape, dtype=np.float32)  # no shortcut: every wall cell is tested
    for k in range(2, 1000):
        walls[:, k] = True
        for x, away in ((k - CORE_RADIUS, -1.0), (k + 1 + CORE_RADIUS, 1.0)):
            for ux, uy, expect in ((away, 0.0, 1.0), (0.0, 1.0, 1.0), (0.0, -1.0, 1.0), (-away, 0.0, 0.0)):
                got = wall_free(x, 1.5, ux, uy, 1.0, CORE_RADIUS, 1.0, walls, clear)
                assert got == pytest.approx(expect, abs=2e-6), (k, x, ux, uy, got)
        walls[:, k] = False


@steps
def test_people_standing_against_a_wall_at_their_radius_walk_on(dt):
    """The city bench's 100,000-agent hour left 215 people standing for good, each pressed
    against a wall at exactly its core's radius (x = 838.8 beside a wall from x = 839). Four
    people touching the four faces of a block at such coordinates (1 m cells, as in the city)
    must all walk round it to the exit."""
    walls = np.zeros((12, 12), dtype=bool)
    walls[3:7, 4:6] = True  # the block: x 4–6, 3–7 m south of the north edge
    x = np.array([4 - CORE_RADIUS, 6 + CORE_RADIUS, 5.0, 5.0])
    south = np.array([5.0, 5.0, 3 - CORE_RADIUS, 7 + CORE_RADIUS])
    res = simulate(walls, 1.0, (0.0, 0.0), agents_table(x, -south), exits_table(("SE", 11.0, -11.0, 1.0)),
                   config=EvacuationConfig(dt_s=dt, duration_s=60.0))
    assert res.arrived == 4, res.arrival_s


def test_steps_longer_than_the_validated_one_are_refused():
    lay = box(0.0, 0.0, 10.0, 2.0)
    with pytest.raises(SimInputError, match="validated"):
        simulate(lay.walls, lay.cell_size, lay.origin, agents_table([1.0], [1.0]), exits_table(("E", 10.0, 1.0, 1.0)),
                 config=EvacuationConfig(dt_s=MAX_DT_S * 2))
