"""Numba's threading layer, chosen so that parallel kernels may be launched from several threads.

The server runs floods, ensemble members, nowcast cycles and walks on threads of one process.
Numba's OpenMP and TBB layers take parallel launches from several threads at once; its fallback,
the workqueue layer, aborts the whole process when two threads launch at the same time ("Concurrent
access has been detected"). A machine without libgomp (Debian's ``libgomp1``) and without a loadable
TBB has only the workqueue layer; there, :func:`kernel_launch` makes launches take turns.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading

from numba.core import config as numba_config

_LOG = logging.getLogger(__name__)
#: the settings (numba's names) under which numba runs on a layer that takes launches from several threads
THREADSAFE_LAYERS = ("default", "threadsafe", "safe", "tbb", "omp")


def _threadsafe_layer_loads() -> bool:
    """Whether numba will run on a threadsafe layer here; pins it to one when numba would choose."""
    layer = str(numba_config.THREADING_LAYER).lower()  # type: ignore[attr-defined]
    if layer not in THREADSAFE_LAYERS:
        return False
    for pool in ("omppool", "tbbpool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
        except ImportError:
            continue
        if layer == "default":  # never fall back to the workqueue
            numba_config.THREADING_LAYER = "threadsafe"  # type: ignore[attr-defined]
        return True
    if layer == "default":
        _LOG.warning("numba has only its workqueue threading layer here (no libgomp, no TBB): parallel "
                     "kernels launched from several threads take turns; install libgomp1 to run them at once")
        return False
    return True  # asked for tbb or omp by name: numba itself says when that cannot load


THREADSAFE = _threadsafe_layer_loads()
_TURN = threading.RLock()


def kernel_launch() -> contextlib.AbstractContextManager[object]:
    """Hold around a call into parallel numba code: nothing on a threadsafe layer, else a process-wide turn."""
    return contextlib.nullcontext() if THREADSAFE else _TURN
