"""RiMEA 3.0 guideline tests (rimea.de, Richtlinie 3.0.0) for the evacuation engine, with
the criteria JuPedSim's RiMEA suite applies where RiMEA leaves a number open. Every test runs
at a 0.1 s step and at the largest step the engine accepts (the city's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evacuation_geometry import CORE_RADIUS, STEP_IDS, STEPS, exits_table, run, wall_distance

from sim.evacuation import weidmann_flow
from sim.evacuation.profiles import DEFAULT_PROFILES
from sim.evacuation.rimea import Layout, agents_table, box, carve, hex_crowd, random_crowd, rimea9, room_crowd

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
steps = pytest.mark.parametrize("dt", STEPS, ids=STEP_IDS)


def keeps_off_walls(lay: Layout, traj: pd.DataFrame) -> bool:
    """True when every recorded position keeps the body's hard core off every wall cell."""
    d = wall_distance(lay, traj["x"].to_numpy(), traj["y"].to_numpy())
    # 1 mm: positions are recorded in map coordinates (an origin offset and a subtraction)
    return bool(d.min() >= CORE_RADIUS - 1e-3)


@steps
def test_rimea1_one_person_walks_40_m_corridor_in_26_to_34_s(dt):
    lay = box(0.0, 0.0, 44.0, 2.0)
    res = run(lay, agents_table([1.0], [1.0], speed_mps=[1.33]), exits_table(("E", 43.5, 1.0, 0.5)),
              dt_s=dt, trajectory_interval_s=dt)
    traj = res.trajectories
    t40 = traj.loc[traj["x"] >= 41.0, "t"].min() - traj.loc[traj["x"] > 1.0, "t"].min()
    assert 26.0 <= t40 <= 34.0
    # alone in a straight corridor the agent keeps its free speed: 40/1.33 = 30.1 s; sampling
    # both crossings on the step's grid puts each within one step of the truth
    assert t40 == pytest.approx(40.0 / 1.33, abs=dt + 0.05)


def _corridor_flow(density: float, dt: float) -> tuple[float, float]:
    """Mean density and specific flow measured in x 20–40 m of a 2 m × 120 m corridor whose
    first 60 m start filled at ``density`` (free speed 1.34 m/s, Weidmann's v₀): people thrown
    at random up to 3 m⁻², a jittered hexagonal lattice above (random packing jams there)."""
    lay = box(0.0, 0.0, 120.0, 2.0)
    crowd = random_crowd if density <= 3.0 else hex_crowd
    x, y = crowd(0.0, 0.0, 60.0, 2.0, density, np.random.default_rng(3))
    every = max(0.5, dt)
    res = run(lay, agents_table(x, y, speed_mps=np.full(len(x), 1.34)), exits_table(("E", 119.5, 1.0, 0.6)),
              dt_s=dt, duration_s=14.0, trajectory_interval_s=every)
    tr = res.trajectories.sort_values(["agent_id", "t"])
    tr["dx"] = tr.groupby("agent_id")["x"].diff()
    win = tr[(tr["t"] >= 4.0) & (tr["t"] <= 13.5) & (tr["x"] >= 20.0) & (tr["x"] <= 40.0)]
    rho = win.groupby("t").size().mean() / (20.0 * 2.0)
    return rho, rho * (win["dx"] / every).mean()


@steps
def test_rimea4_fundamental_diagram_flow_rises_then_falls(dt):
    densities = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0]
    measured = np.array([_corridor_flow(d, dt) for d in densities])
    rho, flow = measured[:, 0], measured[:, 1]
    _plot_fundamental_diagram(rho, flow, dt)
    peak = int(np.argmax(flow))
    assert 0 < peak < len(flow) - 1, f"flow peaks at an end: {flow}"
    assert np.all(np.diff(flow[:peak + 1]) > 0) and np.all(np.diff(flow[peak:]) < 0), flow
    # Weidmann: peak specific flow ≈ 1.22 /(m·s) near 1.8 m⁻²; allow ±25%
    assert 1.0 <= rho[peak] <= 2.5
    assert 0.9 <= flow[peak] <= 1.55
    # up to 2.5 m⁻² the flow follows Weidmann's within 25% (his curve is a fit through data that
    # scatter by about as much); denser crowds flow less than his curve (docs/evacuation.md)
    # but still move below 3 m⁻²
    ref = weidmann_flow(rho)
    low = rho <= 2.5
    assert np.all(np.abs(flow[low] - ref[low]) <= 0.25 * ref[low]), np.c_[rho, flow, ref]
    assert flow[rho <= 3.1][-1] > 0.3 * ref[rho <= 3.1][-1]


