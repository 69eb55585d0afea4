"""Flood engine benchmark: both schemes, side by side with ANUGA and with today's engine; prints
one JSON object.

1. Throughput: cell-steps/s on a wet 2000 x 2000 grid, both schemes, float32 and float64, 1 and
   2 threads.
2. Peer: ANUGA (``pip install anuga``, the ``[peers]`` extra) and both schemes on the same
   analytical problems (Ritter's and Stoker's dam breaks; Thacker's planar bowl at A = 2 m and
   0.2 m; MacDonald's steady channel at two Froude numbers; SWASHES' flows over a bump,
   subcritical and with a hydraulic jump; a linear standing wave): same domain, same cell size
   (ANUGA: 4 triangles per cell), same physical time, one thread each, every engine warmed up;
   wall time and error against the analytical solution, and their ratios. Discharges enter
   across the upstream edge here and through an inlet operator in ANUGA (it has no such edge).
   Then ``misses``: where the full scheme's two misses (Thacker's bowl, the jump) come from.
3. Storm: 1 km² at 2 m (500 x 500 cells), a synthetic street-and-block DEM, 3 hours of rain:
   today's engine, the inertial scheme and the full scheme.
4. Dry ground: a 150 m³/s hydrograph down a valley of a 2 x 2 km grid at 2 m (10 % of it ever
   wet), today's engine against both schemes with and without skipping dry blocks.

"Today's engine" is ``sim/`` at ``--baseline-ref`` (the commit before the full scheme and
skipping), unpacked with ``git archive`` and run in a subprocess of this same run. The machine is
shared, so every figure carries the 1-minute load average before and after it, and the cases
their process CPU time (``cpu_s``) beside the wall time.

5. With ``--city``: the sample city's ``river-breach`` scenario (3 h at 4 m by default), today's
   engine against both schemes (auto picks the full one for it).

Usage: python bench/flood.py [--quick] [--skip-throughput] [--skip-peer] [--skip-storm] [--skip-dry]
                             [--threads N] [--baseline-ref REF] [--city CITY [--breach-cell-size M]
                             [--breach-hours H]] [--schemes LABEL,...]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE_REF = "7144bb2"  # main before issue 16: the local inertial scheme alone, every cell every step
# the baseline subprocess imports sim/ from the unpacked commit, this one from the working tree
sys.path.insert(0, sys.argv[sys.argv.index("--sim-root") + 1] if "--sim-root" in sys.argv else str(REPO))

import numba
import numpy as np

from sim.flood import Boundaries, Boundary, FloodModel, Forcing, Inflow, Rain, Scheme, Series


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _scheme(kind: str | None, **settings) -> Scheme:
    """Settings for one of this engine's schemes, or (kind None) for the baseline engine, which
    has a single scheme and no ``kind``."""
    return Scheme(**settings) if kind is None else Scheme(kind=kind, **settings)


# -- 1. throughput -----------------------------------------------------------------------------

def throughput(n: int, steps: int) -> list[dict]:
    """Cell-steps per second on a wet n x n grid with rain, per scheme, precision and thread count."""
    y, x = np.mgrid[0:n, 0:n]
    dem = 0.5 * np.sin(x / 37.0) * np.cos(y / 23.0) + 0.001 * x
    rows = []
    for kind in ("inertial", "full"):
        for dtype in (np.float32, np.float64):
            for threads in (1, 2):
                if threads > numba.config.NUMBA_NUM_THREADS:
                    continue
                model = FloodModel(dem, 2.0, initial_wse=1.5, manning=0.03,
                                   forcing=Forcing(rain=Rain(Series.constant(20.0))),
                                   scheme=Scheme(kind=kind, dtype=dtype, threads=threads))
                model.run(model._stable_dt() * 2)  # compile / warm the caches
                start_steps, start_wall, before = model.steps, model.wall_s, _load()
                model.run(model.time + steps * model._stable_dt() * 0.999)
                done = model.steps - start_steps
                wall = model.wall_s - start_wall
                rows.append({"scheme": kind, "precision": np.dtype(dtype).name, "threads": threads, "cells": n * n,
                             "steps": done, "wall_s": round(wall, 3), "cell_steps_per_s": round(done * n * n / wall),
                             "load_before": before, "load_after": _load()})
    return rows


# -- 2. the same analytical problems in both engines ---------------------------------------------

def _engine_run(model: FloodModel, t_end: float) -> tuple[float, np.ndarray]:
    result = model.run(t_end)
    return result.wall_s, result.depth.mean(axis=0)


def _ritter_setup(dx: float) -> dict:
    return {"length": 2000.0, "width": 4 * dx, "x0": -1000.0, "h0": 2.0, "t_end": 60.0}


def _ritter_error(x: np.ndarray, h: np.ndarray, p: dict) -> float:
    """L1 depth error over Ritter's disturbed zone, relative to the water there."""
    from sim.flood.analytic import ritter

    exact, _ = ritter(x, p["t_end"], p["h0"])
    c0 = np.sqrt(9.81 * p["h0"])
    zone = (x > -c0 * p["t_end"] - 25) & (x < 2 * c0 * p["t_end"])
    return float(np.abs(h - exact)[zone].sum() / exact[zone].sum())


