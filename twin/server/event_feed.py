"""One reader of the sensor event log for every ``/api/stream`` subscriber of the process.

Each subscriber used to query the log twice a second; with a hundred open streams that is
two hundred queries a second of the same rows. Here one task reads new events every
``poll_seconds`` while anyone listens, keeps the newest ``keep`` in memory and wakes the
subscribers; a subscriber resuming from further back than that reads the log itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from starlette.concurrency import run_in_threadpool

from twin.sensors import events
from twin.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    id: int
    kind: str
    data: Any
    public: bool


class EventFeed:
    """New events of the log, shared by the subscribers of one event loop."""

    def __init__(self, store: Store, poll_seconds: float = 0.5, keep: int = 2000) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.keep = keep
        self._recent: deque[Event] = deque(maxlen=keep)
        self._first: int | None = None  # memory holds every event after this id...
        self._newest: int | None = None  # ...up to this one
        self._arrived = asyncio.Event()
        self._listeners = 0
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def newest(self) -> int:
        """The newest event id now (where a stream without ``Last-Event-ID`` starts)."""
        self._start()
        return self._newest if self._newest is not None else await run_in_threadpool(self._read_newest)

    async def after(self, last: int, public_only: bool, wait: float) -> list[Event]:
        """Events after ``last``, oldest first; waits up to ``wait`` s for some when there are none."""
        self._start()
        found = self._from_memory(last, public_only)
        if found is None:
            found = await run_in_threadpool(self._read_since, last, public_only)
            if not found:
                await asyncio.sleep(wait)
            return found
        if found:
            return found
        self._listeners += 1
        try:
            # Not shielded: a shielded wait left one pending task per timed-out poll on an Event that
            # is never set once the feed restarts, and each was logged "Task was destroyed but it is
            # pending!" when that Event was dropped (hundreds of lines in minutes of use).
            await asyncio.wait_for(self._arrived.wait(), wait)
        except TimeoutError:
            return []
        finally:
            self._listeners -= 1
        return self._from_memory(last, public_only) or []

    def _from_memory(self, last: int, public_only: bool) -> list[Event] | None:
        """The events after ``last`` (newest ones are searched first); None if memory does not reach back."""
        if self._first is None or last < self._first:
            return None
        newer = takewhile(lambda e: e.id > last, reversed(self._recent))
        return [e for e in reversed(list(newer)) if e.public or not public_only]

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._arrived = loop, asyncio.Event()
            self._recent.clear()
            self._first = self._newest = None
            self._task = loop.create_task(self._poll())

    async def _poll(self) -> None:
        idle = 0
        while idle < 20:  # stops ten seconds after the last listener left; the next one restarts it
            idle = 0 if self._listeners else idle + 1
            try:
                if self._newest is None:
                    self._first = self._newest = await run_in_threadpool(self._read_newest)
                else:
                    self._take(await run_in_threadpool(self._read_since, self._newest, False))
            except Exception as exc:
                log.warning("event log unreadable: %s", exc)
            await asyncio.sleep(self.poll_seconds)

    def _take(self, batch: list[Event]) -> None:
        if not batch:
            return
        if len(self._recent) + len(batch) > self.keep:  # the oldest kept events are about to drop out
            self._first = ([*self._recent, *batch][-self.keep]).id - 1
        self._recent.extend(batch)
        self._newest = batch[-1].id
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()

    def _read_newest(self) -> int:
        with self.store.session() as session:
            return events.latest_id(session)

    def _read_since(self, last: int, public_only: bool) -> list[Event]:
        with self.store.session() as session:
            return [Event(e.id, e.kind, e.data, e.public) for e in events.since(session, last, public_only)]
