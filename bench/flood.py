"""Flood engine benchmark; prints one JSON object.

1. Throughput: cell-steps/s on a wet 2000 x 2000 grid, float32 and float64, 1 and 2 threads.
2. Peer: ANUGA (``pip install anuga``, the ``[peers]`` extra) and this engine on the same
   analytical problems (Ritter's dam break; Thacker's planar bowl at A = 2 m and 0.2 m;
   MacDonald's steady channel at two Froude numbers; a linear standing wave): same
   domain, same cell size (ANUGA: 4 triangles per cell), same physical time; wall time and
   error against the analytical solution for both, and their ratios.
3. Storm: 1 km² at 2 m (500 x 500 cells), a synthetic street-and-block DEM, 3 hours of rain.

Usage: python bench/flood.py [--quick] [--skip-throughput] [--skip-peer] [--skip-storm]
                             [--storm-threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.flood import (
    Boundaries,
    Boundary,
    FloodModel,
    Forcing,
    Inflow,
    Rain,
    Scheme,
    Series,
)
from sim.flood.analytic import (
    MACDONALD_BASE,
    macdonald_bed,
    macdonald_depth,
    ritter,
    thacker_omega,
    thacker_planar,
)


def throughput(n: int, steps: int) -> list[dict]:
    """Cell-steps per second on a wet n x n grid with rain, per precision and thread count."""
    y, x = np.mgrid[0:n, 0:n]
    dem = 0.5 * np.sin(x / 37.0) * np.cos(y / 23.0) + 0.001 * x
    rows = []
    for dtype in (np.float32, np.float64):
        for threads in (1, 2):
            if threads > numba.config.NUMBA_NUM_THREADS:
                continue
            model = FloodModel(dem, 2.0, initial_wse=1.5, manning=0.03,
                               forcing=Forcing(rain=Rain(Series.constant(20.0))),
                               scheme=Scheme(dtype=dtype, threads=threads))
            model.run(model._stable_dt() * 2)  # compile / warm the caches
            start_steps, start_wall = model.steps, model.wall_s
            model.run(model.time + steps * model._stable_dt() * 0.999)
            done = model.steps - start_steps
            wall = model.wall_s - start_wall
            rows.append({"precision": np.dtype(dtype).name, "threads": threads, "cells": n * n,
                         "steps": done, "wall_s": round(wall, 3),
                         "cell_steps_per_s": round(done * n * n / wall)})
    return rows


# -- the same analytical problems in both engines ---------------------------------------------

def _ritter_setup(dx: float) -> dict:
    return {"length": 2000.0, "width": 4 * dx, "x0": -1000.0, "h0": 2.0, "t_end": 60.0}


def _engine_ritter(dx: float) -> tuple[float, float, int]:
    p = _ritter_setup(dx)
    nx, ny = int(p["length"] / dx), int(p["width"] / dx)
    x = p["x0"] + (np.arange(nx) + 0.5) * dx
    depth = np.repeat(np.where(x < 0, p["h0"], 0.0)[None, :], ny, 0)
    model = FloodModel(np.zeros((ny, nx)), dx, initial_depth=depth, manning=0.0,
                       scheme=Scheme(dtype=np.float64, threads=1))
    result = model.run(p["t_end"])
    return result.wall_s, _ritter_error(x, result.depth.mean(axis=0), p), result.steps * nx * ny


def _ritter_error(x: np.ndarray, h: np.ndarray, p: dict) -> float:
    """L1 depth error over Ritter's disturbed zone, relative to the water there."""
    exact, _ = ritter(x, p["t_end"], p["h0"])
    c0 = np.sqrt(9.81 * p["h0"])
    zone = (x > -c0 * p["t_end"] - 25) & (x < 2 * c0 * p["t_end"])
    return float(np.abs(h - exact)[zone].sum() / exact[zone].sum())


def _engine_thacker(dx: float, amplitude: float) -> tuple[float, float, int]:
    nx, ny = int(30 / dx), 4
    x = -15.0 + (np.arange(nx) + 0.5) * dx
    bed, depth, _ = thacker_planar(x, 0.0, amplitude=amplitude)
    t_end = 2 * np.pi / thacker_omega()
    model = FloodModel(np.repeat(bed[None, :], ny, 0), dx, initial_depth=np.repeat(depth[None, :], ny, 0),
                       manning=0.0, scheme=Scheme(dtype=np.float64, threads=1))
    result = model.run(t_end)
    exact = thacker_planar(x, t_end, amplitude=amplitude)[1]
    return result.wall_s, float(np.abs(result.depth.mean(axis=0) - exact).mean()), result.steps * nx * ny


_MAC = {"length": 1000.0, "rows": 3, "manning": 0.033, "t_end": 3500.0}