def _engine_ritter(kind: str, dx: float) -> tuple[float, float]:
    p = _ritter_setup(dx)
    nx, ny = int(p["length"] / dx), int(p["width"] / dx)
    x = p["x0"] + (np.arange(nx) + 0.5) * dx
    depth = np.repeat(np.where(x < 0, p["h0"], 0.0)[None, :], ny, 0)
    model = FloodModel(np.zeros((ny, nx)), dx, initial_depth=depth, manning=0.0,
                       scheme=Scheme(kind=kind, dtype=np.float64, threads=1))
    wall, h = _engine_run(model, p["t_end"])
    return wall, _ritter_error(x, h, p)


def _anuga_ritter(anuga, dx: float) -> tuple[float, float]:
    p = _ritter_setup(dx)
    domain = _anuga_domain(anuga, p["length"], p["width"], dx, p["x0"])
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("stage", lambda x, y: np.where(x < 0, p["h0"], 0.0))
    wall = _anuga_evolve(domain, p["t_end"])
    x, h = _anuga_depth(domain)
    return wall, _ritter_error(x, h, p)


_STOKER = {"length": 2000.0, "x0": -1000.0, "h_left": 2.0, "h_right": 0.5, "t_end": 60.0}


def _stoker_error(x: np.ndarray, h: np.ndarray) -> float:
    """Mean |h - h_exact| (m) over the disturbed zone, from the rarefaction's head to 25 m past the shock."""
    from sim.flood.analytic import stoker, stoker_shock_speed

    p = _STOKER
    exact, _ = stoker(x, p["t_end"], p["h_left"], p["h_right"])
    zone = (x > -np.sqrt(9.81 * p["h_left"]) * p["t_end"] - 25) & (
        x < stoker_shock_speed(p["h_left"], p["h_right"]) * p["t_end"] + 25)
    return float(np.abs(h - exact)[zone].mean())


def _engine_stoker(kind: str, dx: float) -> tuple[float, float]:
    p = _STOKER
    nx = int(p["length"] / dx)
    x = p["x0"] + (np.arange(nx) + 0.5) * dx
    depth = np.repeat(np.where(x < 0, p["h_left"], p["h_right"])[None, :], 4, 0)
    model = FloodModel(np.zeros((4, nx)), dx, initial_depth=depth, manning=0.0,
                       scheme=Scheme(kind=kind, dtype=np.float64, threads=1))
    wall, h = _engine_run(model, p["t_end"])
    return wall, _stoker_error(x, h)


def _anuga_stoker(anuga, dx: float) -> tuple[float, float]:
    p = _STOKER
    domain = _anuga_domain(anuga, p["length"], 4 * dx, dx, p["x0"])
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("stage", lambda x, y: np.where(x < 0, p["h_left"], p["h_right"]))
    wall = _anuga_evolve(domain, p["t_end"])
    x, h = _anuga_depth(domain)
    return wall, _stoker_error(x, h)


def _engine_thacker(kind: str, dx: float, amplitude: float) -> tuple[float, float]:
    from sim.flood.analytic import thacker_omega, thacker_planar

    wall, x, h = _engine_thacker_depth(kind, dx, amplitude)
    return wall, float(np.abs(h - thacker_planar(x, 2 * np.pi / thacker_omega(), amplitude=amplitude)[1]).mean())


def _engine_thacker_depth(kind: str, dx: float, amplitude: float,
                          bed_dx: float | None = None) -> tuple[float, np.ndarray, np.ndarray]:
    """Wall time, cell centres and depths after one period of Thacker's bowl on cells of ``dx``;
    with ``bed_dx`` (a multiple of ``dx``) the bed is the one cells of that size would have (the
    bowl's elevation at their centres: stairs), the water the exact lens over it."""
    from sim.flood.analytic import thacker_omega, thacker_planar

    nx, ny = int(round(30 / dx)), 4
    x = -15.0 + (np.arange(nx) + 0.5) * dx
    bed, depth, _ = thacker_planar(x, 0.0, amplitude=amplitude)
    if bed_dx is not None:
        surface = bed + depth
        bed = thacker_planar(-15.0 + (np.floor((x + 15.0) / bed_dx) + 0.5) * bed_dx, 0.0, amplitude=amplitude)[0]
        depth = np.where(depth > 0, np.maximum(surface - bed, 0.0), 0.0)
    t_end = 2 * np.pi / thacker_omega()
    model = FloodModel(np.repeat(bed[None, :], ny, 0), dx, initial_depth=np.repeat(depth[None, :], ny, 0),
                       manning=0.0, scheme=Scheme(kind=kind, dtype=np.float64, threads=1))
    wall, h = _engine_run(model, t_end)
    return wall, x, h


def _anuga_thacker(anuga, dx: float, amplitude: float) -> tuple[float, float]:
    from sim.flood.analytic import thacker_omega, thacker_planar

    wall, x, h = _anuga_thacker_depth(anuga, dx, amplitude)
    return wall, float(np.abs(h - thacker_planar(x, 2 * np.pi / thacker_omega(), amplitude=amplitude)[1]).mean())


