"""``EventFeed``: one reader of the event log for every SSE subscriber."""

from __future__ import annotations

import asyncio

from twin.sensors import events
from twin.server.event_feed import EventFeed
from twin.store import open_store


def log(store, *kinds_public: tuple[str, bool]) -> None:
    with store.session.begin() as session:
        for kind, public in kinds_public:
            events.append(session, kind, {"kind": kind}, public)


def test_fifty_subscribers_share_one_reader(tmp_path, monkeypatch):
    store = open_store(f"sqlite:///{tmp_path / 'twin.db'}")
    reads = []
    since = events.since
    monkeypatch.setattr(events, "since", lambda *a, **k: reads.append(a[1]) or since(*a, **k))

    async def run() -> list[list]:
        feed = EventFeed(store, poll_seconds=0.05)
        start = await feed.newest()
        await asyncio.sleep(0.2)  # the poller has read where the log ends
        public = [asyncio.create_task(feed.after(start, True, 5.0)) for _ in range(25)]
        staff = [asyncio.create_task(feed.after(start, False, 5.0)) for _ in range(25)]
        await asyncio.sleep(0.1)
        reads.clear()
        await asyncio.to_thread(log, store, ("observations", True), ("footfall", False))
        got = await asyncio.gather(*public, *staff)
        return got

    got = asyncio.run(run())
    assert [[e.kind for e in g] for g in got[:25]] == [["observations"]] * 25
    assert [[e.kind for e in g] for g in got[25:]] == [["observations", "footfall"]] * 25
    assert len(reads) <= 4, f"{len(reads)} reads of the log for 50 subscribers"
    store.close()


def test_a_subscriber_resuming_from_before_memory_reads_the_log(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'twin.db'}")

    async def run() -> tuple[list, list]:
        feed = EventFeed(store, poll_seconds=0.05, keep=3)
        await feed.newest()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(log, store, *[(f"e{n}", True) for n in range(6)])
        await asyncio.sleep(0.3)  # memory now holds only e3..e5
        return await feed.after(0, False, 1.0), await feed.after(4, False, 1.0)

    old, recent = asyncio.run(run())
    assert [e.kind for e in old] == [f"e{n}" for n in range(6)]
    assert [e.kind for e in recent] == ["e4", "e5"]
    store.close()
