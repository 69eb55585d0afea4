"""Scenario jobs of the server: flood runs (and evacuations after them) on a City, in the background.

Each job is a folder ``DATA_DIR/scenarios/<id>/`` (``twin.scenarios.results``); its state is
kept by a ``twin.files.job_state.JobBoard`` (queued, running, done, failed or cancelled, with a
reason; jobs a restart cut off are marked failed when the server starts). At most ``workers``
jobs run at once (threads; the numba kernels release the GIL). Results and frames are written
into hidden staging folders and renamed into place only once complete, so a full disk or a
crash never leaves a half-written result that could be served.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.city.grids import CityGrids, require_measured_terrain
from twin.evacuation.city_run import evacuation_spec, run_city_evacuation
from twin.files.atomic import publish, remove_leftovers, staging_folder
from twin.files.job_state import Cancelled, JobBoard, new_id, now
from twin.flood.city_run import flood_run, run_city_flood
from twin.flood.scenario import Scenario
from twin.scenarios.frames import write_frames
from twin.scenarios.results import JobFiles

#: How often (s) a running job's progress is written to its state file.
SAVE_INTERVAL_S = 0.5


@dataclass
class Job:
    id: str
    city: str
    scenario: dict
    status: str = "queued"
    progress: float = 0.0
    sim_time_s: float = 0.0
    reason: str | None = None
    created: str = field(default_factory=now)
    started: str | None = None
    finished: str | None = None
    cell_size_m: float | None = None
    evacuation: dict | None = None  # options of an evacuation after the flood (twin.evacuation.city_run)

    def public(self) -> dict:
        body = asdict(self)
        body["links"] = {"self": f"/api/scenarios/{self.id}", "events": f"/api/scenarios/{self.id}/events"}
        if self.status == "done":
            body["links"].update(summary=f"/api/scenarios/{self.id}/summary.json",
                                 buildings=f"/api/scenarios/{self.id}/buildings",
                                 frames=f"/api/scenarios/{self.id}/frames")
            if self.evacuation is not None:
                body["links"].update(evacuation=f"/api/scenarios/{self.id}/evacuation/summary.json",
                                     agents=f"/api/scenarios/{self.id}/agents")
        return body


class JobRunner:
    """Scenario jobs: submitted, followed, cancelled and deleted."""

    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        self.root = Path(data_dir) / "scenarios"
        self.root.mkdir(parents=True, exist_ok=True)
        self._board: JobBoard[Job] = JobBoard(
            lambda job_id: self.files(job_id).state, self.root.glob("*/job.json"), lambda data: Job(**data),
            on_interrupted=lambda job: remove_leftovers(self.folder(job.id)), workers=workers, name="twin-job")

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def files(self, job_id: str) -> JobFiles:
        return JobFiles(self.folder(job_id))

    def get(self, job_id: str) -> Job | None:
        return self._board.get(job_id)

    def list(self) -> list[Job]:
        return self._board.list()

    def submit(self, city: CityGrids, scenario: Scenario, cell_size: float | None = None,
               evacuation: dict | None = None, allow_estimated_terrain: bool = False) -> Job:
        """Check the scenario against the city now (TwinInputError if bad, or if the City's terrain is
        estimated and that is not allowed), then queue it."""
        require_measured_terrain(city, allow_estimated_terrain)
        flood_run(city, scenario)  # positions outside the grid or in a building fail here, not later
        job = Job(id=new_id(), city=city.id, scenario=scenario.as_dict(), cell_size_m=cell_size,
                  evacuation=evacuation)
        self.folder(job.id).mkdir(parents=True)
        return self._board.submit(job, lambda job, cancel: self._run(job, cancel, city, scenario))

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job; None if there is no such active job."""
        return self._board.cancel(job_id)

    def delete(self, job_id: str) -> bool:
        """Remove a finished job and its files."""
        return self._board.delete(job_id, self.folder(job_id))

    def shutdown(self) -> None:
        self._board.shutdown()

    def _run(self, job: Job, cancel: threading.Event, city: CityGrids, scenario: Scenario) -> None:
        job.started = now()
        self._board.save(job)
        last = [0.0]

        def progress(t: float, until: float) -> None:
            if cancel.is_set():
                raise Cancelled
            job.sim_time_s = t
            job.progress = min(0.99, t / until) if until > 0 else 0.99
            if time.monotonic() - last[0] > SAVE_INTERVAL_S:
                last[0] = time.monotonic()
                self._board.save(job)

        def stop_if_cancelled(*_: object) -> None:
            if cancel.is_set():
                raise Cancelled

        files = self.files(job.id)
        staged = {final: staging_folder(final) for final in (files.result, files.frames)}
        if job.evacuation is not None:
            staged[files.evacuation] = staging_folder(files.evacuation)
        try:
            result = staged[files.result]
            run_city_flood(city, scenario, result, progress)
            write_frames(result / "depth.nc", staged[files.frames], city.crs, scenario.arrival_depth_m)
            if job.evacuation is not None:
                run_city_evacuation(city.folder, evacuation_spec(job.evacuation, result, job.cell_size_m),
                                    staged[files.evacuation], stop_if_cancelled)
            for final, staging in staged.items():
                publish(staging, final)
            job.progress = 1.0
        except BaseException:
            for final in staged:
                shutil.rmtree(final, ignore_errors=True)
            remove_leftovers(files.folder)
            raise

