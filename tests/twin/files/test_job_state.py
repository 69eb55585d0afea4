"""Jobs kept as JSON state files: run, fail with a reason, cancel, and recover after a restart."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from twin.errors import TwinInputError
from twin.files.job_state import FINISHED, INTERRUPTED, JobBoard, new_id, now


@dataclass
class Job:
    id: str
    status: str
    reason: str | None
    created: str
    finished: str | None


def board(folder: Path, interrupted: list[str] | None = None) -> JobBoard[Job]:
    seen = [] if interrupted is None else interrupted
    return JobBoard(lambda job_id: folder / job_id / "job.json", folder.glob("*/job.json"), lambda d: Job(**d),
                    on_interrupted=lambda job: seen.append(job.id))


def submit(jobs: JobBoard[Job], folder: Path, work) -> Job:
    job = Job(new_id(), "queued", None, now(), None)
    (folder / job.id).mkdir()
    return jobs.submit(job, work)


def state(folder: Path, job: Job) -> dict:
    return json.loads((folder / job.id / "job.json").read_text(encoding="utf-8"))


def finished(folder: Path, job: Job) -> dict:
    """The job's state file once it says the job finished (within 10 s)."""
    deadline = time.monotonic() + 10
    while (saved := state(folder, job))["status"] not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.01)
    return saved


def test_a_job_runs_and_its_state_file_says_so(tmp_path: Path) -> None:
    jobs = board(tmp_path)
    job = submit(jobs, tmp_path, lambda job, cancel: None)
    assert finished(tmp_path, job)["status"] == "done" and jobs.get(job.id) is job


def test_bad_input_fails_the_job_with_its_own_message(tmp_path: Path) -> None:
    def work(job: Job, cancel: threading.Event) -> None:
        raise TwinInputError("scenario.json: rain must be ≥ 0")

    job = submit(board(tmp_path), tmp_path, work)
    saved = finished(tmp_path, job)
    assert (saved["status"], saved["reason"]) == ("failed", "scenario.json: rain must be ≥ 0")


def test_a_queued_job_is_cancelled_before_it_starts(tmp_path: Path) -> None:
    jobs, release = board(tmp_path), threading.Event()
    first = submit(jobs, tmp_path, lambda job, cancel: release.wait(10))
    second = submit(jobs, tmp_path, lambda job, cancel: None)
    assert jobs.cancel(second.id) is second
    release.set()
    assert finished(tmp_path, first)["status"] == "done" and state(tmp_path, second)["status"] == "cancelled"


def test_a_restart_marks_the_jobs_it_cut_off_as_failed(tmp_path: Path) -> None:
    running = Job(new_id(), "running", None, now(), None)
    done = Job(new_id(), "done", None, now(), now())
    for job in (running, done):
        (tmp_path / job.id).mkdir()
        (tmp_path / job.id / "job.json").write_text(json.dumps(job.__dict__), encoding="utf-8")
    interrupted: list[str] = []
    jobs = board(tmp_path, interrupted)
    assert interrupted == [running.id]
    assert (state(tmp_path, running)["status"], state(tmp_path, running)["reason"]) == ("failed", INTERRUPTED)
    assert jobs.get(done.id) == done
