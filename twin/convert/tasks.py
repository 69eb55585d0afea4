"""How conversion work is spread out: a *runner* maps a task function over argument tuples.

``run_inline`` runs them here, one after the other; ``twin.convert.runners.dask_runner`` gives
one that runs them on dask.distributed workers. Results come back in any order.
"""

from __future__ import annotations

from collections.abc import Callable
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
