"""Parallel kernels launched from several threads at once (the server's jobs, members and cycles).

On numba's workqueue layer (a machine without libgomp or TBB) two threads launching parallel kernels
at the same time abort the process: that is how the console test's server died on CI. Each case runs
in a fresh interpreter, since numba picks its threading layer once per process.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: a breach-free rain run of each scheme on its own thread, both on two numba threads
TWO_FLOODS = """
import sys, threading
import numba, numpy as np
import sim.threading_layer
from sim.flood import FloodModel, Forcing, Rain, Scheme, Series
sim.threading_layer.THREADSAFE = sim.threading_layer.THREADSAFE or sys.argv[1] == "unguarded"
def run(kind):
    y, x = np.mgrid[0:240, 0:240]
    dem = 0.002 * (x + y) + 0.2 * np.sin(x / 7.0)
    model = FloodModel(dem, 2.0, forcing=Forcing(rain=Rain(Series.constant(200.0))),
                       scheme=Scheme(kind=kind, threads=2, dt_max=0.5))
    assert model.run(300.0).mass.error_rel < 1e-6
threads = [threading.Thread(target=run, args=(kind,)) for kind in ("inertial", "full")]
[t.start() for t in threads]
[t.join() for t in threads]
print(numba.threading_layer())
"""


def _two_floods(layer: str | None, mode: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "2"}
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer:
        env["NUMBA_THREADING_LAYER"] = layer
    return subprocess.run([sys.executable, "-c", TWO_FLOODS, mode], env=env, capture_output=True, text=True,
                          timeout=600, cwd=ROOT)


def test_floods_on_two_threads_take_turns_on_the_workqueue_layer() -> None:
    done = _two_floods("workqueue", "guarded")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "workqueue"


def test_without_turns_the_workqueue_layer_aborts_the_process() -> None:
    """The control: the same two floods without the turns die as the CI server did (SIGABRT)."""
    done = _two_floods("workqueue", "unguarded")
    assert done.returncode == -6 and "Concurrent access has been detected" in done.stderr, done.stderr[-2000:]


def _threadsafe_pool() -> str | None:
    for pool in ("omppool", "tbbpool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
        except ImportError:
            continue
        return pool
    return None


@pytest.mark.skipif(_threadsafe_pool() is None, reason="neither libgomp (Debian's libgomp1) nor TBB loads here")
def test_by_default_numba_runs_on_a_threadsafe_layer() -> None:
    done = _two_floods(None, "unguarded")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] in ("omp", "tbb")