def _anuga_thacker_depth(anuga, dx: float, amplitude: float,
                         cell_bed: bool = False) -> tuple[float, np.ndarray, np.ndarray]:
    """Wall time, triangle centroids and depths after one period of Thacker's bowl in ANUGA: the
    bed and surface at the triangles' vertices, or (``cell_bed``) constant over each cell, its
    centre's values, as this engine's raster holds them."""
    from sim.flood.analytic import thacker_omega, thacker_planar

    domain = _anuga_domain(anuga, 30.0, 4 * dx, dx, -15.0)
    if cell_bed:
        centres = -15.0 + (np.floor((domain.centroid_coordinates[:, 0] + 15.0) / dx) + 0.5) * dx
        bed, depth, _ = thacker_planar(centres, 0.0, amplitude=amplitude)
        domain.set_quantity("elevation", np.repeat(bed[:, None], 3, 1), location="vertices")
        domain.set_quantity("stage", np.repeat((bed + depth)[:, None], 3, 1), location="vertices")
    else:
        domain.set_quantity("elevation", lambda x, y: thacker_planar(x, 0.0, amplitude=amplitude)[0])
        domain.set_quantity("stage", lambda x, y: sum(thacker_planar(x, 0.0, amplitude=amplitude)[:2]))
    t_end = 2 * np.pi / thacker_omega()
    wall = _anuga_evolve(domain, t_end)
    return (wall, *_anuga_depth(domain))


_MAC = {"length": 1000.0, "rows": 3, "manning": 0.033, "t_end": 3500.0}


def _engine_macdonald(kind: str, dx: float, q0: float, base: float) -> tuple[float, float]:
    """SWASHES' MacDonald long channel (as in tests/sim/test_flood_full_steady.py), fed across its
    upstream edge (a discharge boundary), starting from a lake at the outlet's level; mean
    |h - h_exact| after ``t_end`` (steady by then)."""
    from sim.flood.analytic import macdonald_bed, macdonald_depth

    length, rows = _MAC["length"], _MAC["rows"]
    x = (np.arange(int(length / dx)) + 0.5) * dx
    bed = macdonald_bed(x, q0, base=base)
    at = length if kind == "full" else length + dx / 2  # where each scheme holds a stage (docs/flood.md)
    outlet = float(macdonald_bed(at, q0, base=base)[0] + macdonald_depth(at, base=base))
    forcing = Forcing(boundaries=Boundaries(west=Boundary.inflow(q0 * rows * dx), east=Boundary.fixed_stage(outlet)))
    model = FloodModel(np.repeat(bed[None, :], rows, 0), dx, manning=_MAC["manning"], forcing=forcing,
                       initial_wse=outlet, scheme=Scheme(kind=kind, dtype=np.float64, threads=1))
    wall, h = _engine_run(model, _MAC["t_end"])
    return wall, float(np.abs(h - macdonald_depth(x, base=base)).mean())


def _anuga_macdonald(anuga, dx: float, q0: float, base: float) -> tuple[float, float]:
    from sim.flood.analytic import macdonald_bed, macdonald_depth

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
    wall = _anuga_evolve(domain, _MAC["t_end"])
    x, h = _anuga_depth(domain)
    return wall, float(np.abs(h - macdonald_depth(x, base=base)).mean())


_BUMP = {"rows": 3}


def _bump_start(x: np.ndarray, h_out: float | None) -> np.ndarray:
    """The still water both engines start from: the downstream level, or (free outflow) a deep
    pool upstream of the crest and a thin film beyond it."""
    from sim.flood.analytic import bump_bed

    z = bump_bed(x)
    return np.maximum(np.full_like(x, h_out) if h_out else np.where(x < 10, 1.0, z + 0.05), z)


def _engine_bump(kind: str, dx: float, q: float, h_out: float | None, t_end: float) -> tuple[float, float]:
    """SWASHES' flow over a bump (as in tests/sim/test_flood_full_steady.py), fed across its
    upstream edge; mean |h - h_exact| over the whole channel after ``t_end`` (steady by then)."""
    from sim.flood.analytic import bump_depth

    wall, x, h = _engine_bump_depth(kind, dx, q, h_out, t_end)
    return wall, float(np.abs(h - bump_depth(x, q, h_out)).mean())


def _engine_bump_depth(kind: str, dx: float, q: float, h_out: float | None,
                       t_end: float) -> tuple[float, np.ndarray, np.ndarray]:
    """Wall time, cell centres and depths of ``_engine_bump``'s run."""
    from sim.flood.analytic import BUMP_LENGTH, bump_bed

    rows = _BUMP["rows"]
    x = (np.arange(int(round(BUMP_LENGTH / dx))) + 0.5) * dx
    east = Boundary.fixed_stage(h_out) if h_out else Boundary.open()
    forcing = Forcing(boundaries=Boundaries(west=Boundary.inflow(q * rows * dx), east=east))
    model = FloodModel(np.repeat(bump_bed(x)[None], rows, 0), dx, manning=0.0, forcing=forcing,
                       initial_wse=np.repeat(_bump_start(x, h_out)[None], rows, 0),
                       scheme=Scheme(kind=kind, dtype=np.float64, threads=1))
    wall, h = _engine_run(model, t_end)
    return wall, x, h


