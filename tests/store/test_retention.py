"""Retention on SQLite and PostgreSQL: raw observations and audit entries older than their settings go,
everything newer stays, and the database itself still refuses any other change to the audit log."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from tests.store.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from twin.server import Settings, create_app
from twin.store import models as m
from twin.store import open_store
from twin.store.audit import AuditLog, AuditRecord
from twin.store.retention import prune, set_audit_retention

NOW = datetime.now(UTC)


def record(days_ago: float, path: str) -> AuditRecord:
    return AuditRecord("key:a", "admin", "write", "POST", path, 201, "127.0.0.1", at=NOW - timedelta(days=days_ago))


def observations(store, days_ago: list[float]) -> list[int]:
    """One datastream with an observation ``d`` days old for each ``d``; their ids."""
    with store.session.begin() as session:
        thing = m.Thing(name="gauge", description="")
        sensor = m.Sensor(name="radar", description="", encoding_type="text/plain", metadata_="-")
        prop = m.ObservedProperty(name="water level", definition="urn:water-level", description="")
        session.add_all([thing, sensor, prop])
        session.flush()
        stream = m.Datastream(name="level", description="", unit_of_measurement={"symbol": "m"},
                              observation_type="OM_Measurement", thing_id=thing.id, sensor_id=sensor.id,
                              observed_property_id=prop.id)
        session.add(stream)
        session.flush()
        rows = [m.Observation(datastream_id=stream.id, phenomenon_time=NOW - timedelta(days=d), result_number=d)
                for d in days_ago]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def kept(store, table: str, column: str = "id") -> list:
    with store.engine.connect() as connection:
        return [r[0] for r in connection.execute(sa.text(f"SELECT {column} FROM {table} ORDER BY id"))]


def test_pruning_deletes_exactly_what_is_older_than_the_retention(database_url):  # noqa: F811
    store = open_store(database_url)
    try:
        set_audit_retention(store, 90)
        log = AuditLog(store)
        for days, path in ((400, "/old"), (91, "/expired"), (89, "/recent"), (0, "/today")):
            log.append(record(days, path))
        observations(store, [500, 401, 399, 1])
        pruned = prune(store, sensor_days=400)
        assert (pruned.observations, pruned.audit_entries) == (2, 2)
        assert kept(store, "audit_log", "path") == ["/recent", "/today"]
        assert sorted(kept(store, "sta_observations", "result_number")) == [1, 399]
        assert prune(store, sensor_days=400) == type(pruned)(0, 0)  # nothing more to do
    finally:
        store.close()


def test_the_database_refuses_every_other_change_to_the_audit_log(database_url):  # noqa: F811
    store = open_store(database_url)
    try:
        set_audit_retention(store, 30)
        log = AuditLog(store)
        log.append(record(29, "/recent"))
        log.append(record(31, "/expired"))
        refused = ["DELETE FROM audit_log",  # would take the recent row with the expired one
                   "DELETE FROM audit_log WHERE path = '/recent'",
                   "UPDATE audit_log SET at = '2000-01-01 00:00:00' WHERE path = '/recent'",
                   "UPDATE audit_log SET actor = 'someone else'",
                   "DELETE FROM retention_policy",
                   "UPDATE retention_policy SET audit_days = 1",  # below the floor
                   "INSERT INTO retention_policy (id, audit_days) VALUES (2, 3650)"]
        for statement in refused:
            with pytest.raises(DBAPIError), store.engine.begin() as connection:
                connection.execute(sa.text(statement))
        assert kept(store, "audit_log", "path") == ["/recent", "/expired"]
        with store.engine.begin() as connection:  # what pruning does: only the expired row
            connection.execute(sa.text("DELETE FROM audit_log WHERE path = '/expired'"))
        assert kept(store, "audit_log", "path") == ["/recent"]
        with pytest.raises(ValueError):
            set_audit_retention(store, 7)
    finally:
        store.close()


def test_without_its_policy_row_the_guard_refuses_all_deletes(tmp_path):
    """The guard fails closed: were the policy row gone (it cannot be deleted), no audit row could be."""
    store = open_store(f"sqlite:///{tmp_path / 'twin.db'}")
    try:
        AuditLog(store).append(record(4000, "/ancient"))
        with store.engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER retention_policy_kept"))
            connection.execute(sa.text("DELETE FROM retention_policy"))
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM audit_log"))
    finally:
        store.close()


def test_the_server_prunes_periodically_with_its_settings(database_url, tmp_path):  # noqa: F811
    app = create_app(Settings(data_dir=tmp_path / "home", database_url=database_url, sensor_retention_days=30,
                              audit_retention_days=60, retention_interval_s=0.2))
    store = app.state.store
    AuditLog(store).append(record(61, "/expired"))
    AuditLog(store).append(record(59, "/recent"))
    observations(store, [31, 29])
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "/expired" in kept(store, "audit_log", "path"):
            time.sleep(0.1)
        assert kept(store, "audit_log", "path") == ["/recent"]
        assert kept(store, "sta_observations", "result_number") == [29]
        AuditLog(store).append(record(70, "/later"))  # the next pruning comes on its own
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "/later" in kept(store, "audit_log", "path"):
            time.sleep(0.1)
        assert kept(store, "audit_log", "path") == ["/recent"]
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT audit_days FROM retention_policy")).scalar() == 60
