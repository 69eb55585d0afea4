"""What the server publishes as open data: each City's collections, cached, and the page selector.

A City's collections are listed once per version of its manifest and set of finished
scenario jobs (listing reads the hazard table's layer and scale columns); the selector keeps
each file's bounds index and the latest selections (``twin.opendata.tables.Selector``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from twin.city.layout import MANIFEST
from twin.hazardmap.simulated_depth import scenario_title
from twin.opendata.collections import Collection, ScenarioRun, city_collections
from twin.opendata.tables import Selector
from twin.scenarios.jobs import JobRunner
from twin.server.cities import City

#: Cities whose collection lists are kept.
_CITIES = 16


class OpenData:
    """Per-city collection lists and the selector of pages."""

    def __init__(self) -> None:
        self.selector = Selector()
        self._lists: OrderedDict[str, tuple[tuple, list[Collection]]] = OrderedDict()
        self._lock = threading.Lock()

    def collections(self, city: City, jobs: JobRunner) -> list[Collection]:
        """The City's layers and finished scenarios (the database-backed ones are added by the routes)."""
        runs = finished_runs(city, jobs)
        stamp = ((city.folder.path / MANIFEST).stat().st_mtime_ns, tuple(r.id for r in runs))
        with self._lock:
            cached = self._lists.get(city.id)
            if cached is not None and cached[0] == stamp:
                self._lists.move_to_end(city.id)
                return cached[1]
        found = city_collections(city.folder, runs)
        with self._lock:
            self._lists[city.id] = (stamp, found)
            while len(self._lists) > _CITIES:
                self._lists.popitem(last=False)
        return found


def finished_runs(city: City, jobs: JobRunner) -> list[ScenarioRun]:
    """The City's scenario jobs that finished with a per-building result, oldest first."""
    runs = []
    for job in sorted(jobs.list(), key=lambda j: j.finished or ""):
        result = jobs.files(job.id).result
        if job.city != city.id or job.status != "done" or not (result / "buildings.parquet").is_file():
            continue
        title = scenario_title(job)
        runs.append(ScenarioRun(job.id, title.get("ja") or job.id, title.get("en") or title.get("ja") or job.id,
                                job.finished, result))
    return runs
