"""Running per-file tasks on dask.distributed: a local cluster, or a scheduler's workers."""

from __future__ import annotations

from collections.abc import Callable

from distributed import Client, LocalCluster, as_completed


def dask_runner(workers: int, scheduler: str | None = None):
    """A runner (see ``twin.convert.Runner``) that maps tasks onto dask workers.

    Without ``scheduler`` it starts a LocalCluster of ``workers`` single-threaded
    processes for the run; with one (``tcp://host:8786``) it uses that cluster, whose
    workers must see the dataset and output paths.
    """

    def run(task: Callable, args: list[tuple], done: Callable) -> list:
        cluster = None if scheduler else LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=40,
        )
        try:
            with Client(scheduler or cluster) as client:
                futures = [client.submit(task, *item, pure=False) for item in args]
                results = []
                for future in as_completed(futures):
                    results.append(future.result())
                    done(results[-1])
                return results
        finally:
            if cluster is not None:
                cluster.close()

    return run