def _engine_macdonald(dx: float, q0: float, base: float) -> tuple[float, float, int]:
    """SWASHES' MacDonald long channel (as in tests/sim/test_flood_macdonald.py), starting from a
    lake at the outlet's level; mean |h - h_exact| after ``t_end`` (steady by then)."""
    length, rows = _MAC["length"], _MAC["rows"]
    x = (np.arange(int(length / dx)) + 0.5) * dx
    bed = macdonald_bed(x, q0, base=base)
    outlet = float(macdonald_bed(length + dx / 2, q0, base=base)[0] + macdonald_depth(length + dx / 2, base=base))
    forcing = Forcing(inflows=(Inflow.line((0, 0), (rows - 1, 0), q0 * rows * dx),),
                      boundaries=Boundaries(east=Boundary.fixed_stage(outlet)))
    model = FloodModel(np.repeat(bed[None, :], rows, 0), dx, manning=_MAC["manning"], forcing=forcing,
                       initial_wse=outlet, scheme=Scheme(dtype=np.float64, threads=1))
    result = model.run(_MAC["t_end"])
    error = float(np.abs(result.depth.mean(axis=0) - macdonald_depth(x, base=base)).mean())
    return result.wall_s, error, result.steps * rows * len(x)


def _anuga_macdonald(anuga, dx: float, q0: float, base: float) -> tuple[float, float, int]:
    length, rows = _MAC["length"], _MAC["rows"]
    xs = np.linspace(0.0, length, 2001)
    bed = macdonald_bed(xs, q0, base=base)
    outlet = float(bed[-1] + macdonald_depth(length, base=base))
    domain = _anuga_domain(anuga, length, rows * dx, dx, 0.0)
    domain.set_quantity("elevation", lambda x, y: np.interp(x, xs, bed))
    domain.set_quantity("stage", lambda x, y: np.maximum(np.interp(x, xs, bed), outlet))
    domain.set_quantity("friction", _MAC["manning"])
    reflective = anuga.Reflective_boundary(domain)
    domain.set_boundary({"left": reflective, "top": reflective, "bottom": reflective,
                         "right": anuga.Transmissive_momentum_set_stage_boundary(domain, function=lambda t: outlet)})
    anuga.Inlet_operator(domain, [[0.0, 0.0], [0.0, rows * dx]], Q=q0 * rows * dx)
    wall, work = _anuga_evolve(domain, _MAC["t_end"])
    x, h = _anuga_depth(domain)
    return wall, float(np.abs(h - macdonald_depth(x, base=base)).mean()), work


_SEICHE = {"length": 1000.0, "depth": 10.0, "amplitude": 0.05, "periods": 3}


def _seiche(x: np.ndarray, t: float) -> np.ndarray:
    """Surface of the linear standing wave η = A cos(kx) cos(ωt), k = π/L, ω = k sqrt(g H), in a
    closed flat basin (a/H = 0.005, so the full equations depart from it by about (a/H)²)."""
    k = np.pi / _SEICHE["length"]
    omega = k * np.sqrt(9.81 * _SEICHE["depth"])
    return _SEICHE["depth"] + _SEICHE["amplitude"] * np.cos(k * x) * np.cos(omega * t)


def _seiche_end() -> float:
    return _SEICHE["periods"] * 2 * _SEICHE["length"] / np.sqrt(9.81 * _SEICHE["depth"])


def _engine_seiche(dx: float, theta: float) -> tuple[float, float, int]:
    x = (np.arange(int(_SEICHE["length"] / dx)) + 0.5) * dx
    model = FloodModel(np.zeros((3, len(x))), dx, initial_depth=np.repeat(_seiche(x, 0.0)[None, :], 3, 0),
                       manning=0.0, scheme=Scheme(dtype=np.float64, threads=1, theta=theta))
    result = model.run(_seiche_end())
    return result.wall_s, float(np.abs(result.depth.mean(axis=0) - _seiche(x, _seiche_end())).mean()), \
        result.steps * 3 * len(x)


def _anuga_seiche(anuga, dx: float) -> tuple[float, float, int]:
    domain = _anuga_domain(anuga, _SEICHE["length"], 3 * dx, dx, 0.0)
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("stage", lambda x, y: _seiche(x, 0.0))
    wall, work = _anuga_evolve(domain, _seiche_end())
    x, h = _anuga_depth(domain)
    return wall, float(np.abs(h - _seiche(x, _seiche_end())).mean()), work


