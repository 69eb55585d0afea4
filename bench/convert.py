"""Benchmark of ``twin convert`` at two city sizes side by side: buildings per second and peak memory.

Prints one JSON object. Each sample city (``--buildings``, default 20,000 and 100,000) is
generated once (``--data`` keeps them); each conversion runs as its own ``twin convert`` process,
and peak memory is the largest summed RSS of that process and its children (the dask workers),
sampled every 50 ms with psutil. The machine's load average is recorded before and after each
run, beside its figures: on a shared machine they are only comparable at similar load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

TWIN = str(Path(sys.executable).with_name("twin"))
#: The issue's ceiling for the whole process tree, workers included.
MAX_PEAK_MB = 4096


def peak_tree_rss(process: psutil.Process, stop: threading.Event, result: list[float]) -> None:
    peak = 0
    while not stop.is_set():
        try:
            procs = [process, *process.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    result.append(peak / 2**20)


def run_convert(source: Path, out: Path, workers: int, lod: str) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()
    start = time.perf_counter()
    proc = subprocess.Popen([TWIN, "convert", str(source), "-o", str(out), "--workers", str(workers),
                             "--lod", lod, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop, peak = threading.Event(), []
    sampler = threading.Thread(target=peak_tree_rss, args=(psutil.Process(proc.pid), stop, peak))
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"twin convert failed: {stderr.strip()}")
    manifest = json.loads(stdout)
    buildings = manifest["counts"]["buildings"]
    grid = manifest["grid"]
    return {
        "workers": workers,
        "lod": lod,
        "buildings": buildings,
        "seconds": round(seconds, 1),
        "buildings_per_s": round(buildings / seconds, 1),
        "peak_tree_rss_mb": round(peak[0], 1),
        "peak_rss_mb_per_1000_buildings": round(peak[0] / buildings * 1000, 2),
        "grid": f"{grid['width']}x{grid['height']} at {grid['resolution']} m",
        "tiles": manifest["tiles"]["content_tiles"],
        "output_mb": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 1),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="folder to keep the generated sample cities in (reused)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lod", default="max", help="--lod of each run")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    runs = []
    for count in args.buildings:
        source = (args.data or work) / f"sample-{count}-{args.seed}"
        if not (source / "udx").exists():
            subprocess.run([TWIN, "sample-city", str(source), "--buildings", str(count), "--seed", str(args.seed)],
                           check=True, capture_output=True)
        run = run_convert(source, work / f"city-{count}", args.workers, args.lod)
        run["source_mb"] = round(sum(f.stat().st_size for f in source.rglob("*") if f.is_file()) / 2**20, 1)
        runs.append(run)
        shutil.rmtree(work / f"city-{count}", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    small, large = runs[0], runs[-1]
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "note": "shared with other sessions: see each run's load average"},
        "runs": runs,
        "scaling": {
            "buildings_ratio": round(large["buildings"] / small["buildings"], 2),
            "peak_memory_ratio": round(large["peak_tree_rss_mb"] / small["peak_tree_rss_mb"], 2),
            "peak_under_limit": all(r["peak_tree_rss_mb"] < MAX_PEAK_MB for r in runs),
            "limit_mb": MAX_PEAK_MB,
        },
    }, indent=2))


if __name__ == "__main__":
    main()
