"""Evacuation benchmark: agent-steps/s on a city-like grid, and RiMEA test 9 side by side
with JuPedSim (extra ``[peers]``).

Prints one JSON object. City runs: 10,000 and 100,000 agents on a 1,000 × 1,000 cell
(1 m) grid of street blocks and buildings, 12 shelters, pre-evacuation delays spread over
15 minutes, 1 s steps through one simulated hour. RiMEA 9: 1,000 persons in a 30 m × 20 m
room with four 1 m doors (and two), our model and JuPedSim's collision-free speed model
with the exit stage at the door opening itself; evacuation times, wall times and ratios.
Performance is reported, not asserted; ``targets`` says whether the goals were met here.

    python bench/evacuation.py              # full run
    python bench/evacuation.py --quick      # 2,000 agents, 300 s, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.evacuation import EvacuationConfig, simulate
from sim.evacuation.rimea import agents_table, rimea9, room_crowd


def city_grid(n: int = 1000, seed: int = 7) -> np.ndarray:
    """Walls of a city-like grid: blocks 40–90 m separated by 6–14 m streets, each block
    filled with buildings separated by 2–4 m alleys (True = building)."""
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
    rng = np.random.default_rng(seed)
    ny, nx = walls.shape
    free = np.flatnonzero(~walls)
    exits = []
    for k, (fy, fx) in enumerate([(a, b) for a in (0.15, 0.5, 0.85) for b in (0.1, 0.37, 0.63, 0.9)]):
        cells = free[np.argsort(np.hypot(free // nx - fy * ny, free % nx - fx * nx))[:1]]
        r, c = divmod(int(cells[0]), nx)
        exits.append((f"shelter{k + 1}", c + 0.5, -(r + 0.5), 8.0))
    pick = rng.choice(free, size=n_agents, replace=False)
    r, c = np.divmod(pick, nx)
    profile = rng.choice(["adult", "elderly", "needs_help"], size=n_agents, p=[0.68, 0.29, 0.03])
    agents = agents_table(c + rng.uniform(0.05, 0.95, n_agents), -(r + rng.uniform(0.05, 0.95, n_agents)),
                          profile=profile, start_s=rng.uniform(0.0, 900.0, n_agents))
    return agents, pd.DataFrame(exits, columns=["id", "x", "y", "radius_m"])


def bench_city(walls: np.ndarray, n_agents: int, duration: float) -> dict:
    agents, exits = city_inputs(walls, n_agents)
    cfg = EvacuationConfig(duration_s=duration, dt_s=1.0, trajectory_interval_s=60.0)
    res = simulate(walls, 1.0, (0.0, 0.0), agents, exits, config=cfg)
    return {
        "agents": n_agents, "grid": list(walls.shape), "dt_s": 1.0, "simulated_s": res.simulated_s,
        "arrived": res.arrived, "evacuation_time_s": round(res.evacuation_time_s, 1),
        "agent_steps": res.agent_steps, "wall_s": round(res.wall_s, 2),
        "agent_steps_per_s": round(res.agent_steps_per_s),
    }


def rimea9_ours(doors: int, seed: int = 1) -> dict:
    lay, exits = rimea9(doors)
    x, y = room_crowd(0.0, 0.0, 30.0, 20.0, 1000, np.random.default_rng(seed))
    speeds = np.random.default_rng(seed + 1).normal(1.34, 0.26, 1000).clip(0.58, 1.61)
    res = simulate(lay.walls, lay.cell_size, lay.origin, agents_table(x, y, speed_mps=speeds), exits,
                   config=EvacuationConfig(dt_s=0.1, duration_s=900.0, trajectory_interval_s=60.0))
    return {"evacuation_time_s": round(res.evacuation_time_s, 1), "arrived": res.arrived,
            "wall_s": round(res.wall_s, 2)}


def rimea9_jupedsim(doors: int, seed: int = 1) -> dict:
    """JuPedSim's collision-free speed model; each agent walks to its nearest open door."""
    import jupedsim as jps
    from shapely.geometry import box
    from shapely.ops import unary_union

    door_xy = [(4.5, 0.0), (25.5, 0.0), (4.5, 20.0), (25.5, 20.0)][:doors]
    openings = [box(x - 0.5, y - 0.25, x + 0.5, y) if y == 0.0 else box(x - 0.5, y, x + 0.5, y + 0.25)
                for x, y in door_xy]
    sim = jps.Simulation(model=jps.CollisionFreeSpeedModel(), geometry=unary_union([box(0, 0, 30, 20), *openings]),
                         dt=0.01)
    routes = []
    for opening in openings:
        stage = sim.add_exit_stage(opening)
        routes.append((sim.add_journey(jps.JourneyDescription([stage])), stage))
    x, y = room_crowd(0.0, 0.0, 30.0, 20.0, 1000, np.random.default_rng(seed))
    speeds = np.random.default_rng(seed + 1).normal(1.34, 0.26, 1000).clip(0.58, 1.61)
    for xi, yi, vi in zip(x, y, speeds):
        k = int(np.argmin([np.hypot(xi - dx, yi - dy) for dx, dy in door_xy]))
        sim.add_agent(jps.CollisionFreeSpeedModelAgentParameters(
            position=(float(xi), float(yi)), desired_speed=float(vi), journey_id=routes[k][0], stage_id=routes[k][1]))
    clock = time.perf_counter()
    while sim.agent_count() > 0 and sim.elapsed_time() < 900.0:
        sim.iterate()
    return {"evacuation_time_s": round(sim.elapsed_time(), 1), "arrived": 1000 - sim.agent_count(),
            "wall_s": round(time.perf_counter() - clock, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 agents for 300 s; RiMEA 9 as usual")
    args = ap.parse_args()
    walls = city_grid()
    city = []
    for n, duration in ([(2000, 300.0)] if args.quick else [(10_000, 3600.0), (100_000, 3600.0)]):
        city.append(bench_city(walls, n, duration))
        print(f"city {n}: {city[-1]}", file=sys.stderr, flush=True)
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))},
                 "city": city, "rimea9": {}}
    for doors in (4, 2):
        ours = rimea9_ours(doors)
        entry: dict = {"ours": ours}
        try:
            peer = rimea9_jupedsim(doors)
        except ImportError as exc:
            entry["jupedsim"] = {"skipped": f"jupedsim not importable ({exc})"}
        else:
            entry["jupedsim"] = peer
            if peer["arrived"] < 1000:
                entry["jupedsim"]["incomplete"] = "not everyone left within 900 s: no ratio"
            else:
                entry["evacuation_time_ratio"] = round(ours["evacuation_time_s"] / peer["evacuation_time_s"], 3)
                entry["wall_time_ratio"] = round(ours["wall_s"] / peer["wall_s"], 3)
        out["rimea9"][f"{doors}_doors"] = entry
        print(f"rimea9 {doors} doors: {entry}", file=sys.stderr, flush=True)
    big = next((c for c in city if c["agents"] == 100_000), None)
    four = out["rimea9"]["4_doors"]
    out["targets"] = {
        "100k_agents_1h_under_120s": None if big is None else big["wall_s"] < 120.0,
        "rimea9_within_30pct_of_jupedsim": (abs(four["evacuation_time_ratio"] - 1.0) <= 0.3
                                            if "evacuation_time_ratio" in four else None),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
