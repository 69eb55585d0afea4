"""Background jobs whose state is a JSON file each: a queue, cancelling, and recovery after a restart.

The server's scenario runs and dataset imports are such jobs. A ``JobBoard`` keeps each job's
state file current (replaced atomically), runs the work on daemon threads (stopping the server
cuts a job off rather than waiting for it), and when it starts marks the jobs a restart cut off
as failed, calling back so their partial results can be removed. The work reports failure by
raising: bad input fails with its own message, a full disk says so, anything else gives the
exception's type and message; the server lives on.
"""

from __future__ import annotations

import errno
import json
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from queue import SimpleQueue
from typing import Any, Generic, Protocol, TypeVar

from citygml.errors import CityGMLError
from sim.errors import SimInputError
from twin.errors import TwinInputError
from twin.files.atomic import write_json

JOB_ID = re.compile(r"^[a-f0-9]{12}$")
ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
INTERRUPTED = "interrupted by a server restart"


class Cancelled(Exception):
    """Raised by a job's work (from its progress callback) to stop it."""


class JobState(Protocol):
    """The fields every job's state has (the job types are dataclasses)."""

    id: str
    status: str
    reason: str | None
    created: str
    finished: str | None


J = TypeVar("J", bound=JobState)
Work = Callable[[Any, threading.Event], None]


def now() -> str:
    """The current UTC time as ISO 8601 with a Z, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_id() -> str:
    return secrets.token_hex(6)


def failure_reason(exc: BaseException) -> str:
    """What a failed job tells its user."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while writing results ({exc.strerror or exc}); nothing was kept"
    if isinstance(exc, (TwinInputError, CityGMLError, SimInputError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class JobBoard(Generic[J]):
    """Jobs of one kind: their states in memory and on disk, a queue and its worker threads."""

    def __init__(self, state_file: Callable[[str], Path], saved: Iterable[Path], load: Callable[[dict], J],
                 on_interrupted: Callable[[J], None] = lambda job: None, workers: int = 1,
                 name: str = "twin-job") -> None:
        self._state_file = state_file
        self._jobs: dict[str, J] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        # One writer of state files at a time: a cancel (a request thread) and the worker's progress
        # both write job.json through the same temporary name, and the second rename found it gone.
        self._writing = threading.Lock()
        self._queue: SimpleQueue[tuple[J, Work]] = SimpleQueue()
        self._recover(saved, load, on_interrupted)
        for k in range(workers):
            threading.Thread(target=self._work, name=f"{name}-{k}", daemon=True).start()

    def _recover(self, saved: Iterable[Path], load: Callable[[dict], J], on_interrupted: Callable[[J], None]) -> None:
        for path in sorted(saved):
            try:
                job = load(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if job.status in ACTIVE:
                job.status, job.reason, job.finished = "failed", INTERRUPTED, now()
                on_interrupted(job)
                self.save(job)
            self._jobs[job.id] = job

    def get(self, job_id: str) -> J | None:
        with self._lock:
            return self._jobs.get(job_id) if JOB_ID.match(job_id) else None

    def list(self) -> list[J]:
        """Every job, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def save(self, job: J) -> None:
        path = self._state_file(job.id)
        with self._writing:
            if path.parent.is_dir():
                write_json(path, asdict(job))  # type: ignore[call-overload]

    def submit(self, job: J, work: Callable[[J, threading.Event], None]) -> J:
        """Record ``job`` as queued and run ``work(job, cancel_event)`` on a worker."""
        with self._lock:
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
        self.save(job)
        self._queue.put((job, work))
        return job

    def cancel(self, job_id: str) -> J | None:
        """Cancel a queued or running job; None if there is no such active job."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE:
                return None
            self._cancel[job_id].set()
            if job.status == "queued":
                job.status, job.reason, job.finished = "cancelled", "cancelled before it started", now()
        self.save(job)
        return job

    def delete(self, job_id: str, folder: Path) -> bool:
        """Drop a finished job from the board and remove its ``folder``; False if it is active or unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in FINISHED:
                return False
            del self._jobs[job_id]
            self._cancel.pop(job_id, None)
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def busy(self, match: Callable[[J], bool]) -> bool:
        """Whether an active job matches."""
        with self._lock:
            return any(match(j) and j.status in ACTIVE for j in self._jobs.values())

    def shutdown(self) -> None:
        """Ask every running job to stop."""
        for event in self._cancel.values():
            event.set()

    def _work(self) -> None:
        while True:
            job, work = self._queue.get()
            self._run(job, work)

    def _run(self, job: J, work: Callable[[J, threading.Event], None]) -> None:
        cancel = self._cancel[job.id]
        if cancel.is_set() or job.status != "queued":
            return
        job.status = "running"
        self.save(job)
        try:
            work(job, cancel)
            job.status = "done"
        except Cancelled:
            job.status, job.reason = "cancelled", "cancelled while running"
        except Exception as exc:
            job.status, job.reason = "failed", failure_reason(exc)
        job.finished = now()
        try:
            self.save(job)
        except OSError:
            pass  # disk still full: the state stays right in memory; a restart marks the job interrupted
