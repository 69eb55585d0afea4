"""Benchmark of ``twin convert``: buildings per second and peak memory with 1 and 2 workers.

Prints one JSON object. The sample city is generated once (``--data`` keeps it);
each conversion runs as its own ``twin convert`` process, and peak memory is the
largest summed RSS of that process and its children (the dask workers), sampled
every 50 ms with psutil. Each worker count runs with ``--lod max`` (LOD2 with textures
where the city has them, 9 % of the sample's buildings) and ``--lod 1`` (every building
as its LOD1 block: what the 1,500 buildings/s target is about).
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
TARGET_BUILDINGS_PER_S = 1500


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
    return {
        "workers": workers,
        "lod": lod,
        "buildings": buildings,
        "seconds": round(seconds, 2),
        "buildings_per_s": round(buildings / seconds, 1),
        "peak_rss_mb": round(peak[0], 1),
        "tiles": manifest["tiles"]["content_tiles"],
        "tiles_mb": round(sum(f.stat().st_size for f in out.rglob("*.glb")) / 2**20, 2),
        "output_mb": round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="folder to keep the generated sample city in (reused)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--lod", nargs="+", default=["max", "1"],
                        help="--lod of each run (the target is for LOD1 tiles: --lod 1)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    source = (args.data or work) / f"sample-{args.buildings}-{args.seed}"
    if not (source / "udx").exists():
        subprocess.run([TWIN, "sample-city", str(source), "--buildings", str(args.buildings),
                        "--seed", str(args.seed)], check=True, capture_output=True)
    runs = [run_convert(source, work / f"city-{w}-{lod}", w, lod) for lod in args.lod for w in args.workers]
    shutil.rmtree(work, ignore_errors=True)
    lod1 = [r["buildings_per_s"] for r in runs if r["lod"] == "1"]
    best = max(lod1 or [r["buildings_per_s"] for r in runs])
    print(json.dumps({
        "input": {"buildings": args.buildings, "seed": args.seed,
                  "source_mb": round(sum(f.stat().st_size for f in source.rglob("*") if f.is_file()) / 2**20, 1)},
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "runs": runs,
        "target": {"buildings_per_s": TARGET_BUILDINGS_PER_S, "lod": "1" if lod1 else "any",
                   "best": best, "met": best >= TARGET_BUILDINGS_PER_S},
    }, indent=2))


if __name__ == "__main__":
    main()
