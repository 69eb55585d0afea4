"""Group commit: queued writes share one commit, each answered after it; a failing write fails alone."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select

from twin.store import open_store
from twin.store.group_commit import GroupCommit
from twin.store.models import ApiKey


def key_row(n: int) -> ApiKey:
    return ApiKey(id=f"{n:012x}", name=f"writer-{n}", role="sensor", key_hash="-", created_at=datetime.now(UTC))


@pytest.fixture
def store(database_url):
    store = open_store(database_url)
    yield store
    store.close()


def commits_of(store) -> list[int]:
    counted = [0]
    event.listen(store.engine, "commit", lambda _connection: counted.__setitem__(0, counted[0] + 1))
    return counted


def test_writes_queued_together_share_one_commit(store):
    writes, counted = GroupCommit(store.session), commits_of(store)
    holding, release = threading.Event(), threading.Event()

    def first(session):
        holding.set()
        release.wait(10)  # keeps the writer busy while the others queue up
        session.add(key_row(0))
        return 0

    futures = [writes.submit(first)]
    holding.wait(10)
    futures += [writes.submit(lambda session, n=n: session.add(key_row(n)) or n) for n in range(1, 21)]
    assert not any(f.done() for f in futures[1:])  # nothing is answered before its commit
    release.set()
    assert [f.result(10) for f in futures] == list(range(21))
    writes.close()
    assert counted[0] == 2  # the first write alone, then the twenty queued behind it together
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 21


def test_a_failing_write_fails_alone(store):
    writes = GroupCommit(store.session)
    holding, release = threading.Event(), threading.Event()

    def first(session):
        holding.set()
        release.wait(10)
        session.add(key_row(0))

    def broken(session):
        session.add(key_row(99))
        raise ValueError("a bad request")

    futures = [writes.submit(first)]
    holding.wait(10)
    futures += [writes.submit(lambda session: session.add(key_row(1))), writes.submit(broken),
                writes.submit(lambda session: session.add(key_row(2)))]
    release.set()
    with pytest.raises(ValueError, match="a bad request"):
        futures[2].result(10)
    for future in (futures[0], futures[1], futures[3]):
        future.result(10)
    writes.close()
    with store.session() as session:
        assert set(session.scalars(select(ApiKey.name))) == {"writer-0", "writer-1", "writer-2"}


def test_the_writer_restarts_after_close(store):
    writes = GroupCommit(store.session)
    assert writes.run(lambda session: session.add(key_row(1)) or "first") == "first"
    writes.close()
    assert writes.run(lambda session: session.add(key_row(2)) or "again") == "again"
    writes.close()