def _anuga_bump(anuga, dx: float, q: float, h_out: float | None, t_end: float) -> tuple[float, float]:
    from sim.flood.analytic import bump_depth

    wall, domain = _anuga_bump_domain(anuga, dx, q, h_out, t_end)
    x, h = _anuga_depth(domain)
    return wall, float(np.abs(h - bump_depth(x, q, h_out)).mean())


def _anuga_bump_domain(anuga, dx: float, q: float, h_out: float | None, t_end: float):
    """Wall time and the evolved domain of ``_anuga_bump``'s run."""
    from sim.flood.analytic import BUMP_LENGTH, bump_bed

    rows = _BUMP["rows"]
    domain = _anuga_domain(anuga, BUMP_LENGTH, rows * dx, dx, 0.0)
    domain.set_quantity("elevation", lambda x, y: bump_bed(x))
    domain.set_quantity("stage", lambda x, y: _bump_start(x, h_out))
    reflective = anuga.Reflective_boundary(domain)
    outlet = (anuga.Transmissive_momentum_set_stage_boundary(domain, function=lambda t: h_out) if h_out
              else anuga.Transmissive_boundary(domain))
    domain.set_boundary({"left": reflective, "top": reflective, "bottom": reflective, "right": outlet})
    anuga.Inlet_operator(domain, [[0.0, 0.0], [0.0, rows * dx]], Q=q * rows * dx)
    return _anuga_evolve(domain, t_end), domain


_SEICHE = {"length": 1000.0, "depth": 10.0, "amplitude": 0.05, "periods": 3}


def _seiche(x: np.ndarray, t: float) -> np.ndarray:
    """Surface of the linear standing wave η = A cos(kx) cos(ωt), k = π/L, ω = k sqrt(g H), in a
    closed flat basin (a/H = 0.005, so the full equations depart from it by about (a/H)²)."""
    k = np.pi / _SEICHE["length"]
    omega = k * np.sqrt(9.81 * _SEICHE["depth"])
    return _SEICHE["depth"] + _SEICHE["amplitude"] * np.cos(k * x) * np.cos(omega * t)


def _seiche_end() -> float:
    return _SEICHE["periods"] * 2 * _SEICHE["length"] / np.sqrt(9.81 * _SEICHE["depth"])


def _engine_seiche(kind: str, dx: float, theta: float = 0.8) -> tuple[float, float]:
    x = (np.arange(int(_SEICHE["length"] / dx)) + 0.5) * dx
    model = FloodModel(np.zeros((3, len(x))), dx, initial_depth=np.repeat(_seiche(x, 0.0)[None, :], 3, 0),
                       manning=0.0, scheme=Scheme(kind=kind, dtype=np.float64, threads=1, theta=theta))
    wall, h = _engine_run(model, _seiche_end())
    return wall, float(np.abs(h - _seiche(x, _seiche_end())).mean())


def _anuga_seiche(anuga, dx: float) -> tuple[float, float]:
    domain = _anuga_domain(anuga, _SEICHE["length"], 3 * dx, dx, 0.0)
    domain.set_quantity("elevation", 0.0)
    domain.set_quantity("stage", lambda x, y: _seiche(x, 0.0))
    wall = _anuga_evolve(domain, _seiche_end())
    x, h = _anuga_depth(domain)
    return wall, float(np.abs(h - _seiche(x, _seiche_end())).mean())


