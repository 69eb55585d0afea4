"""Ensemble benchmark: 8 members on 1 and on 2 dask workers; prints one JSON object.

Figures: the ensemble's wall time on a LocalCluster of 1 and of 2 single-threaded worker processes
(the cluster started and every worker warmed by one short member beforehand, that start-up timed
apart) and the speed-up; each worker's peak
resident memory (``ru_maxrss`` of the worker process, asked from every worker after the run); the
wall time of each member against one single run of the same scenario in this process (warm: numba's
cache loaded by a run before). The machine is shared: every figure carries the 1-minute load average
before and after it.

Usage: python bench/ensemble.py --city CITY [--scenario river-breach] [--members 8] [--cell-size 8]
                                [--duration 1800] [--vary peak=0.5:1.5 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from twin.convert.runners import dask_runner
from twin.ensembles.design import parse_vary
from twin.ensembles.members import MemberTask, run_member
from twin.ensembles.run import EnsembleSpec, run_ensemble
from twin.flood.scenario import load_scenario


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _single(spec: EnsembleSpec, scratch: Path) -> dict:
    """One member with the scenario as written (multipliers 1), twice: the first warms numba's cache."""
    task = MemberTask(index=0, values={}, city=spec.city.resolve(), cell_size=spec.cell_size,
                      scenario=spec.scenario, folder=scratch / "single", scheme=spec.member_scheme())
    run_member(task)
    load = _load()
    start = time.perf_counter()
    outcome = run_member(replace(task, folder=scratch / "single2"))
    if outcome.error:
        raise SystemExit(f"the single run failed: {outcome.error}")
    return {"wall_s": round(time.perf_counter() - start, 2), "load_before": load, "load_after": _load()}


def _warm_up(spec: EnsembleSpec, folder: Path) -> MemberTask:
    return MemberTask(index=0, values={}, city=spec.city.resolve(), cell_size=32.0,
                      scenario=replace(spec.scenario, duration_s=60.0, output_interval_s=60.0), folder=folder,
                      scheme=spec.member_scheme())


def _ensemble(spec: EnsembleSpec, workers: int, out: Path) -> dict:
    from distributed import get_client

    load0 = _load()
    start = time.perf_counter()
    with dask_runner(workers, start_method="spawn") as runner:
        client = get_client()
        client.wait_for_workers(workers)
        # every worker loads numba's cached kernels once (a short coarse member) before the clock starts
        client.run(run_member, _warm_up(spec, out.parent / f"warm{workers}"))
        started = time.perf_counter() - start
        load = _load()
        walls: list[float] = []
        t0 = time.perf_counter()
        summary = run_ensemble(spec, out, runner, lambda outcome, done, total: walls.append(outcome.wall_s))
        wall = time.perf_counter() - t0
        peaks = client.run(_peak_rss_mb)
    return {"workers": workers, "wall_s": round(wall, 2), "cluster_start_s": round(started, 2),
            "members_used": summary["members_used"],
            "member_wall_s": [round(w, 2) for w in walls],
            "member_wall_mean_s": round(sum(walls) / len(walls), 2),
            "worker_peak_rss_mb": sorted(peaks.values()),
            "load_before_start": load0, "load_before": load, "load_after": _load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", type=Path, required=True)
    parser.add_argument("--scenario", default="river-breach")
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--cell-size", type=float, default=8.0)
    parser.add_argument("--duration", type=float, default=1800.0)
    parser.add_argument("--vary", action="append", default=None)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    scenario = replace(scenario, duration_s=args.duration, output_interval_s=args.duration)
    varied = tuple(parse_vary(v) for v in (args.vary or ["peak=0.5:1.5", "manning=0.5:2"]))
    spec = EnsembleSpec(city=args.city, scenario=scenario, varied=varied, members=args.members, seed=1,
                        cell_size=args.cell_size)
    scratch = Path(tempfile.mkdtemp(prefix="bench-ensemble-"))
    try:
        single = _single(spec, scratch)
        one = _ensemble(spec, 1, scratch / "one")
        two = _ensemble(spec, 2, scratch / "two")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "benchmark": "ensemble", "city": str(args.city), "scenario": args.scenario, "members": args.members,
        "cell_size_m": args.cell_size, "duration_s": args.duration, "varied": [v.__dict__ for v in varied],
        "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "single_run": single, "one_worker": one, "two_workers": two,
        "speed_up": round(one["wall_s"] / two["wall_s"], 3),
        "speed_up_target": 1.7,
        "member_vs_single": round(two["member_wall_mean_s"] / single["wall_s"], 3),
        "note": "shared machine: compare each figure with its load_before/load_after (1-minute load average)",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