def _anuga_domain(anuga, length: float, width: float, dx: float, x0: float, y0: float = 0.0):
    domain = anuga.rectangular_cross_domain(int(length / dx), int(width / dx), len1=length, len2=width,
                                            origin=(x0, y0))
    domain.set_name("bench")
    domain.set_store(False)
    domain.set_quantity("friction", 0.0)
    reflective = anuga.Reflective_boundary(domain)
    domain.set_boundary({"left": reflective, "right": reflective, "top": reflective, "bottom": reflective})
    return domain


def _anuga_depth(domain) -> tuple[np.ndarray, np.ndarray]:
    stage = domain.quantities["stage"].centroid_values
    bed = domain.quantities["elevation"].centroid_values
    return domain.centroid_coordinates[:, 0], stage - bed


def _anuga_evolve(domain, t_end: float) -> tuple[float, int]:
    start = time.perf_counter()
    steps = 0
    for _ in domain.evolve(yieldstep=t_end, finaltime=t_end):
        pass
    steps = int(domain.number_of_steps)
    return time.perf_counter() - start, steps * len(domain)


def _anuga_ritter(anuga, dx: float) -> tuple[float, float, int]:
    p = _ritter_setup(dx)
    domain = _anuga_domain(anuga, p["length"], p["width"], dx, p["x0"])
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("stage", lambda x, y: np.where(x < 0, p["h0"], 0.0))
    wall, work = _anuga_evolve(domain, p["t_end"])
    x, h = _anuga_depth(domain)
    return wall, _ritter_error(x, h, p), work


def _anuga_thacker(anuga, dx: float, amplitude: float) -> tuple[float, float, int]:
    domain = _anuga_domain(anuga, 30.0, 4 * dx, dx, -15.0)
    domain.set_quantity("elevation", lambda x, y: thacker_planar(x, 0.0, amplitude=amplitude)[0])
    domain.set_quantity("stage", lambda x, y: sum(thacker_planar(x, 0.0, amplitude=amplitude)[:2]))
    t_end = 2 * np.pi / thacker_omega()
    wall, work = _anuga_evolve(domain, t_end)
    x, h = _anuga_depth(domain)
    exact = thacker_planar(x, t_end, amplitude=amplitude)[1]
    return wall, float(np.abs(h - exact).mean()), work


def _refine(ours, dx: float, wall: float, error: float, target: float, anuga_wall: float) -> dict:
    """Halve the engine's cells (up to three times) until its error is within ``target``
    (twice ANUGA's): the time each engine needs for comparable accuracy, where reachable."""
    for _ in range(3):
        if error <= target:
            break
        dx /= 2
        ours(dx)
        wall, error, _ = ours(dx)
    return {"cell_size_m": dx, "error": error, "wall_s": round(wall, 4), "reached_2x_anuga": error <= target,
            "speedup_at_that_error": round(anuga_wall / wall, 1) if error <= target and wall > 0 else None}


