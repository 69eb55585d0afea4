"""How conversion work is spread out: a *runner* maps a task function over argument tuples.

``run_inline`` runs them here, one after the other; ``dask_runner`` gives one that runs them
on dask.distributed workers (a local cluster, or a scheduler's). Results come back in any order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: (task function, argument tuples, on_done callback) → results, in any order.
Runner = Callable[[Callable[..., Any], list[tuple], Callable[[Any], None]], list[Any]]


def run_inline(task: Callable[..., Any], args: list[tuple], done: Callable[[Any], None]) -> list[Any]:
    """Run every task in this process, in order."""
    results = []
    for item in args:
        results.append(task(*item))
        done(results[-1])
    return results


#: Local workers are forked, not spawned: they start with this process's modules already
#: imported (0.2 s instead of 3–4 s of imports each on 2 cores). The statistical
#: profiler (a stack sample every 10 ms) and the 20 ms event-loop tick cost a worker
#: about a fifth of its CPU on these pure-Python tasks; nobody reads them here.
_LOCAL_CONFIG = {
    "distributed.worker.multiprocessing-method": "fork",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextmanager
def dask_runner(workers: int, scheduler: str | None = None, start_method: str = "fork") -> Iterator[Runner]:
    """A runner (see ``Runner``) on dask workers, for the ``with`` block.

    Without ``scheduler`` it starts a LocalCluster of ``workers`` single-threaded
    processes; with one (``tcp://host:8786``) it uses that cluster, whose workers must
    see the dataset and output paths. The same workers serve every call (file tasks,
    then tile tasks). ``start_method`` "spawn" starts local workers afresh: a process that has run
    numba's OpenMP threads may not fork (the runtime aborts the child).
    """
    import dask  # here, not at the top: dask takes a second to import and inline runs never need it
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        with dask.config.set({**_LOCAL_CONFIG, "distributed.worker.multiprocessing-method": start_method}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=40)  # any free port, no clash
    try:
        with Client(scheduler or cluster) as client:

            def run(task: Callable, args: list[tuple], done: Callable) -> list:
                # Submitted in the given order (callers put the longest tasks first), so
                # the last task to start is a short one and no worker idles at the end.
                futures = [client.submit(task, *item, pure=False, priority=-k) for k, item in enumerate(args)]
                results = []
                for future in as_completed(futures):
                    results.append(future.result())
                    done(results[-1])
                return results

            yield run
    finally:
        if cluster is not None:
            cluster.close()
