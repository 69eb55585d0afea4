"""Ensemble jobs of the server: ``DATA_DIR/ensembles/<id>/`` with ``job.json`` and, once done, ``result/``.

The state is kept by a ``twin.files.job_state.JobBoard`` (queued, running, done, failed, cancelled;
jobs a restart cut off are marked failed and their partial results removed). The ensemble runs into a
hidden staging folder that is renamed to ``result/`` only when whole. Members run on the server's
dask settings: a LocalCluster of ``workers`` processes, the cluster at ``scheduler``, or with
``workers`` 0 one after the other in the job's thread.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from twin.ensembles.members import MemberOutcome
from twin.ensembles.run import EnsembleSpec, ensemble_runner, prepare, run_ensemble
from twin.files.atomic import publish, remove_leftovers, staging_folder
from twin.files.job_state import Cancelled, JobBoard, new_id, now


@dataclass
class EnsembleJob:
    id: str
    city: str
    scenario: str
    members: int
    varied: dict[str, list[float]]
    seed: int
    cell_size_m: float | None = None
    scenario_job: str | None = None  # the scenario job it brackets: that job's report shows the ensemble
    status: str = "queued"
    members_done: int = 0
    members_failed: int = 0
    progress: float = 0.0
    reason: str | None = None
    created: str = field(default_factory=now)
    started: str | None = None
    finished: str | None = None

    def public(self) -> dict:
        body = asdict(self)
        base = f"/api/ensembles/{self.id}"
        body["links"] = {"self": base}
        if self.status == "done":
            body["links"].update(summary=f"{base}/summary.json", probability=f"{base}/probability.png",
                                 buildings=f"{base}/buildings", netcdf=f"{base}/ensemble.nc",
                                 geoparquet=f"{base}/buildings.parquet", design=f"{base}/members.csv")
        return body


class EnsembleRunner:
    """Ensemble jobs: submitted, followed, cancelled and deleted."""

    def __init__(self, data_dir: Path, workers: int = 2, scheduler: str | None = None) -> None:
        self.root = Path(data_dir) / "ensembles"
        self.root.mkdir(parents=True, exist_ok=True)
        self.workers, self.scheduler = workers, scheduler
        self._board: JobBoard[EnsembleJob] = JobBoard(
            lambda job_id: self.folder(job_id) / "job.json", self.root.glob("*/job.json"),
            lambda data: EnsembleJob(**data), on_interrupted=lambda job: remove_leftovers(self.folder(job.id)),
            name="twin-ensemble")

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def result(self, job_id: str) -> Path:
        return self.folder(job_id) / "result"

    def get(self, job_id: str) -> EnsembleJob | None:
        return self._board.get(job_id)

    def list(self) -> list[EnsembleJob]:
        return self._board.list()

    def latest_for(self, scenario_job: str) -> Path | None:
        """The result folder of the newest finished ensemble that brackets ``scenario_job``, if any."""
        for job in self.list():
            if job.scenario_job == scenario_job and job.status == "done" and (self.result(job.id) / "summary.json").is_file():
                return self.result(job.id)
        return None

    def submit(self, city_id: str, spec: EnsembleSpec, scenario_job: str | None = None) -> EnsembleJob:
        """Check the ensemble now (TwinInputError: nothing queued, nothing written), then queue it."""
        prepare(spec)
        job = EnsembleJob(id=new_id(), city=city_id, scenario=spec.scenario.name, members=spec.members,
                          varied={v.name: [v.low, v.high] for v in spec.varied}, seed=spec.seed,
                          cell_size_m=spec.cell_size, scenario_job=scenario_job)
        self.folder(job.id).mkdir(parents=True)
        return self._board.submit(job, lambda job, cancel: self._run(job, cancel, spec))

    def cancel(self, job_id: str) -> EnsembleJob | None:
        return self._board.cancel(job_id)

    def delete(self, job_id: str) -> bool:
        """Remove a finished job and its files."""
        return self._board.delete(job_id, self.folder(job_id))

    def shutdown(self) -> None:
        self._board.shutdown()

    def _run(self, job: EnsembleJob, cancel: threading.Event, spec: EnsembleSpec) -> None:
        job.started = now()
        self._board.save(job)

        def on_member(outcome: MemberOutcome, done: int, total: int) -> None:
            if cancel.is_set():
                raise Cancelled
            job.members_done = done
            job.members_failed += outcome.error is not None
            job.progress = min(0.99, done / total)
            self._board.save(job)

        final = self.result(job.id)
        staging = staging_folder(final)
        try:
            with ensemble_runner(self.workers, self.scheduler) as runner:
                run_ensemble(spec, staging, runner, on_member)
            publish(staging, final)
            job.progress = 1.0
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            remove_leftovers(self.folder(job.id))
            raise