def peer(quick: bool) -> dict:
    """ANUGA against this engine on the same problems, or why ANUGA was skipped."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # ANUGA prints an MPI notice on import
            import anuga
    except Exception as exc:
        return {"anuga": {"skipped": f"anuga not importable: {exc!r}"}}
    cases = {
        "ritter_dam_break": (5.0 if not quick else 10.0,
                             lambda dx: _engine_ritter(dx), lambda dx: _anuga_ritter(anuga, dx),
                             "L1 depth error / water in the disturbed zone, t = 60 s, h0 = 2 m"),
        "thacker_A2": (0.2 if not quick else 0.4,
                       lambda dx: _engine_thacker(dx, 2.0), lambda dx: _anuga_thacker(anuga, dx, 2.0),
                       "mean |h - h_exact| (m) after one period, D0 = 4 m, L = 10 m, A = 2 m"),
        "thacker_A0.2": (0.2 if not quick else 0.4,
                         lambda dx: _engine_thacker(dx, 0.2), lambda dx: _anuga_thacker(anuga, dx, 0.2),
                         "mean |h - h_exact| (m) after one period, A = 0.2 m (near-linear)"),
        "macdonald_subcritical": (10.0 if not quick else 25.0,
                                  lambda dx: _engine_macdonald(dx, 2.0, MACDONALD_BASE),
                                  lambda dx: _anuga_macdonald(anuga, dx, 2.0, MACDONALD_BASE),
                                  "mean |h - h_exact| (m), steady, SWASHES q = 2 m2/s, n = 0.033, Fr 0.54-0.99"),
        "macdonald_low_froude": (10.0 if not quick else 25.0,
                                 lambda dx: _engine_macdonald(dx, 0.5, 1.0),
                                 lambda dx: _anuga_macdonald(anuga, dx, 0.5, 1.0),
                                 "mean |h - h_exact| (m), steady, q = 0.5 m2/s, base depth 1 m, Fr 0.09-0.16"),
        "seiche_linear": (25.0, lambda dx: _engine_seiche(dx, 0.8), lambda dx: _anuga_seiche(anuga, dx),
                          "mean |h - h_exact| (m) after 3 periods, standing wave A = 5 cm on 10 m, engine theta 0.8"),
        "seiche_linear_theta1": (25.0, lambda dx: _engine_seiche(dx, 1.0), lambda dx: _anuga_seiche(anuga, dx),
                                 "the same with theta = 1 (Bates et al. 2010, no theta-diffusion)"),
    }
    out: dict = {"anuga_version": getattr(anuga, "__version__", "?"), "threads_each": 1}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # ANUGA may write side files
        try:
            for name, (dx, ours, theirs, error_kind) in cases.items():
                ours(dx)  # compile
                e_wall, e_err, e_work = ours(dx)
                a_wall, a_err, a_work = theirs(dx)
                out[name] = {
                    "cell_size_m": dx, "error": error_kind,
                    "engine": {"wall_s": round(e_wall, 4), "error": e_err, "cell_steps": e_work},
                    "anuga": {"wall_s": round(a_wall, 4), "error": a_err, "triangle_steps": a_work},
                    "speedup": round(a_wall / e_wall, 1),
                    "error_ratio_engine_over_anuga": round(e_err / a_err, 2) if a_err > 0 else None,
                    "engine_refined": _refine(ours, dx, e_wall, e_err, 2 * a_err, a_wall),
                }
        finally:
            os.chdir(cwd)
    return out


# -- a storm on a synthetic town ----------------------------------------------------------------

def town(n: int, cell: float = 2.0, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A street-and-block DEM (north high, 0.5 % slope), 10 m streets every 60 m with curbs,
    buildings on the blocks, a park depression and some roughness."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n] * cell
    dem = 20.0 - 0.005 * y + 0.3 * np.sin(x / 170.0) * np.cos(y / 230.0) + 0.02 * rng.random((n, n))
    street = ((x % 60) < 10) | ((y % 60) < 10)
    dem[street] -= 0.15
    dem -= 1.5 * np.exp(-(((x - 0.6 * n * cell) ** 2 + (y - 0.4 * n * cell) ** 2) / (2 * 60.0**2)))
    blocked = np.zeros((n, n))
    block = ~street & ((x % 60) > 14) & ((x % 60) < 56) & ((y % 60) > 14) & ((y % 60) < 56)
    lots = (((x // 14) + (y // 14)) % 3) != 0  # gaps between buildings within a block
    blocked[block & lots] = 1.0
    return dem, blocked


def storm(n: int, hours: float, threads: int) -> dict:
    """A 3-hour design storm (10-minute blocks, peak 90 mm/h after one hour) on ``town(n)``."""
    dem, blocked = town(n)
    blocks = np.arange(0, hours * 3600, 600.0)
    peak = hours * 3600 / 3
    intensity = np.maximum(90.0 * (1 - np.abs(blocks + 300 - peak) / (hours * 3600 - peak)), 2.0)
    forcing = Forcing(rain=Rain(Series(blocks, intensity, hold=True)),
                      boundaries=Boundaries(south=Boundary.open(), east=Boundary.open()))
    model = FloodModel(dem, 2.0, blocked=blocked, manning=np.where(blocked > 0, 0.03, 0.015), forcing=forcing,
                       scheme=Scheme(dtype=np.float32, threads=threads))
    result = model.run(hours * 3600, output_interval=600.0)
    return {"cells": n * n, "area_km2": n * n * 4 / 1e6, "simulated_s": hours * 3600,
            "rain_mm": float(intensity.sum() / 6), "steps": result.steps, "wall_s": round(result.wall_s, 2),
            "cell_steps_per_s": round(result.cell_steps_per_s), "max_depth_m": float(np.nanmax(result.max_depth)),
            "mass_error_rel": result.mass.error_rel, "threads": threads, "target_wall_s": 120}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench runs")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-storm", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--storm-threads", type=int, default=2)
    args = parser.parse_args()
    report: dict = {"machine": {"cpus": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
                                "load_avg_1min": os.getloadavg()[0]}}
    if not args.skip_throughput:
        report["throughput"] = throughput(300 if args.quick else 2000, 5 if args.quick else 20)
        report["target_cell_steps_per_s_2_threads"] = 50_000_000
    if not args.skip_peer:
        report["peer"] = peer(args.quick)
    if not args.skip_storm:
        report["storm_1km2_2m_3h"] = storm(100 if args.quick else 500, 0.25 if args.quick else 3.0,
                                           min(args.storm_threads, numba.config.NUMBA_NUM_THREADS))
    report["machine"]["load_avg_1min_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
