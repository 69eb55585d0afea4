"""Benchmark of ``citygml.samplecity.generate``: time and peak memory by city size.

Prints one JSON object. Each size runs in a fresh Python process (so one size's memory
does not carry into the next); peak memory is that process's maximum resident set size
as the kernel reports it when it ends (``os.wait4``). The load average before and after
each run is printed beside it: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys
from citygml.samplecity import generate
city = generate(sys.argv[1], buildings=int(sys.argv[2]), seed=int(sys.argv[3]), textures=sys.argv[4] == "1")
print(json.dumps({"files": len(city.files), "bytes": city.bytes_written, "counts": city.counts,
                  "scale": city.plan.site.scale, "shelters": len(city.plan.shelters),
                  "shelter_places": sum(s.capacity for s in city.plan.shelters),
                  "generate_seconds": round(city.seconds, 2)}))
"""


def run(out: Path, buildings: int, seed: int, textures: bool) -> dict:
    load_before = os.getloadavg()
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:  # files: a full pipe would block
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), str(buildings), str(seed), "1" if textures else "0"],
                                 stdout=stdout, stderr=stderr, cwd=Path(__file__).resolve().parents[1])
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"generate({buildings}) failed:\n{stderr.read().decode(errors='replace')}")
        result = json.loads(stdout.read())
    return {
        "buildings": buildings,
        "seconds": round(seconds, 2),
        "buildings_per_s": round(buildings / seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kB
        "output_mb": round(result.pop("bytes") / 2**20, 1),
        **result,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, nargs="+", default=[20_000, 100_000, 120_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-textures", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-samplecity-"))
    try:
        runs = [run(work / f"city-{n}", n, args.seed, not args.no_textures) for n in args.buildings]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"machine": {"cpus": os.cpu_count()}, "seed": args.seed, "textures": not args.no_textures,
                      "runs": runs}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
