"""CityGML reader benchmark: our streaming reader side by side with plateaukit's parser.

Prints one JSON object: buildings/s, MB/s and peak RSS of ``citygml`` on the bldg files
of a sample city, the same files through plateaukit (extra ``[peers]``), the speed ratio,
and peak RSS while streaming one bldg file versus a copy of it four times as large.

Every measurement runs in a fresh subprocess (so ``ru_maxrss`` is that run's own peak),
pinned to one core with NUMBA/OMP/BLAS threads set to 1. Performance is reported, not
asserted: ``targets`` says whether the issue's goals were met on this machine.

    python bench/reader.py                   # --buildings 20000
    python bench/reader.py --quick           # 2000 buildings, for tests and a smoke run
    python bench/reader.py --data DIR        # reuse (or create once) inputs in DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_BUILDINGS_PER_S = 5000.0
TARGET_RATIO = 3.0
TARGET_MEMORY_GROWTH = 1.20
SINGLE_THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

MEMBER_OPEN = re.compile(rb"<(\w+:)?cityObjectMember[\s>]")
MEMBER_CLOSE = re.compile(rb"</(\w+:)?cityObjectMember>")
ID_REFERENCE = re.compile(rb'((?:gml:id|xlink:href|ring)="#?)([^"]+)"')
CLOSING = re.compile(rb"</(\w+:)?CityModel>\s*$")


# -- inputs -----------------------------------------------------------------------------


def make_city(out: Path, buildings: int, seed: int) -> str:
    """Write a sample city into ``out``; returns how it was made."""
    if (out / "udx" / "bldg").is_dir():
        return _recorded_source(out)
    from citygml.samplecity import generate

    generate(out, buildings=buildings, seed=seed)
    source = f"citygml.samplecity.generate(buildings={buildings}, seed={seed})"
    (out / "bench-source.txt").write_text(source)
    return source


def _recorded_source(out: Path) -> str:
    note = out / "bench-source.txt"
    return note.read_text() if note.is_file() else f"existing dataset {out}"


def _split_members(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """A CityGML file as (head, one bytes per cityObjectMember, tail)."""
    first = MEMBER_OPEN.search(data)
    if first is None:
        raise ValueError("no cityObjectMember")
    members, position = [], first.start()
    while (opening := MEMBER_OPEN.search(data, position)) and opening.start() == position:
        close = MEMBER_CLOSE.search(data, opening.end())
        if close is None:
            raise ValueError("unclosed cityObjectMember")
        members.append(data[position : close.end()])
        position = close.end()
        while data[position : position + 1].isspace():
            position += 1
    return data[: first.start()], members, data[position:]


def _renamed(member: bytes, copy: int) -> bytes:
    """The member with every gml:id and xlink:href made unique for copy number ``copy``."""
    if copy == 0:
        return member
    suffix = b"_x%d" % copy
    return ID_REFERENCE.sub(lambda m: m.group(1) + m.group(2) + suffix + b'"', member)


def make_large_copy(small: Path, out: Path, factor: int = 4) -> Path:
    """One bldg file ``factor`` times as large as ``small``: all its content repeated with unique ids.

    Features and appearances (textures point at rings by id) are both repeated, so
    everything that scales with the file scales by ``factor``. Written as
    ``out/udx/bldg/<same name>`` with the city's codelists beside it.
    """
    target = out / "udx" / "bldg" / small.name
    if target.is_file():
        return target
    head, members, tail = _split_members(small.read_bytes())
    closing = CLOSING.search(tail)
    appearances, closing_text = (tail[: closing.start()], tail[closing.start() :]) if closing else (tail, b"")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as stream:
        stream.write(head)
        for copy in range(factor):
            for member in members:
                stream.write(_renamed(member, copy))
                stream.write(b"\n\t")
        for copy in range(factor):
            stream.write(_renamed(appearances, copy))
        stream.write(closing_text)
    codelists = small.parents[2] / "codelists"
    if codelists.is_dir() and not (out / "codelists").exists():
        shutil.copytree(codelists, out / "codelists")
    return target


def bldg_files(city: Path) -> list[Path]:
    return sorted(p for p in (city / "udx" / "bldg").rglob("*.gml") if p.is_file())


# -- workers (each in its own process) ----------------------------------------------------


def _pin_one_core() -> int | None:
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return core
    except (AttributeError, OSError):
        return None


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _rss_now_mb() -> float:
    return _status_mb("VmRSS:") or float("nan")


def _peak_rss_mb() -> float:
    """This process's peak RSS.

    VmHWM belongs to the process's own address space; ``ru_maxrss`` can carry over the
    parent's peak through fork/exec, so it is only the fallback.
    """
    peak = _status_mb("VmHWM:")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _count_ours(paths: list[Path]) -> dict:
    from citygml import open_dataset

    buildings = features = polygons = 0
    for path in paths:
        with open_dataset(path) as dataset:
            for feature in dataset.features(types=["bldg"]):
                features += 1
                if feature.element == "Building":
                    buildings += 1
                    if buildings == 1:
                        polygons = sum(len(g.surfaces) for g in feature.geometries)
    return {"buildings": buildings, "features": features, "first_building_geometries": polygons}


def _plateaukit_codelists(gml: Path) -> dict:
    """Codelist file map as plateaukit's CityGMLReader builds it (relative to the .gml's folder)."""
    import io

    found = {}
    for folder in (gml.parent, *list(gml.parents)[:3]):
        codelists = folder / "codelists"
        if codelists.is_dir():
            for xml in sorted(codelists.glob("*.xml")):
                found[os.path.relpath(xml, gml.parent)] = io.BytesIO(xml.read_bytes())
            break
    return found


def _count_plateaukit(paths: list[Path]) -> dict:
    from plateaukit.readers.citygml.parsers import PLATEAUCityGMLParser

    buildings = features = polygons = 0
    for path in paths:
        # target_epsg=6697: same lat/lon/h output as ours, so no reprojection is timed.
        parser = PLATEAUCityGMLParser(target_epsg=6697, codelist_file_map=_plateaukit_codelists(path))
        with open(path, "rb") as stream:
            for obj in parser.iterparse(stream):
                features += 1
                if obj.type == "Building":
                    buildings += 1
                    if buildings == 1:
                        polygons = len(obj.geometry)
    return {"buildings": buildings, "features": features, "first_building_geometries": polygons}


def _count_lxml_floor(paths: list[Path]) -> dict:
    """lxml's iterparse alone, members cleared as they close: the ceiling for any lxml-based reader."""
    from lxml import etree

    buildings = features = 0
    building_tags = {"{http://www.opengis.net/citygml/building/2.0}Building", "{http://www.opengis.net/citygml/building/1.0}Building"}
    for path in paths:
        with open(path, "rb") as stream:
            for _, member in etree.iterparse(stream, events=("end",), tag=("{*}cityObjectMember",), resolve_entities=False, no_network=True):
                features += 1
                buildings += any(child.tag in building_tags for child in member)
                member.clear(keep_tail=False)
                while member.getprevious() is not None:
                    del member.getparent()[0]
    return {"buildings": buildings, "features": features, "first_building_geometries": None}


