"""Evacuation benchmark: the engine beside JuPedSim on RiMEA tests, a 100,000-agent city grid
through one simulated hour, and a whole-city stand-in.

Prints one JSON object; every figure carries the machine's load average (1 min) read before
and after it, since the machine may be shared. Sections (each run in its own process, so that
its peak memory is its own):

* ``peers``: RiMEA 4 (flow–density in a 2 m corridor), 9 (1,000 persons, four doors and two)
  and 12 (bottlenecks), ours at 0.1 s and at the city step, JuPedSim 1.4's collision-free
  speed model (Tordeux, Chraibi & Seyfried 2016) at 0.01 s, with the same start positions,
  free speeds and exit assignment (each person to the nearest open door); evacuation times,
  flows, ratios ours / JuPedSim (target within ±20 %) and wall times; RiMEA 9's times also
  with the engine's seeds ``JOSTLE_SEEDS``, and the range of the ratios. On RiMEA 4 also
  JuPedSim's other speed models at their defaults (``JPS_MODELS``) and Weidmann's flow at the
  target density. Needs ``jupedsim`` (extra ``[peers]``); skipped with the reason otherwise.
* ``city``: 100,000 agents on a 1,000 × 1,000-cell (1 m) grid of blocks and buildings, 12
  shelters, start times over 15 minutes, through one simulated hour at the city step: the
  simulated time actually covered, the last arrival and the agent-steps done.
* ``large``: a whole city's stand-in: about 500,000 agents (one person each, night speeds,
  profile shares and delays as twin's city runs use), 150 shelters with capacities, a
  5,000 × 5,000-cell (2 m) grid, and a river breach spreading water (depth and flow speed
  known in advance) through one hour: wall time and peak memory (target < 15 min, < 8 GB).
* ``district``: a 1 km × 1 km district of that stand-in (5,000 people, 8 shelters that can
  fill, the breach) run as the city runs (2 m cells, 4 shelters listed per cell, the city's
  water and route intervals) and on a fine grid (1 m cells, every shelter's whole field, water
  every second, routes every minute): clearance curves, arrivals per shelter and stranded
  people (target: within 5 %).

    python bench/evacuation.py                        # everything
    python bench/evacuation.py --section city         # one section
    python bench/evacuation.py --quick                # small sizes, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.evacuation import (
    DEFAULT_PROFILES,
    MAX_DT_S,
    EvacuationConfig,
    Water,
    blend_frames,
    simulate,
    weidmann_flow,
)
from sim.evacuation.rimea import agents_table, box, carve, random_crowd, rimea9, room_crowd

SECTIONS = ("peers", "city", "district", "large")
JPS_DT = 0.01
#: Simulated seconds JuPedSim is given on RiMEA 9 (``--peer-until``; shorter on a busy machine:
#: its two-door run can take longer in wall time than it simulates).
PEER_UNTIL_S = 900.0


def load() -> float:
    return round(os.getloadavg()[0], 2)


def timed(fn, *args, **kwargs) -> dict:
    """``fn``'s result dict with the load average before and after it."""
    before = load()
    out = fn(*args, **kwargs)
    out["load_before_after"] = [before, load()]
    return out