def _anuga_domain(anuga, length: float, width: float, dx: float, x0: float, y0: float = 0.0):
    domain = anuga.rectangular_cross_domain(int(round(length / dx)), int(round(width / dx)), len1=length, len2=width,
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


def _anuga_evolve(domain, t_end: float) -> float:
    start = time.perf_counter()
    for _ in domain.evolve(yieldstep=t_end, finaltime=t_end):
        pass
    return time.perf_counter() - start


def _problems(anuga, quick: bool) -> dict:
    """name: (cell size, engine(kind, dx), ANUGA(dx), what the error is)."""
    coarse = 2 if quick else 1
    return {
        "ritter_dam_break": (5.0 * coarse, _engine_ritter, lambda dx: _anuga_ritter(anuga, dx),
                             "L1 depth error / water in the disturbed zone, t = 60 s, h0 = 2 m"),
        "stoker_dam_break": (5.0 * coarse, _engine_stoker, lambda dx: _anuga_stoker(anuga, dx),
                             "mean |h - h_exact| (m) over the disturbed zone, 2 m onto 0.5 m, t = 60 s"),
        "thacker_A2": (0.2 * coarse, lambda k, dx: _engine_thacker(k, dx, 2.0), lambda dx: _anuga_thacker(anuga, dx, 2.0),
                       "mean |h - h_exact| (m) after one period, D0 = 4 m, L = 10 m, A = 2 m"),
        "thacker_A0.2": (0.2 * coarse, lambda k, dx: _engine_thacker(k, dx, 0.2),
                         lambda dx: _anuga_thacker(anuga, dx, 0.2),
                         "mean |h - h_exact| (m) after one period, A = 0.2 m (near-linear)"),
        "macdonald_subcritical": (10.0 * coarse, lambda k, dx: _engine_macdonald(k, dx, 2.0, (4 / 9.81) ** (1 / 3)),
                                  lambda dx: _anuga_macdonald(anuga, dx, 2.0, (4 / 9.81) ** (1 / 3)),
                                  "mean |h - h_exact| (m), steady, SWASHES q = 2 m2/s, n = 0.033, Fr 0.54-0.99"),
        "macdonald_low_froude": (10.0 * coarse, lambda k, dx: _engine_macdonald(k, dx, 0.5, 1.0),
                                 lambda dx: _anuga_macdonald(anuga, dx, 0.5, 1.0),
                                 "mean |h - h_exact| (m), steady, q = 0.5 m2/s, base depth 1 m, Fr 0.09-0.16"),
        "bump_subcritical": (0.25 * coarse, lambda k, dx: _engine_bump(k, dx, 4.42, 2.0, 300.0),
                             lambda dx: _anuga_bump(anuga, dx, 4.42, 2.0, 300.0),
                             "mean |h - h_exact| (m), steady, SWASHES bump q = 4.42 m2/s, h_out = 2 m, 300 s"),
        "bump_hydraulic_jump": (0.25 * coarse, lambda k, dx: _engine_bump(k, dx, 0.18, 0.33, 300.0),
                                lambda dx: _anuga_bump(anuga, dx, 0.18, 0.33, 300.0),
                                "mean |h - h_exact| (m), steady, SWASHES bump q = 0.18 m2/s, h_out = 0.33 m, 300 s"),
        "seiche_linear": (25.0, _engine_seiche, lambda dx: _anuga_seiche(anuga, dx),
                          "mean |h - h_exact| (m) after 3 periods, standing wave A = 5 cm on 10 m (inertial θ = 0.8)"),
    }


def _cell_averages(f, x: np.ndarray, dx: float, n: int = 400) -> np.ndarray:
    """Averages of f(x) over the cells of width ``dx`` centred on ``x`` (n points each)."""
    xs = x[:, None] + ((np.arange(n) + 0.5) / n - 0.5) * dx
    return f(xs.ravel()).reshape(xs.shape).mean(axis=1)


def _triangle_averages(domain, f, n: int = 40) -> np.ndarray:
    """Averages of f(x) over an ANUGA domain's triangles (the centroids of a regular split of
    each into n² small triangles, n(n+1)/2 of them upright, which carry the mean of a linear f)."""
    v = domain.get_vertex_coordinates().reshape(-1, 3, 2)[:, :, 0]
    i, j = np.meshgrid(np.arange(n), np.arange(n))
    upright = i + j < n
    a, b = (i[upright] + 1 / 3) / n, (j[upright] + 1 / 3) / n
    xs = v[:, :1] + a * (v[:, 1:2] - v[:, :1]) + b * (v[:, 2:] - v[:, :1])
    return f(xs.ravel()).reshape(xs.shape).mean(axis=1)


def _thacker_per_cell(x: np.ndarray, h: np.ndarray, amplitude: float, dx: float) -> float:
    """Mean error after one period of Thacker's bowl per cell of ``dx``: the mean depth of the
    finer cells or triangles centred in it against the exact depth at its centre."""
    from sim.flood.analytic import thacker_omega, thacker_planar

    n = int(round(30 / dx))
    cell = np.floor((x + 15.0) / dx).astype(int)
    mean = np.bincount(cell, h, n) / np.bincount(cell, minlength=n)
    exact = thacker_planar(-15.0 + (np.arange(n) + 0.5) * dx, 2 * np.pi / thacker_omega(), amplitude=amplitude)[1]
    return float(np.abs(mean - exact).mean())


def misses(anuga) -> dict:
    """Where the full scheme's two misses come from (docs/flood.md). Thacker's bowl: ANUGA with
    the bed it is given in the peer table (the bowl at its vertices: a continuous surface) and
    with the raster's (one elevation per cell, the centre's: stairs), and this engine on the
    stairs at a half and a quarter of the cell size and on the bowl at half of it; errors per
    0.2 m cell, the mean depth over its finer cells or triangles against the exact depth at its
    centre (on stairs, the depth at a finer cell's centre measures the stair, not the water).
    The jump: each engine's mean error against the exact depth at its cells' or triangles'
    centres (the peer table) and against the exact average over them (what a finite-volume
    value stands for)."""
    from sim.flood.analytic import bump_depth

    out: dict = {}
    dx = 0.2
    for a in (2.0, 0.2):
        out[f"thacker_A{a:g}"] = {
            "anuga_vertex_bed": _thacker_per_cell(*_anuga_thacker_depth(anuga, dx, a)[1:], a, dx),
            "anuga_cell_bed": _thacker_per_cell(*_anuga_thacker_depth(anuga, dx, a, cell_bed=True)[1:], a, dx),
            "full_cell_bed": _thacker_per_cell(*_engine_thacker_depth("full", dx, a)[1:], a, dx),
            "full_dx_0.1_on_the_cell_bed": _thacker_per_cell(*_engine_thacker_depth("full", dx / 2, a, dx)[1:], a, dx),
            "full_dx_0.05_on_the_cell_bed": _thacker_per_cell(*_engine_thacker_depth("full", dx / 4, a, dx)[1:], a, dx),
            "full_dx_0.1_on_the_bowl": _thacker_per_cell(*_engine_thacker_depth("full", dx / 2, a)[1:], a, dx)}
    dx, q, h_out = 0.25, 0.18, 0.33

    def depth(x: np.ndarray) -> np.ndarray:
        return bump_depth(x, q, h_out)

    _, domain = _anuga_bump_domain(anuga, dx, q, h_out, 300.0)
    x, h = _anuga_depth(domain)
    _, xf, hf = _engine_bump_depth("full", dx, q, h_out, 300.0)
    out["bump_hydraulic_jump"] = {
        "anuga": {"at_centres": float(np.abs(h - depth(x)).mean()),
                  "over_triangles": float(np.abs(h - _triangle_averages(domain, depth)).mean())},
        "full": {"at_centres": float(np.abs(hf - depth(xf)).mean()),
                 "over_cells": float(np.abs(hf - _cell_averages(depth, xf, dx)).mean())}}
    return out


def peer(quick: bool) -> dict:
    """ANUGA against both schemes on the same problems, or why ANUGA was skipped."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # ANUGA prints an MPI notice on import
            import anuga
    except Exception as exc:
        return {"anuga": {"skipped": f"anuga not importable: {exc!r}"}}
    out: dict = {"anuga_version": getattr(anuga, "__version__", "?"), "threads_each": 1,
                 "inflows": "MacDonald and bumps: this engine takes the discharge across the upstream edge "
                            "(a discharge boundary, as SWASHES poses them); ANUGA, which has no such boundary, "
                            "through an Inlet_operator on the first column"}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # ANUGA may write side files
        try:
            for name, (dx, ours, theirs, error_kind) in _problems(anuga, quick).items():
                before = _load()
                row: dict = {"cell_size_m": dx, "error": error_kind}
                with contextlib.redirect_stdout(sys.stderr):
                    theirs(dx if quick else dx * 4)  # warm ANUGA's caches on a coarse copy
                    a_wall, a_err = theirs(dx)
                row["anuga"] = {"wall_s": round(a_wall, 4), "error": a_err}
                for kind in ("full", "inertial"):
                    ours(kind, dx)  # compile / warm
                    wall, err = ours(kind, dx)
                    row[kind] = {"wall_s": round(wall, 4), "error": err, "speedup": round(a_wall / wall, 1),
                                 "error_ratio_over_anuga": round(err / a_err, 3) if a_err > 0 else None}
                row["load_before"], row["load_after"] = before, _load()
                out[name] = row
            with contextlib.redirect_stdout(sys.stderr):
                out["misses"] = misses(anuga)
        finally:
            os.chdir(cwd)
    return out


# -- 3. a storm on a synthetic town, 4. a hydrograph down a valley: today's engine against this one ---

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


def storm(kind: str | None, n: int, hours: float, threads: int) -> dict:
    """A design storm (10-minute blocks, peak 90 mm/h after a third of it) on ``town(n)``."""
    dem, blocked = town(n)
    blocks = np.arange(0, hours * 3600, 600.0)
    peak = hours * 3600 / 3
    intensity = np.maximum(90.0 * (1 - np.abs(blocks + 300 - peak) / (hours * 3600 - peak)), 2.0)
    forcing = Forcing(rain=Rain(Series(blocks, intensity, hold=True)),
                      boundaries=Boundaries(south=Boundary.open(), east=Boundary.open()))
    model = FloodModel(dem, 2.0, blocked=blocked, manning=np.where(blocked > 0, 0.03, 0.015), forcing=forcing,
                       scheme=_scheme(kind, dtype=np.float32, threads=threads))
    before, cpu = _load(), time.process_time()
    result = model.run(hours * 3600, output_interval=600.0)
    return {"cells": n * n, "area_km2": n * n * 4 / 1e6, "simulated_s": hours * 3600,
            "rain_mm": float(intensity.sum() / 6), "steps": result.steps, "wall_s": round(result.wall_s, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "cell_steps_per_s": round(result.cell_steps_per_s), "max_depth_m": float(np.nanmax(result.max_depth)),
            "mass_error_rel": result.mass.error_rel, "threads": threads, "load_before": before, "load_after": _load()}


def valley(kind: str | None, n: int, hours: float, threads: int, skip: bool = True) -> dict:
    """A 150 m³/s hydrograph (1 h, 2.25 million m³ over its plateau) poured into the head of a
    valley sloping 0.4 % south with 1 % sides and a depression, on n x n cells of 2 m; the
    south side open. About 10 % of the grid is ever wetter than 1 cm."""
    cell = 2.0
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:n, 0:n] * cell
    centre = 0.7 * n * cell
    dem = 20 - 0.004 * y + 0.01 * np.abs(x - centre) + 0.2 * np.sin(x / 90) * np.cos(y / 130) + 0.02 * rng.random((n, n))
    dem -= np.exp(-(((x - centre) ** 2 + (y - 0.75 * n * cell) ** 2) / (2 * 120.0**2)))
    c = int(centre / cell)
    hydrograph = Series([0, 600, 2400, 3600], [0, 150, 150, 0])
    forcing = Forcing(inflows=(Inflow.line((2, c - 5), (2, c + 5), hydrograph, name="breach"),),
                      boundaries=Boundaries(south=Boundary.open()))
    settings = {"dtype": np.float32, "threads": threads} | ({} if kind is None else {"skip_dry": skip})
    model = FloodModel(dem, cell, manning=0.035, forcing=forcing, scheme=_scheme(kind, **settings))
    before, cpu = _load(), time.process_time()
    result = model.run(hours * 3600)
    computed = getattr(result, "cells_computed", 0.0) or result.steps * result.cells
    return {"cells": n * n, "simulated_s": hours * 3600, "steps": result.steps, "wall_s": round(result.wall_s, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "ever_wet_fraction": float((np.nan_to_num(result.max_depth) > 0.01).mean()),
            "computed_fraction": round(computed / (result.steps * result.cells), 4),
            "max_depth_m": float(np.nanmax(result.max_depth)), "mass_error_rel": result.mass.error_rel,
            "threads": threads, "load_before": before, "load_after": _load()}


def breach_inputs(city: Path, cell_size: float, out: Path) -> dict:
    """The sample city's ``river-breach`` scenario as the engine's plain inputs (``twin`` builds
    them here, in this process; the case below reads them in either engine), saved to ``out``."""
    from twin.city.grids import load_grids
    from twin.flood.city_run import flood_run
    from twin.flood.scenario import load_scenario

    run = flood_run(load_grids(city, cell_size), load_scenario("river-breach"))
    sides = run.forcing.boundaries
    if any(getattr(sides, side).kind != "closed" for side in ("north", "south", "east", "west")):
        raise SystemExit("bench: the breach case expects the scenario's closed sides")
    (inflow,) = run.forcing.inflows
    np.savez(out, dem=run.dem.data, manning=np.broadcast_to(run.manning, run.dem.shape), blocked=run.blocked,
             rows=inflow.rows, cols=inflow.cols, times=inflow.m3_per_s.times, values=inflow.m3_per_s.values)
    return {"city": str(city), "cell_size_m": cell_size, "cells": int(run.dem.data.size)}


def breach(kind: str | None, inputs: str, cell_size: float, hours: float, threads: int, skip: bool = True) -> dict:
    """The sample city's breach (500 m³/s through 100 m of levee, ``breach_inputs``) for ``hours``."""
    data = np.load(inputs)
    forcing = Forcing(inflows=(Inflow(data["rows"], data["cols"], Series(data["times"], data["values"]), "breach"),))
    settings = {"dtype": np.float32, "threads": threads} | ({} if kind is None else {"skip_dry": skip})
    model = FloodModel(data["dem"], cell_size, manning=data["manning"], blocked=data["blocked"], forcing=forcing,
                       scheme=_scheme(kind, **settings))
    before, cpu = _load(), time.process_time()
    result = model.run(hours * 3600, output_interval=600.0)
    computed = getattr(result, "cells_computed", 0.0) or result.steps * result.cells
    return {"cells": result.cells, "simulated_s": hours * 3600, "steps": result.steps, "wall_s": round(result.wall_s, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "cell_steps_per_s": round(result.cell_steps_per_s),
            "computed_fraction": round(computed / (result.steps * result.cells), 4),
            "flooded_area_km2": round(float((np.nan_to_num(result.max_depth) > 0.1).sum()) * cell_size**2 / 1e6, 3),
            "max_depth_m": float(np.nanmax(result.max_depth)), "mass_error_rel": result.mass.error_rel,
            "threads": threads, "load_before": before, "load_after": _load()}


CASES = {"storm": storm, "valley": valley, "breach": breach}


def _warm(kind: str | None) -> None:
    """Compile the kernels a case needs before timing it (float32, 1 and 2 threads)."""
    storm(kind, 64, 0.05, 1)
    valley(kind, 64, 0.05, min(2, numba.config.NUMBA_NUM_THREADS))


def baseline(case: str, args: dict, ref: str) -> dict:
    """``case`` on today's engine: ``sim/`` at ``ref`` unpacked into a temporary folder and run in
    a subprocess of this benchmark (warmed up there first)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "sim"], capture_output=True, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            return {"skipped": f"cannot unpack {ref}: {exc}"}
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(tmp, filter="data")
        done = subprocess.run([sys.executable, __file__, "--baseline-case", case, "--case-args", json.dumps(args),
                               "--sim-root", tmp], capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            return {"skipped": f"baseline run failed: {done.stderr.strip().splitlines()[-1:]}"}
        return json.loads(done.stdout.strip().splitlines()[-1]) | {"engine": f"sim/ at {ref}"}


def side_by_side(case: str, args: dict, ref: str, kinds: tuple[tuple[str, dict], ...],
                 only: set[str] | None = None) -> dict:
    """``case`` on today's engine and on this one's schemes (those labelled in ``only``, if given),
    with the speed-ups over today's."""
    kinds = tuple((label, extra) for label, extra in kinds if only is None or label in only)
    out = {"today": baseline(case, args, ref)}
    print(json.dumps({case: {"today": out["today"]}}), file=sys.stderr, flush=True)  # progress, kept if a later part fails
    for label, extra in kinds:
        out[label] = CASES[case](**args, **extra)
        if "wall_s" in out["today"]:
            out[label]["speedup_over_today"] = round(out["today"]["wall_s"] / out[label]["wall_s"], 2)
            if "cpu_s" in out["today"]:
                out[label]["cpu_speedup_over_today"] = round(out["today"]["cpu_s"] / out[label]["cpu_s"], 2)
        print(json.dumps({case: {label: out[label]}}), file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the bench runs")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-storm", action="store_true")
    parser.add_argument("--skip-dry", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="threads for the storm, the valley and the breach")
    parser.add_argument("--city", type=Path, help="a converted sample city (twin sample-city --buildings 2000 "
                        "--seed 1; twin convert): run its river-breach scenario, today's engine against both schemes")
    parser.add_argument("--breach-cell-size", type=float, default=4.0, help="cell size of the breach run, m")
    parser.add_argument("--breach-hours", type=float, default=3.0, help="simulated hours of the breach run")
    parser.add_argument("--valley-size", type=int, default=1000, help="cells a side of the valley (2 m cells)")
    parser.add_argument("--valley-hours", type=float, default=1.0, help="simulated hours of the valley run")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="the commit whose sim/ is today's engine")
    parser.add_argument("--schemes", help="comma-separated labels of the schemes the valley and the breach run beside "
                        "today's engine (inertial, inertial_no_skip, full, full_no_skip); default all")
    parser.add_argument("--baseline-case", help=argparse.SUPPRESS)  # internal: run a case on the baseline
    parser.add_argument("--case-args", help=argparse.SUPPRESS)
    parser.add_argument("--sim-root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_case:
        _warm(None)
        print(json.dumps(CASES[args.baseline_case](None, **json.loads(args.case_args))))
        return
    threads = min(args.threads, numba.config.NUMBA_NUM_THREADS)
    only = set(args.schemes.split(",")) if args.schemes else None
    report: dict = {"machine": {"cpus": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
                                "load_avg_1min_start": _load()}}
    if not args.skip_throughput:
        report["throughput"] = throughput(300 if args.quick else 2000, 5 if args.quick else 20)
        report["targets_cell_steps_per_s_2_threads_float32"] = {"full": 15_000_000, "inertial": 80_000_000}
    if not args.skip_peer:
        report["peer"] = peer(args.quick)
        report["peer_targets"] = "full: >= 10x faster than ANUGA at an error ratio <= 1.0 on every problem"
    if not (args.skip_storm and args.skip_dry) or args.city is not None:
        _warm("inertial")
        _warm("full")
    if not args.skip_storm:
        report["storm_1km2_2m_3h"] = side_by_side(
            "storm", {"n": 100 if args.quick else 500, "hours": 0.25 if args.quick else 3.0, "threads": threads},
            args.baseline_ref, (("inertial", {"kind": "inertial"}), ("full", {"kind": "full"})))
        report["storm_target"] = "inertial no slower than today"
    if not args.skip_dry:
        report["valley_10pct_wet"] = side_by_side(
            "valley", {"n": 200 if args.quick else args.valley_size, "hours": 0.2 if args.quick else args.valley_hours,
                       "threads": threads},
            args.baseline_ref, (("inertial", {"kind": "inertial"}), ("inertial_no_skip", {"kind": "inertial", "skip": False}),
                                ("full", {"kind": "full"}), ("full_no_skip", {"kind": "full", "skip": False})), only)
        report["valley_target"] = "inertial (skipping) >= 3x faster than today"
    if args.city is not None:
        with tempfile.TemporaryDirectory() as tmp:
            inputs = Path(tmp) / "breach.npz"
            report["breach_city"] = breach_inputs(args.city, args.breach_cell_size, inputs)
            report["breach_city"] |= side_by_side(
                "breach", {"inputs": str(inputs), "cell_size": args.breach_cell_size,
                           "hours": 0.25 if args.quick else args.breach_hours, "threads": threads},
                args.baseline_ref, (("inertial", {"kind": "inertial"}),
                                    ("inertial_no_skip", {"kind": "inertial", "skip": False}), ("full", {"kind": "full"})),
                only)
        report["breach_targets"] = "inertial (skipping) >= 3x faster than today; auto (the full scheme) under 5 min"
    report["machine"]["load_avg_1min_end"] = _load()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
