"""Nowcast benchmark: cycles of a City under ``twin sensors simulate``'s storm; prints one JSON object.

A server app on a fresh data folder linking the City (a converted ``twin sample-city``; the
demo city is 10,000 buildings), the simulated gauges posting 5-minute readings, a nowcast with
rain from the rain gauge and the river gauge's stage on the west side, then ``--cycles``
cycles ``--cycle-min`` minutes apart from ``--first-h`` hours into the storm: wall time per
cycle (cold, then warm), its CPU time (all threads) and the load average beside each. The
machine is shared: on a loaded machine the CPU time says more than the wall time.

Usage: python bench/nowcast.py CITY_FOLDER [--cell-size 8] [--horizon-h 3] [--cycles 2]
                               [--scheme auto] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient

from twin.city.grids import load_grids
from twin.nowcast.service import NowcastService
from twin.sensors.simulate import Feed
from twin.server import Settings, create_app

STORM = datetime(2026, 7, 1, 0, 0, tzinfo=UTC)


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _cpu_s() -> float:
    """CPU time of this process so far (user + system, all threads), s."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("city", type=Path)
    parser.add_argument("--cell-size", type=float, default=8.0)
    parser.add_argument("--horizon-h", type=float, default=3.0)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--cycle-min", type=float, default=10.0)
    parser.add_argument("--first-h", type=float, default=2.5)
    parser.add_argument("--scheme", default="auto")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    city = args.city.resolve()
    home = Path(tempfile.mkdtemp(prefix="nowcast-bench-"))
    (home / city.name).symlink_to(city, target_is_directory=True)
    app = create_app(Settings(data_dir=home))
    sensor = TestClient(app, headers={"Authorization": f"Bearer {app.state.keys.create('gauges', 'sensor')}"})
    feed = Feed("", "", city.name, client=sensor)
    feed.install()
    ids = {d.kind: d.datastream for d in feed.gauges}
    first = STORM + timedelta(hours=args.first_h)
    last = first + timedelta(minutes=args.cycle_min * (args.cycles - 1))
    moment = STORM
    while moment <= last:
        feed.live(STORM, moment)
        moment += timedelta(minutes=5)
    t0 = time.perf_counter()
    grids = load_grids(city, args.cell_size)
    west = grids.terrain.data[:, 0][grids.blocked[:, 0] < 1]
    service = NowcastService(home, app.state.store)
    service.configure(city.name, {
        "rain_gauges": [ids["rain"]], "cycle_s": args.cycle_min * 60, "horizon_s": args.horizon_h * 3600,
        "cell_size_m": args.cell_size, "scheme": args.scheme,
        "river_gauges": [{"datastream": ids["river"], "side": "west", "datum_m": float(west.min()) - 2.0}]})
    context_load = load()
    begin = time.perf_counter()
    service.context(service.config(city.name))
    out: dict = {"city": city.name, "grid": list(grids.terrain.shape), "cell_size_m": args.cell_size,
                 "buildings": len(grids.buildings), "horizon_h": args.horizon_h, "cpus": os.cpu_count(),
                 "load_grids_s": round(begin - t0, 2),
                 "context_s": round(time.perf_counter() - begin, 2), "context_load": context_load, "cycles": []}
    profiler = cProfile.Profile() if args.profile else None
    for k in range(args.cycles):
        issue = first + timedelta(minutes=args.cycle_min * k)
        before = load()
        cpu = _cpu_s()
        if profiler:
            profiler.enable()
        forecast = service.run(city.name, issue)
        if profiler:
            profiler.disable()
        out["cycles"].append({"issued": forecast["issued"], "start": forecast["start"], "scheme": forecast["scheme"],
                              "wall_s": forecast["wall_s"], "cpu_s": round(_cpu_s() - cpu, 1),
                              "load_before": before, "load_after": load(),
                              "buildings_wet": forecast["buildings"]["wet"],
                              "alerted_buildings": forecast["alerts"]["buildings"],
                              "mass_error_rel": forecast["mass_error_rel"]})
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue(), file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