WORKERS = {"ours": _count_ours, "plateaukit": _count_plateaukit, "lxml-floor": _count_lxml_floor}


def worker(reader: str, paths: list[Path]) -> dict:
    """Parse ``paths`` with one reader; the result of this process alone."""
    core = _pin_one_core()
    count = WORKERS[reader]
    # Import outside the timed part: both readers pay their imports before the clock starts.
    if reader == "ours":
        import citygml  # noqa: F401
    elif reader == "plateaukit":
        import plateaukit.readers.citygml.parsers  # noqa: F401
    baseline = _rss_now_mb()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    counts = count(paths)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    size = sum(p.stat().st_size for p in paths)
    return {
        **counts,
        "files": len(paths),
        "bytes": size,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "buildings_per_s": round(counts["buildings"] / wall, 1) if wall else None,
        "buildings_per_cpu_s": round(counts["buildings"] / cpu, 1) if cpu else None,
        "mb_per_s": round(size / 1e6 / wall, 2) if wall else None,
        "rss_peak_mb": round(_peak_rss_mb(), 1),
        "rss_after_import_mb": round(baseline, 1),
        "pinned_core": core,
    }


def run_worker(reader: str, paths: list[Path], python: str = sys.executable) -> dict:
    env = {**os.environ, **SINGLE_THREAD_ENV, "PYTHONWARNINGS": "ignore"}
    command = [python, str(Path(__file__).resolve()), "--worker", reader, *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{reader} worker exited {done.returncode}: {tail}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def plateaukit_python() -> tuple[str | None, str]:
    """The interpreter that has plateaukit: ours, else the separate ``.venv-peers``."""
    candidates = [sys.executable, str(ROOT / ".venv-peers" / "bin" / "python")]
    for python in candidates:
        if not Path(python).exists():
            continue
        probe = subprocess.run(
            [python, "-c", "import importlib.metadata as m, plateaukit.readers.citygml.parsers; print(m.version('plateaukit'))"],
            capture_output=True, text=True,
        )
        if probe.returncode == 0:
            return python, probe.stdout.strip()
    return None, "plateaukit is not installed (pip install -e '.[peers]')"


# -- the run ----------------------------------------------------------------------------


def bench(args: argparse.Namespace) -> dict:
    buildings = args.buildings or (2000 if args.quick else 20000)
    workdir = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-reader-"))
    try:
        city = workdir / f"city-{buildings}-s{args.seed}"
        source = make_city(city, buildings, args.seed)
        files = bldg_files(city)
        small = max(files, key=lambda p: p.stat().st_size)
        large = make_large_copy(small, workdir / f"x4-{buildings}-s{args.seed}", 4)

        ours = run_worker("ours", files)
        floor = run_worker("lxml-floor", files)
        ours_small = run_worker("ours", [small])
        ours_large = run_worker("ours", [large])

        python, version = (None, "not requested (--no-peers)") if args.no_peers else plateaukit_python()
        if python is None:
            peer: dict = {"skipped": version}
        else:
            peer = run_worker("plateaukit", files, python)
            peer.update(
                version=version,
                interpreter="project venv" if python == sys.executable else python,
                timed=(
                    "plateaukit.readers.citygml.parsers.PLATEAUCityGMLParser(target_epsg=6697, "
                    "codelist_file_map=<codelists as CityGMLReader builds them>).iterparse(open(file, 'rb')), "
                    "exhausted per bldg file; yields IRCityObject/Building records with geometry and attributes"
                ),
            )
        if args.peer_memory and python is not None:
            peer["memory"] = _memory(run_worker("plateaukit", [small], python), run_worker("plateaukit", [large], python), small, large)
        return _report(buildings, source, files, ours, peer, floor, _memory(ours_small, ours_large, small, large), args)
    finally:
        if not args.data:
            shutil.rmtree(workdir, ignore_errors=True)


def _memory(small_run: dict, large_run: dict, small: Path, large: Path) -> dict:
    if "error" in small_run or "error" in large_run:
        return {"error": small_run.get("error") or large_run.get("error")}
    rss_small, rss_large = small_run["rss_peak_mb"], large_run["rss_peak_mb"]
    growth_small = rss_small - small_run["rss_after_import_mb"]
    growth_large = rss_large - large_run["rss_after_import_mb"]
    return {
        "file_small_mb": round(small.stat().st_size / 1e6, 1),
        "file_large_mb": round(large.stat().st_size / 1e6, 1),
        "buildings_small": small_run["buildings"],
        "buildings_large": large_run["buildings"],
        "rss_small_mb": rss_small,
        "rss_large_mb": rss_large,
        "ratio": round(rss_large / rss_small, 3),
        # Peak minus the RSS after imports: the part that parsing itself adds.
        "parse_growth_small_mb": round(growth_small, 1),
        "parse_growth_large_mb": round(growth_large, 1),
        "buildings_per_s_small": small_run["buildings_per_s"],
        "buildings_per_s_large": large_run["buildings_per_s"],
    }


def _report(buildings: int, source: str, files: list[Path], ours: dict, peer: dict, floor: dict, memory: dict, args) -> dict:
    speed_ok = "error" not in ours and ours["buildings_per_s"] >= TARGET_BUILDINGS_PER_S
    ratio = None
    if "error" not in ours and "buildings_per_s" in peer and peer["buildings_per_s"]:
        ratio = round(ours["buildings_per_s"] / peer["buildings_per_s"], 2)
    flat = memory.get("ratio")
    return {
        "bench": "reader",
        "input": {
            "buildings_requested": buildings,
            "source": source,
            "bldg_files": len(files),
            "bldg_bytes": sum(p.stat().st_size for p in files),
            "seed": args.seed,
        },
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "single_core": "sched_setaffinity to one core; NUMBA/OMP/OPENBLAS/MKL threads = 1",
            "note": "wall-clock figures; cpu_seconds show contention on a shared machine",
        },
        "ours": {**ours, "timed": "citygml.open_dataset(path).features(types=['bldg']), exhausted"},
        "plateaukit": peer,
        "ratio_speed": ratio,
        "lxml_floor": {
            **{k: floor.get(k) for k in ("buildings_per_s", "buildings_per_cpu_s", "mb_per_s", "error") if k in floor},
            "timed": "lxml.etree.iterparse(end, tag={*}cityObjectMember) with clear(): no record built",
        },
        "memory_flat": memory,
        "targets": {
            "buildings_per_s": {"target": TARGET_BUILDINGS_PER_S, "value": ours.get("buildings_per_s"), "met": speed_ok},
            "ratio_speed": {"target": TARGET_RATIO, "value": ratio, "met": ratio is not None and ratio >= TARGET_RATIO},
            "memory_flat": {"target": TARGET_MEMORY_GROWTH, "value": flat, "met": flat is not None and flat <= TARGET_MEMORY_GROWTH},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buildings", type=int, default=None, help="buildings in the sample city (default 20000; 2000 with --quick)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a small run (2000 buildings)")
    parser.add_argument("--data", help="folder to keep the generated inputs in (reused when present)")
    parser.add_argument("--no-peers", action="store_true", help="skip plateaukit")
    parser.add_argument("--peer-memory", action="store_true", help="also measure plateaukit's peak RSS on the 1x and 4x files")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, [Path(p) for p in args.paths])))
        return 0
    print(json.dumps(bench(args), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