def peak_rss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def cpu_s() -> float:
    """CPU seconds this process has used (all its threads): on a shared machine, the wall time
    of a run is this spread over the cores the others leave it."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


# --- peers: RiMEA 4, 9, 12 ----------------------------------------------------------------------

def corridor_crowd(density: float) -> tuple[np.ndarray, np.ndarray]:
    """RiMEA 4's start: the first 60 m of a 2 m × 120 m corridor at ``density`` (random, at
    least a body apart and 0.21 m off the walls, which JuPedSim requires of its 0.2 m agents;
    the densities of the comparison stay where random packing works)."""
    return random_crowd(0.0, 0.0, 60.0, 2.0, density, np.random.default_rng(3), margin=0.21)


def window_flow(times: np.ndarray, ids: np.ndarray, x: np.ndarray, every: float) -> tuple[float, float]:
    """Density and specific flow in x 20–40 m of the 2 m corridor over t 4–13.5 s."""
    tr = pd.DataFrame({"agent_id": ids, "t": times, "x": x}).sort_values(["agent_id", "t"])
    tr["dx"] = tr.groupby("agent_id")["x"].diff()
    win = tr[(tr["t"] >= 4.0) & (tr["t"] <= 13.5) & (tr["x"] >= 20.0) & (tr["x"] <= 40.0)]
    rho = win.groupby("t").size().mean() / 40.0
    return float(rho), float(rho * (win["dx"] / every).mean())


def rimea4_ours(density: float, dt: float) -> dict:
    x, y = corridor_crowd(density)
    lay = box(0.0, 0.0, 120.0, 2.0)
    every = max(0.5, dt)
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y, speed_mps=np.full(len(x), 1.34)),
                   pd.DataFrame([("E", 119.5, 1.0, 0.6)], columns=["id", "x", "y", "radius_m"]),
                   config=EvacuationConfig(dt_s=dt, duration_s=14.0, trajectory_interval_s=every))
    tr = res.trajectories
    rho, flow = window_flow(tr["t"].to_numpy(), tr["agent_id"].to_numpy(), tr["x"].to_numpy(), every)
    return {"density": round(rho, 3), "flow": round(flow, 3), "wall_s": round(res.wall_s, 2)}


#: JuPedSim 1.4's speed models compared on RiMEA 4, each at its defaults (its 0.2 m agents). The
#: force-based models and WarpDriver are left out: at their defaults in this corridor the social
#: force model pushed agents through the walls (a run error), the generalized centrifugal force
#: model hardly moved (0.04 persons/(m·s) at 2 m⁻²) and WarpDriver let agents overlap (flow
#: ρ·v₀ at every density), so none of those would be a fair figure for them.
JPS_MODELS = ("CollisionFreeSpeedModel", "CollisionFreeSpeedModelV2", "CollisionFreeSpeedModelV3",
              "AnticipationVelocityModel")


def jps_run(geometry, stages, positions, speeds, assignment, until: float, sample: float | None = None,
            model: str = JPS_MODELS[0]):
    """JuPedSim's ``model`` (a speed model of ``JPS_MODELS``) at its defaults; each agent to
    ``stages[assignment[i]]``. Returns (time, arrived, per-stage exit times, samples (t, id, x, y),
    wall s)."""
    import jupedsim as jps

    sim = jps.Simulation(model=getattr(jps, model)(), geometry=geometry, dt=JPS_DT)
    agent_parameters = getattr(jps, f"{model}AgentParameters")
    routes = []
    for polygon in stages:
        stage = sim.add_exit_stage(polygon)
        routes.append((sim.add_journey(jps.JourneyDescription([stage])), stage))
    ids = {}
    for k, ((px, py), v, e) in enumerate(zip(positions, speeds, assignment)):
        aid = sim.add_agent(agent_parameters(
            position=(float(px), float(py)), desired_speed=float(v), journey_id=routes[e][0], stage_id=routes[e][1]))
        ids[aid] = k
    where = {aid: e for aid, e in zip(ids, assignment)}
    out_times: list[list[float]] = [[] for _ in stages]
    samples = []
    present = set(ids)
    next_sample = 0.0
    clock = time.perf_counter()
    while sim.agent_count() > 0 and sim.elapsed_time() < until:
        if sample is not None and sim.elapsed_time() >= next_sample - 1e-9:
            t = sim.elapsed_time()
            samples += [(t, ids[a.id], a.position[0], a.position[1]) for a in sim.agents()]
            next_sample += sample
        sim.iterate()
        now = {a.id for a in sim.agents()}
        for gone in present - now:
            out_times[where[gone]].append(sim.elapsed_time())
        present = now
    return sim.elapsed_time(), len(ids) - sim.agent_count(), out_times, samples, time.perf_counter() - clock


def rimea4_jupedsim(density: float, model: str = JPS_MODELS[0]) -> dict:
    from shapely.geometry import box as sbox

    x, y = corridor_crowd(density)
    t, _, _, samples, wall = jps_run(sbox(0, 0, 120, 2), [sbox(119, 0, 120, 2)], list(zip(x, y)),
                                     np.full(len(x), 1.34), np.zeros(len(x), int), 14.0, sample=0.5,
                                     model=model)
    s = np.array(samples)
    rho, flow = window_flow(s[:, 0], s[:, 1], s[:, 2], 0.5)
    return {"density": round(rho, 3), "flow": round(flow, 3), "wall_s": round(wall, 2)}


def flow_of(times: list[float] | np.ndarray) -> float | None:
    """Persons per second between the 10 % and the 90 % of a door's (or exit's) departures."""
    t = np.sort(np.asarray(times, float))
    if len(t) < 20:
        return None
    a, b = int(0.1 * len(t)), int(0.9 * len(t))
    return round((b - a) / (t[b] - t[a]), 3) if t[b] > t[a] else None


def rimea9_start(seed: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = room_crowd(0.0, 0.0, 30.0, 20.0, 1000, np.random.default_rng(seed))
    return x, y, np.random.default_rng(seed + 1).normal(1.34, 0.26, 1000).clip(0.58, 1.61)


DOORS = [(4.5, 0.0), (25.5, 0.0), (4.5, 20.0), (25.5, 20.0)]


def nearest_door(x: np.ndarray, y: np.ndarray, doors: int) -> np.ndarray:
    d = np.hypot(x[:, None] - np.array([p[0] for p in DOORS[:doors]]), y[:, None] - np.array([p[1] for p in DOORS[:doors]]))
    return np.argmin(d, axis=1)


#: the engine's seeds (its jostling's random draws) RiMEA 9 also runs with, beside the default 0:
#: one run's time depends on how long its arches before the doors hold
JOSTLE_SEEDS = (1, 2, 3, 4)


def rimea9_ours(doors: int, dt: float, seed: int = 0) -> dict:
    lay, exits = rimea9(doors)
    x, y, v = rimea9_start()
    assign = exits["id"].to_numpy()[nearest_door(x, y, doors)]
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y, speed_mps=v, exit_id=assign), exits,
                   config=EvacuationConfig(dt_s=dt, duration_s=900.0, trajectory_interval_s=60.0, seed=seed))
    flows = {e: flow_of(res.arrival_s[(res.exit_id == e) & np.isfinite(res.arrival_s)]) for e in exits["id"]}
    return {"evacuation_time_s": round(res.evacuation_time_s, 1), "arrived": res.arrived,
            "door_flows_per_s": flows, "wall_s": round(res.wall_s, 2)}


def rimea9_jupedsim(doors: int) -> dict:
    from shapely.geometry import box as sbox
    from shapely.ops import unary_union

    openings = [sbox(x - 0.5, y - 0.25, x + 0.5, y) if y == 0.0 else sbox(x - 0.5, y, x + 0.5, y + 0.25)
                for x, y in DOORS[:doors]]
    x, y, v = rimea9_start()
    t, arrived, out, _, wall = jps_run(unary_union([sbox(0, 0, 30, 20), *openings]), openings, list(zip(x, y)), v,
                                       nearest_door(x, y, doors), PEER_UNTIL_S)
    entry = {"evacuation_time_s": round(t, 1), "arrived": arrived,
             "door_flows_per_s": {f"door{k + 1}": flow_of(o) for k, o in enumerate(out)}, "wall_s": round(wall, 2)}
    if arrived < 1000:
        entry["incomplete"] = f"{1000 - arrived} of 1000 still inside after {t:.0f} s simulated"
    return entry


def rimea12_start() -> tuple[np.ndarray, np.ndarray]:
    return room_crowd(0.0, 0.0, 10.0, 10.0, 150, np.random.default_rng(12))


def rimea12_ours(dt: float) -> dict:
    lay = box(0.0, 0.0, 25.0, 10.0)
    carve(lay, 10.0, 0.0, 15.0, 4.5, value=True)
    carve(lay, 10.0, 5.5, 15.0, 10.0, value=True)
    carve(lay, 25.0, 4.5, 25.25, 5.5)
    x, y = rimea12_start()
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y, speed_mps=np.full(150, 1.34)),
                   pd.DataFrame([("exit", 25.25, 5.0, 0.5)], columns=["id", "x", "y", "radius_m"]),
                   config=EvacuationConfig(dt_s=dt, duration_s=600.0, trajectory_interval_s=60.0))
    return {"evacuation_time_s": round(res.evacuation_time_s, 1), "arrived": res.arrived,
            "exit_flow_per_s": flow_of(res.arrival_s[np.isfinite(res.arrival_s)]), "wall_s": round(res.wall_s, 2)}


def rimea12_jupedsim() -> dict:
    from shapely.geometry import box as sbox
    from shapely.ops import unary_union

    opening = sbox(25.0, 4.5, 25.25, 5.5)
    geometry = unary_union([sbox(0, 0, 10, 10), sbox(10, 4.5, 15, 5.5), sbox(15, 0, 25, 10), opening])
    x, y = rimea12_start()
    t, arrived, out, _, wall = jps_run(geometry, [opening], list(zip(x, y)), np.full(150, 1.34), np.zeros(150, int),
                                       600.0)
    return {"evacuation_time_s": round(t, 1), "arrived": arrived, "exit_flow_per_s": flow_of(out[0]),
            "wall_s": round(wall, 2)}


def ratio(a, b) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def section_peers(quick: bool) -> dict:
    steps = {"0.1s": 0.1, "city_step": MAX_DT_S}
    try:
        import jupedsim  # noqa: F401
        peer = True
        skipped = None
    except ImportError as exc:
        peer, skipped = False, f"jupedsim not importable ({exc}); pip install -e '.[peers]'"
    out: dict = {"jupedsim": {"model": JPS_MODELS[0], "dt_s": JPS_DT, "rimea9_until_s": PEER_UNTIL_S}
                 if peer else {"skipped": skipped}}
    rows = []
    for density in ([1.0, 2.0] if quick else [0.5, 1.0, 1.5, 2.0, 2.5]):  # random packing fails at 3 (0.21 m off walls)
        row: dict = {"target_density": density,
                     "weidmann_flow": round(float(weidmann_flow(np.array([density]))[0]), 3)}
        for name, dt in steps.items():
            row[f"ours_{name}"] = timed(rimea4_ours, density, dt)
        if peer:
            row["jupedsim"] = timed(rimea4_jupedsim, density)
            for name in steps:
                row[f"flow_ratio_{name}"] = ratio(row[f"ours_{name}"]["flow"], row["jupedsim"]["flow"])
            row["jupedsim_other_models"] = {model: timed(rimea4_jupedsim, density, model)
                                            for model in JPS_MODELS[1:]}
        rows.append(row)
        print(f"rimea4 {density}: {row}", file=sys.stderr, flush=True)
    out["rimea4"] = rows
    out["rimea9"] = {}
    for doors in (4, 2):
        entry: dict = {name: timed(rimea9_ours, doors, dt) for name, dt in steps.items()}
        for name, dt in steps.items():
            entry[f"{name}_other_seeds_s"] = {seed: rimea9_ours(doors, dt, seed)["evacuation_time_s"]
                                              for seed in JOSTLE_SEEDS}
        if peer:
            jp = entry["jupedsim"] = timed(rimea9_jupedsim, doors)
            for name in steps:
                ours = entry[name]
                if "incomplete" not in jp:
                    entry[f"time_ratio_{name}"] = ratio(ours["evacuation_time_s"], jp["evacuation_time_s"])
                    times = [ours["evacuation_time_s"], *entry[f"{name}_other_seeds_s"].values()]
                    entry[f"time_ratio_range_all_seeds_{name}"] = [ratio(min(times), jp["evacuation_time_s"]),
                                                                   ratio(max(times), jp["evacuation_time_s"])]
                    entry[f"wall_ratio_{name}"] = ratio(ours["wall_s"], jp["wall_s"])
                entry[f"door_flow_ratios_{name}"] = {d: ratio(f, jp["door_flows_per_s"].get(d))
                                                     for d, f in ours["door_flows_per_s"].items()}
        out["rimea9"][f"{doors}_doors"] = entry
        print(f"rimea9 {doors}: {entry}", file=sys.stderr, flush=True)
    entry = {name: timed(rimea12_ours, dt) for name, dt in steps.items()}
    if peer:
        jp = entry["jupedsim"] = timed(rimea12_jupedsim)
        for name in steps:
            entry[f"time_ratio_{name}"] = ratio(entry[name]["evacuation_time_s"], jp["evacuation_time_s"])
            entry[f"flow_ratio_{name}"] = ratio(entry[name]["exit_flow_per_s"], jp["exit_flow_per_s"])
            entry[f"wall_ratio_{name}"] = ratio(entry[name]["wall_s"], jp["wall_s"])
    out["rimea12"] = entry
    return out


# --- the 100,000-agent city grid ----------------------------------------------------------------

def city_grid(n: int = 1000, seed: int = 7) -> np.ndarray:
    """Walls of a city-like grid: blocks 40–90 cells separated by 6–14-cell streets, each block
    filled with buildings separated by 2–4-cell alleys (True = building)."""
    rng = np.random.default_rng(seed)
    walls = np.zeros((n, n), dtype=bool)

    def cuts(length: int, lo: int, hi: int, gap_lo: int, gap_hi: int) -> list[tuple[int, int]]:
        spans, pos = [], int(rng.integers(gap_lo, gap_hi))
        while pos < length:
            size = int(rng.integers(lo, hi))
            spans.append((pos, min(pos + size, length)))
            pos += size + int(rng.integers(gap_lo, gap_hi))
        return spans

    for r0, r1 in cuts(n, 40, 90, 6, 14):
        for c0, c1 in cuts(n, 40, 90, 6, 14):
            for br0, br1 in cuts(r1 - r0, 8, 25, 2, 4):
                for bc0, bc1 in cuts(c1 - c0, 8, 25, 2, 4):
                    walls[r0 + br0:r0 + br1, c0 + bc0:c0 + bc1] = True
    return walls


def city_inputs(walls: np.ndarray, n_agents: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """12 shelters (radius 8 m) spread over a 1 m grid; agents on open cells, 68 % adults, 29 %
    elderly, 3 % needing help, starting uniformly over 15 minutes."""
    rng = np.random.default_rng(seed)
    ny, nx = walls.shape
    free = np.flatnonzero(~walls)
    exits = []
    for k, (fy, fx) in enumerate([(a, b) for a in (0.15, 0.5, 0.85) for b in (0.1, 0.37, 0.63, 0.9)]):
        cell = free[np.argmin(np.hypot(free // nx - fy * ny, free % nx - fx * nx))]
        r, c = divmod(int(cell), nx)
        exits.append((f"shelter{k + 1}", c + 0.5, -(r + 0.5), 8.0))
    pick = rng.choice(free, size=n_agents, replace=False)
    r, c = np.divmod(pick, nx)
    profile = rng.choice(["adult", "elderly", "needs_help"], size=n_agents, p=[0.68, 0.29, 0.03])
    agents = agents_table(c + rng.uniform(0.05, 0.95, n_agents), -(r + rng.uniform(0.05, 0.95, n_agents)),
                          profile=profile, start_s=rng.uniform(0.0, 900.0, n_agents))
    return agents, pd.DataFrame(exits, columns=["id", "x", "y", "radius_m"])


def city_run(n_agents: int, duration: float) -> dict:
    walls = city_grid()
    agents, exits = city_inputs(walls, n_agents)
    simulate(walls, 1.0, (0.0, 0.0), agents.iloc[:200], exits, config=EvacuationConfig(dt_s=MAX_DT_S, duration_s=5.0))
    cpu = cpu_s()
    res = simulate(walls, 1.0, (0.0, 0.0), agents, exits,
                   config=EvacuationConfig(duration_s=duration, dt_s=MAX_DT_S, trajectory_interval_s=60.0),
                   progress=report_every("city"))
    left = res.agents - res.arrived - res.stranded
    return {"agents": n_agents, "grid": list(walls.shape), "dt_s": MAX_DT_S, "duration_asked_s": duration,
            "simulated_s": res.simulated_s, "arrived": res.arrived, "stranded": res.stranded, "not_arrived": left,
            # the engine stops when nobody is left waiting or walking: the rest of the hour has nothing to move
            "hour_covered": res.simulated_s >= duration or left == 0,
            "last_arrival_s": round(res.evacuation_time_s, 1), "agent_steps": res.agent_steps,
            "wall_s": round(res.wall_s, 1), "cpu_s": round(cpu_s() - cpu, 1),
            "agent_steps_per_s": round(res.agent_steps_per_s),
            "peak_rss_gb": peak_rss_gb()}


def section_city(quick: bool) -> dict:
    n, duration = (2000, 300.0) if quick else (100_000, 3600.0)
    out = timed(city_run, n, duration)
    out["target_under_120_s"] = out["wall_s"] < 120.0 and out["hour_covered"] if not quick else None
    return out


# --- a whole city's stand-in ----------------------------------------------------------------------

class RiverBreach:
    """Water from a breach in a river along the west edge: the flooded band widens at 2 km/h
    and deepens towards the river (0.5 m at the front + 1 cm per 10 m back, at most 3 m),
    flowing at up to 2 m/s near the river and 0.2 m/s at the front; known in advance every
    5 minutes and read on the walking grid linearly between frames every 10 s of simulated
    time into whole new grids, as twin reads a flood result (``blend_frames``)."""

    def __init__(self, walls: np.ndarray, cell: float, start_s: float = 300.0):
        self.dist = (np.arange(walls.shape[1], dtype=np.float32) + 0.5) * np.float32(cell)  # from the west edge
        self.rows = walls.shape[0]
        self.start = start_s
        self.frames = np.arange(0.0, 3601.0, 300.0)
        self._key: float | None = None
        self._water: Water | None = None

    def _at(self, t: float) -> Water:
        """The water at frame time ``t`` (each column's values broadcast down its rows)."""
        front = max(t - self.start, 0.0) * (2000.0 / 3600.0)
        behind = np.maximum(front - self.dist, 0.0)
        depth = np.where(behind > 0, np.minimum(0.5 + behind / 1000.0, 3.0), 0.0).astype(np.float32)
        speed = np.where(behind > 0, np.clip(2.0 - 1.8 * self.dist / max(front, 1.0), 0.2, 2.0), 0.0).astype(np.float32)
        return Water(np.broadcast_to(depth, (self.rows, depth.size)), np.broadcast_to(speed, (self.rows, speed.size)))

    def __call__(self, t: float) -> Water:
        key = float(np.floor(t / 10.0) * 10.0)
        if key != self._key:
            k = int(np.searchsorted(self.frames, key, side="right")) - 1
            k = min(max(k, 0), len(self.frames) - 2)
            a, b = self._at(self.frames[k]), self._at(self.frames[k + 1])
            w = np.float32((key - self.frames[k]) / (self.frames[k + 1] - self.frames[k]))
            self._key = key
            self._water = Water(blend_frames(a.depth, b.depth, w), blend_frames(a.speed, b.speed, w))
        return self._water


def large_inputs(n: int, cell: float, n_agents: int, n_exits: int, seed: int = 11,
                 capacity: tuple[int, int] = (2000, 6000)):
    """A city of ``n`` × ``n`` cells of ``cell`` m, its people and its shelters (capacities drawn
    uniformly from ``capacity``)."""
    walls = city_grid(n, seed)
    rng = np.random.default_rng(seed)
    ny, nx = walls.shape
    free = np.flatnonzero(~walls)
    # people on the open cells next to buildings (their doors), one person per agent
    edge = np.zeros_like(walls)
    edge[1:-1, 1:-1] = ~walls[1:-1, 1:-1] & (walls[:-2, 1:-1] | walls[2:, 1:-1] | walls[1:-1, :-2] | walls[1:-1, 2:])
    doors = np.flatnonzero(edge)
    pick = doors[rng.integers(0, doors.size, n_agents)]
    r, c = np.divmod(pick, nx)
    shares = {"adult": 1 - 0.232 - 0.054, "elderly": 0.232, "needs_help": 0.054}  # twin.population's defaults
    profile = rng.choice(list(shares), size=n_agents, p=list(shares.values()))
    speed = np.empty(n_agents)
    for name in shares:  # night speeds: 0.8 × the profile's (as twin's city runs)
        sel = profile == name
        speed[sel] = 0.8 * DEFAULT_PROFILES[name].speed.sample(rng, int(sel.sum()))
    delay = np.clip(rng.normal(600.0, 300.0, n_agents), 0.0, 2400.0)  # night warning, mean 10 min
    agents = pd.DataFrame({"id": np.arange(n_agents), "x": (c + rng.uniform(0.2, 0.8, n_agents)) * cell,
                           "y": -(r + rng.uniform(0.2, 0.8, n_agents)) * cell, "profile": profile,
                           "speed_mps": speed, "start_s": delay})
    sites = free[rng.choice(free.size, n_exits, replace=False)]
    er, ec = np.divmod(sites, nx)
    exits = pd.DataFrame({"id": [f"shelter{k}" for k in range(n_exits)], "x": (ec + 0.5) * cell,
                          "y": -(er + 0.5) * cell, "radius_m": 10.0,
                          "capacity": rng.integers(*capacity, n_exits)})
    return walls, agents, exits


def report_every(label: str, every_s: float = 300.0):
    """A ``simulate`` progress callback that prints to stderr every ``every_s`` simulated
    seconds: the whole-city hour takes half an hour of wall time."""
    clock = time.perf_counter()
    due = every_s

    def progress(t: float, arrived: int, stranded: int) -> None:
        nonlocal due
        if t >= due:
            due += every_s
            print(f"{label}: t = {t:.0f} s, {arrived} arrived, {stranded} stranded, "
                  f"{time.perf_counter() - clock:.0f} s wall, load {load()}", file=sys.stderr, flush=True)
    return progress


def large_run(n: int, cell: float, n_agents: int, n_exits: int, duration: float) -> dict:
    clock = time.perf_counter()
    walls, agents, exits = large_inputs(n, cell, n_agents, n_exits)
    built = time.perf_counter() - clock
    water = RiverBreach(walls, cell)
    cpu = cpu_s()
    res = simulate(walls, cell, (0.0, 0.0), agents, exits, depth=water, forecast_times=water.frames,
                   config=EvacuationConfig.for_city(duration_s=duration, trajectory_interval_s=300.0),
                   progress=report_every("large"))
    return {"cells": int(walls.size), "cell_m": cell, "agents": n_agents, "exits": n_exits, "simulated_s": res.simulated_s,
            "arrived": res.arrived, "stranded": res.stranded, "redirected": int(res.redirected.sum()),
            "not_arrived": res.agents - res.arrived - res.stranded, "last_arrival_s": round(res.evacuation_time_s, 1),
            "agent_steps": res.agent_steps, "navigation_updates": res.navigation_updates,
            "inputs_built_s": round(built, 1), "wall_s": round(res.wall_s, 1), "cpu_s": round(cpu_s() - cpu, 1),
            "peak_rss_gb": peak_rss_gb(),
            "targets": {"wall_under_15_min": res.wall_s < 900.0, "memory_under_8_gb": peak_rss_gb() < 8.0}}


def outcome(res, duration: float, every_s: float = 60.0) -> dict:
    """What the district comparison compares: the clearance curve (share of everyone arrived by
    each minute of the ``duration`` asked, also after a run ended early), arrivals per shelter and
    the stranded."""
    arrived = np.isfinite(res.arrival_s)
    times = np.arange(0.0, duration + every_s / 2, every_s)
    curve = np.array([(res.arrival_s <= t).sum() for t in times]) / res.agents
    shelters, counts = np.unique(res.exit_id[arrived], return_counts=True)
    return {"curve": curve, "per_shelter": dict(zip(shelters.tolist(), counts.tolist())), "stranded": res.stranded,
            "arrived": res.arrived, "agents": res.agents}


def agreement(coarse: dict, fine: dict) -> dict:
    """How far the city settings' outcome lies from the fine grid's: the largest gap between the
    clearance curves (share of everyone), the share of arrivals at another shelter (half the sum
    of the per-shelter differences, over everyone) and the stranded (relative)."""
    gap = float(np.max(np.abs(coarse["curve"] - fine["curve"])))
    names = set(coarse["per_shelter"]) | set(fine["per_shelter"])
    moved = 0.5 * sum(abs(coarse["per_shelter"].get(k, 0) - fine["per_shelter"].get(k, 0)) for k in names)
    stranded = abs(coarse["stranded"] - fine["stranded"]) / max(fine["stranded"], 1)
    return {"clearance_max_gap": round(gap, 4), "arrivals_elsewhere": round(moved / fine["agents"], 4),
            "stranded_rel_diff": round(stranded, 4),
            "within_5_percent": bool(gap <= 0.05 and moved / fine["agents"] <= 0.05 and stranded <= 0.05)}


def district_run(n: int, n_agents: int, n_exits: int, duration: float, seed: int) -> dict:
    """A district of the whole-city stand-in (its generator, density, night people and breach)
    run twice: as the city runs it (2 m cells, each cell listing its 4 nearest shelters,
    ``EvacuationConfig.for_city``'s water and route intervals) and on a fine grid (1 m cells,
    every shelter's whole field, water read every second and routes refreshed every minute),
    both at the city step."""
    walls, agents, exits = large_inputs(n, 2.0, n_agents, n_exits, seed=seed,
                                        capacity=(n_agents // n_exits // 2, 2 * n_agents // n_exits))
    fine_walls = np.repeat(np.repeat(walls, 2, axis=0), 2, axis=1)
    runs = {}
    for name, grid, cell, config in (
            ("city", walls, 2.0, EvacuationConfig.for_city(duration_s=duration, trajectory_interval_s=300.0)),
            ("fine", fine_walls, 1.0, EvacuationConfig(dt_s=MAX_DT_S, duration_s=duration, trajectory_interval_s=300.0,
                                                       candidate_exits=n_exits))):
        water = RiverBreach(grid, cell)
        cpu = cpu_s()
        res = simulate(grid, cell, (0.0, 0.0), agents, exits, depth=water, forecast_times=water.frames, config=config,
                       progress=report_every(f"district {seed} {name}"))
        runs[name] = outcome(res, duration) | {"cells": int(grid.size), "cell_m": cell, "wall_s": round(res.wall_s, 1),
                                     "cpu_s": round(cpu_s() - cpu, 1), "navigation_updates": res.navigation_updates}
    result = {"seed": seed, "agreement": agreement(runs["city"], runs["fine"])}
    for name, run in runs.items():
        run["curve"] = [round(float(v), 4) for v in run.pop("curve")[::5]]  # every 5 minutes
        result[name] = run
    return result


def section_district(quick: bool) -> dict:
    n, agents, exits, duration = (250, 1250, 4, 900.0) if quick else (500, 5000, 8, 3600.0)
    runs = [timed(district_run, n, agents, exits, duration, seed) for seed in ((5,) if quick else (5, 6, 7))]
    worst = {key: max(r["agreement"][key] for r in runs)
             for key in ("clearance_max_gap", "arrivals_elsewhere", "stranded_rel_diff")}
    return {"agents": agents, "exits": exits, "district_km": n * 2.0 / 1000.0, "dt_s": MAX_DT_S, "worst": worst,
            "all_within_5_percent": all(r["agreement"]["within_5_percent"] for r in runs), "runs": runs}


def section_large(quick: bool) -> dict:
    if quick:
        return timed(large_run, 1000, 2.0, 20_000, 30, 600.0)
    return timed(large_run, 5000, 2.0, 500_000, 150, 3600.0)


def run_section(name: str, quick: bool) -> dict:
    """A section in its own process (its own peak memory), its JSON read back."""
    cmd = [sys.executable, __file__, "--section", name, "--child", "--peer-until", str(PEER_UNTIL_S)] + (
        ["--quick"] if quick else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        return {"failed": f"exit status {done.returncode}", "stderr_tail": done.stderr[-2000:]}
    return json.loads(done.stdout)


def main() -> None:
    global PEER_UNTIL_S
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--section", choices=SECTIONS, action="append", help="run only these sections")
    ap.add_argument("--peer-until", type=float, default=PEER_UNTIL_S,
                    help="simulated seconds JuPedSim is given on RiMEA 9 (default 900)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    PEER_UNTIL_S = args.peer_until
    sections = args.section or list(SECTIONS)
    if args.child:
        (name,) = sections
        print(json.dumps({"peers": section_peers, "city": section_city, "district": section_district,
                          "large": section_large}[name](args.quick)))
        return
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                             "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
                             "load_at_start": load()}}
    for name in sections:
        out[name] = run_section(name, args.quick)
        print(f"{name}: {json.dumps(out[name])}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
