"""Group commit: concurrent write transactions joined into one commit by a single writer thread.

Each fsync'd commit costs about as much as the rest of a small request, and SQLite takes one
writer at a time anyway. So writers hand their work to one thread, which runs every job
waiting in the queue in one transaction and commits once; each job's caller gets its
answer only after that commit, so nothing acknowledged can be lost (the idea of group
commit in database logs: Gawlick & Kinkade, "Varieties of concurrency control in IMS/VS
Fast Path", 1985; PostgreSQL's ``commit_delay``). When a job of a group fails, the group is
rolled back and its jobs run again one transaction each, so one bad request never fails
another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
_Job = tuple[Callable[[Session], Any], Future]


class GroupCommit:
    """A writer thread running queued ``work(session)`` jobs, many per transaction."""

    def __init__(self, sessions: sessionmaker[Session], max_group: int = 512) -> None:
        self._sessions = sessions
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[Session], T]) -> Future[T]:
        """Queue ``work``; the future resolves once its transaction has committed."""
        future: Future[T] = Future()
        with self._lock:  # (re)started on demand: an app may be served, stopped and served again
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
                self._thread.start()
            self._queue.put((work, future))
        return future

    def run(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed; its result, or its exception raised here."""
        return self.submit(work).result()

    def close(self) -> None:
        """Finish the queued jobs and stop the thread."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._queue.put(None)
                self._thread.join()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                return
            group = [job]
            while len(group) < self._max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
            self._commit([j for j in group if j[1].set_running_or_notify_cancel()])

    def _commit(self, group: list[_Job]) -> None:
        if not group:
            return
        results = []
        try:
            with self._sessions.begin() as session:
                for work, _ in group:
                    results.append(work(session))
        except Exception as exc:
            if len(group) == 1:
                group[0][1].set_exception(exc)
            else:
                for job in group:
                    self._commit([job])
            return
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