def _plot_fundamental_diagram(rho: np.ndarray, flow: np.ndarray, dt: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ARTIFACTS.mkdir(exist_ok=True)
    r = np.linspace(0.05, 5.4, 200)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(r, weidmann_flow(r), label="Weidmann (1993)")
    ax.plot(rho, flow, "o-", label=f"sim.evacuation, 2 m corridor, dt {dt:g} s")
    ax.set_xlabel("density (persons/m²)")
    ax.set_ylabel("specific flow (persons/(m·s))")
    ax.set_title("RiMEA test 4: fundamental diagram")
    ax.legend()
    fig.tight_layout()
    fig.savefig(ARTIFACTS / f"rimea4_fundamental_diagram_dt{dt:g}.png", dpi=120)
    plt.close(fig)


def corner_layout(leg: float = 12.0, width: float = 2.0) -> tuple[Layout, pd.DataFrame]:
    """An L-shaped corridor: east along y 0–2, then north along x leg−2…leg, exit at the top."""
    lay = box(0.0, 0.0, leg, leg + 0.25)
    carve(lay, 0.0, width, leg - width, leg + 0.25, value=True)
    return lay, exits_table(("top", leg - width / 2, leg + 0.25, width / 2))


@steps
def test_rimea6_twenty_persons_round_a_corner_never_touch_the_wall(dt):
    lay, exits = corner_layout()
    x, y = room_crowd(0.0, 0.0, 5.0, 2.0, 20, np.random.default_rng(6))
    res = run(lay, agents_table(x, y), exits, dt_s=dt, trajectory_interval_s=dt)
    assert res.arrived == 20
    # every recorded position keeps the body's core off the walls: nobody is even partly in
    # the wall at the corner, let alone through it
    assert keeps_off_walls(lay, res.trajectories)


@steps
def test_rimea7_speeds_stay_in_weidmann_age_group_ranges(dt):
    ranges = {"adult": (0.58, 1.61), "elderly": (0.68, 1.41), "needs_help": (0.46, 0.76)}
    lanes = 3 * 20
    lay = box(0.0, 0.0, 42.0, 1.25 * lanes)
    for k in range(1, lanes):  # walls between 1 m lanes
        carve(lay, 0.0, 1.25 * k - 0.25, 42.0, 1.25 * k, value=True)
    yc = 1.25 * np.arange(lanes) + 0.5
    exits = exits_table(*[(f"lane{k}", 41.5, yc[k], 0.5) for k in range(lanes)])
    profile = np.repeat(list(ranges), 20)
    agents = agents_table(np.full(lanes, 0.5), yc, profile=profile, exit_id=exits["id"])
    res = run(lay, agents, exits, trajectory_interval_s=max(0.5, dt), seed=7, dt_s=dt)
    tr = res.trajectories
    tr = tr[(tr["x"] >= 5.0) & (tr["x"] <= 35.0)]
    # the slope of x(t) over 5–35 m, fitted through every sample: sampling every step adds no
    # bias to a least-squares slope, and each walker is alone in its lane at constant speed
    speed = tr.groupby("agent_id").apply(lambda g: np.polyfit(g["t"], g["x"], 1)[0], include_groups=False)
    for name, (lo, hi) in ranges.items():
        v = speed[agents.loc[agents["profile"] == name, "id"]].to_numpy()
        # the free speed is drawn inside the range; 1% for the fit and the lane walls
        assert np.all((v >= lo * 0.99) & (v <= hi * 1.01)), (name, v)
        assert v.std() > 0.02, f"{name}: speeds are not distributed"
    means = {name: speed[agents.loc[agents["profile"] == name, "id"]].mean() for name in ranges}
    assert means["adult"] > means["elderly"] > means["needs_help"]
    assert means["needs_help"] == pytest.approx(DEFAULT_PROFILES["needs_help"].speed.mean, rel=0.15)


def _rimea9(doors: int, dt: float, seed: int) -> tuple[float, list[float]]:
    """Evacuation time and each door's flow (persons/s, from its 10th to its 90th percentile
    of arrivals)."""
    lay, exits = rimea9(doors)
    x, y = room_crowd(0.0, 0.0, 30.0, 20.0, 1000, np.random.default_rng(9))
    res = run(lay, agents_table(x, y, speed_mps=np.random.default_rng(10).normal(1.34, 0.26, 1000).clip(0.58, 1.61)),
              exits, dt_s=dt, trajectory_interval_s=5.0, seed=seed)
    assert res.arrived == 1000
    assert keeps_off_walls(lay, res.trajectories)
    flows = []
    for door in exits["id"]:
        t = np.sort(res.arrival_s[np.asarray(res.exit_id) == door])
        lo, hi = int(0.1 * len(t)), int(0.9 * len(t))
        flows.append((hi - lo) / (t[hi] - t[lo]))
    return res.evacuation_time_s, flows


@pytest.mark.slow
@steps
def test_rimea9_four_doors_then_two_roughly_doubles_the_time(dt):
    """RiMEA 9's criterion is the ratio of the two times; the run is stochastic (the jostling's
    draws): with four doors, seeds 0–4 took 140.6–154.5 s at the city step and 132.2–186.9 s at
    0.1 s, so the times are the means of three seeds. Each door's flow must lie in the physical
    band of a 1 m door that test_a_one_metre_door_passes_no_more_than_its_physical_capacity
    states (0.91–3.3 /s)."""
    seeds = (0, 1, 2)
    four = [_rimea9(4, dt, seed) for seed in seeds]
    two = [_rimea9(2, dt, seed) for seed in seeds]
    ratio = np.mean([t for t, _ in two]) / np.mean([t for t, _ in four])
    # JuPedSim's own RiMEA 9 check accepts a ratio of 1.6–2.4
    assert 1.6 <= ratio <= 2.4, (four, two)
    flows = np.concatenate([f for _, f in four + two])
    assert np.all((flows >= 0.91) & (flows <= 3.3)), flows


@steps
def test_rimea10_assigned_exits_are_used(dt):
    lay = box(0.0, 0.0, 30.0, 6.0)
    exits = exits_table(("west", 0.0, 3.0, 1.0), ("east", 30.0, 3.0, 1.0))
    rng = np.random.default_rng(10)
    x, y = room_crowd(2.0, 0.0, 28.0, 6.0, 24, rng, spacing=1.0)
    assigned = np.where(np.arange(24) < 12, np.where(x < 15.0, "east", "west"), "")
    res = run(lay, agents_table(x, y, exit_id=assigned), exits, dt_s=dt)
    assert res.arrived == 24
    got = np.asarray(res.exit_id)
    assert np.all(got[:12] == assigned[:12])
    nearest = np.where(x[12:] < 15.0, "west", "east")
    assert np.all(got[12:] == nearest)


def bottleneck_layout() -> tuple[Layout, pd.DataFrame]:
    """RiMEA 12: room A (10 m × 10 m) → 1 m × 5 m corridor → room B (10 m × 10 m) → 1 m exit."""
    lay = box(0.0, 0.0, 25.0, 10.0)
    carve(lay, 10.0, 0.0, 15.0, 4.5, value=True)
    carve(lay, 10.0, 5.5, 15.0, 10.0, value=True)
    carve(lay, 25.0, 4.5, 25.25, 5.5)
    return lay, exits_table(("exit", 25.25, 5.0, 0.5))


@steps
def test_rimea12_no_jam_at_the_last_exit_after_a_bottleneck(dt):
    lay, exits = bottleneck_layout()
    x, y = room_crowd(0.0, 0.0, 10.0, 10.0, 150, np.random.default_rng(12))
    res = run(lay, agents_table(x, y), exits, dt_s=dt, trajectory_interval_s=1.0)
    assert res.arrived == 150
    tr = res.trajectories
    at_first = tr[np.hypot(tr["x"] - 10.0, tr["y"] - 5.0) < 2.0].groupby("t").size().max()
    at_last = tr[np.hypot(tr["x"] - 25.0, tr["y"] - 5.0) < 2.0].groupby("t").size().max()
    half_disc = 0.5 * np.pi * 2.0**2
    # the queue forms at the first bottleneck; people reach the last one at the corridor's
    # flow and pass it without a queue (below Weidmann's 1.8 m⁻² of maximum flow)
    assert at_first / half_disc > 2.5
    assert at_last / half_disc < 1.8


@steps
@pytest.mark.parametrize("n", [10, 50])
def test_rimea15_corner_time_lies_between_short_and_long_corridors(n, dt):
    """RiMEA 15 with its 50 persons (3.6 m⁻²) and with 10: the L corridor's time lies between
    those of straight corridors as long as its inner and its outer wall. The times are means
    over seeds 0–4 (each seed draws the walkers' speeds and the jostling): with 50 persons, of
    the ten runs (five seeds, two steps) the corner takes 0.5–1.2 s less than the long corridor
    in seven, ties it in one (seed 0 at the city step) and takes 0.3–0.4 s more in two (seed 2
    at the city step, seed 4 at 0.1 s), so one seed's order is not a property of the model
    (docs/evacuation.md)."""
    lay, exits = corner_layout()
    x, y = room_crowd(0.0, 0.0, 7.0, 2.0, n, np.random.default_rng(15))
    seeds = range(5)
    corner = np.mean([run(lay, agents_table(x, y), exits, dt_s=dt, seed=s).evacuation_time_s for s in seeds])
    times = []
    for length in (2 * 12.0 - 2 * 2.0, 2 * 12.0):  # along the inner and the outer walls
        straight, end = box(0.0, 0.0, length, 2.0), exits_table(("end", length, 1.0, 1.0))
        times.append(np.mean([run(straight, agents_table(x, y), end, dt_s=dt, seed=s).evacuation_time_s for s in seeds]))
    short, long_ = times
    assert short < corner < long_, (short, corner, long_)
