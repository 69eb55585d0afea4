"""The sensor tables on SQLite and PostgreSQL: migrations, idempotent observations, time round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, inspect, select, text

from twin.sensors.ingest import MEASUREMENT, NewObservation, Writer, store_observations
from twin.sensors.sta_write import create_thing
from twin.store import open_store
from twin.store.apikeys import ApiKeys
from twin.store.models import AlertState, Observation, SensorEvent

T0 = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)


def gauge(store) -> Writer:
    """Datastream 1: water level, thresholds 2/3/4 m, range −10..50 m; the admin writer that made it."""
    admin = Writer(ApiKeys(store).create("admin", "admin").split("_")[1], admin=True)
    with store.session.begin() as session:
        create_thing(session, admin, {"name": "gauge", "Datastreams": [{
            "name": "level", "unitOfMeasurement": {"symbol": "m"}, "observationType": MEASUREMENT,
            "properties": {"thresholds": {"caution": 2.0, "evacuation": 3.0, "danger": 4.0}},
            "Sensor": {"name": "s"}, "ObservedProperty": {"name": "level", "properties": {"range": [-10, 50]}}}]})
    return admin


def test_migration_creates_every_sensor_table_with_the_unique_time_index(database_url):
    store = open_store(database_url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"sta_things", "sta_locations", "sta_historical_locations", "sta_sensors", "sta_observed_properties",
            "sta_datastreams", "sta_features_of_interest", "sta_observations", "sensor_alert_states",
            "sensor_events", "api_keys"} <= tables
    uniques = inspect(store.engine).get_unique_constraints("sta_observations")
    assert [u["column_names"] for u in uniques] == [["datastream_id", "phenomenon_time"]]
    open_store(database_url).close()  # migrating again is a no-op
    store.close()


def test_resending_observations_stores_each_once_and_returns_the_first_id(database_url):
    store = open_store(database_url)
    admin = gauge(store)
    batch = [NewObservation(1, T0 + timedelta(minutes=10 * i), 1.0 + i) for i in range(5)]
    with store.session.begin() as session:
        first = store_observations(session, admin, batch)
    with store.session.begin() as session:
        again = store_observations(session, admin, batch[2:] + [NewObservation(1, T0 + timedelta(hours=2), 9.0)])
    assert again[:3] == first[2:]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Observation)) == 6
    store.close()


def test_times_round_trip_as_utc_whatever_zone_they_came_in(database_url):
    store = open_store(database_url)
    admin = gauge(store)
    jst = timezone(timedelta(hours=9))
    with store.session.begin() as session:
        store_observations(session, admin, [NewObservation(1, datetime(2024, 6, 1, 9, 0, 0, 123456, tzinfo=jst), 1.5)])
    with store.session() as session:
        stored = session.scalar(select(Observation.phenomenon_time))
        assert stored == datetime(2024, 6, 1, 0, 0, 0, 123456, tzinfo=UTC) and stored.tzinfo is not None
        # the same moment sent in another zone is the same key: not stored twice
        store_observations(session, admin, [NewObservation(1, datetime(2024, 6, 1, 0, 0, 0, 123456, tzinfo=UTC), 7.0)])
        session.commit()
        assert session.scalar(select(func.count()).select_from(Observation)) == 1
    store.close()


def test_alert_state_follows_the_latest_value_and_logs_each_crossing(database_url):
    store = open_store(database_url)
    admin = gauge(store)
    levels = [1.0, 2.1, 3.2, 4.5, 3.5, 1.0]
    with store.session.begin() as session:
        store_observations(session, admin, [NewObservation(1, T0 + timedelta(minutes=10 * i), v)
                                            for i, v in enumerate(levels)])
    with store.session.begin() as session:  # late data does not change the present
        store_observations(session, admin, [NewObservation(1, T0 - timedelta(hours=1), 9.0)])
    with store.session() as session:
        state = session.get(AlertState, 1)
        assert (state.level, state.value) == (0, 1.0)
        alerts = [e.data["level"] for e in session.scalars(
            select(SensorEvent).where(SensorEvent.kind == "alert").order_by(SensorEvent.id))]
        assert alerts == [2, 3, 4, 3, 0]
    store.close()


def test_sqlite_store_is_wal_with_full_sync(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'twin.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: fsync at each commit
    store.close()


@pytest.mark.postgres
def test_postgres_cluster_is_reachable_and_local(postgres_server):
    assert postgres_server.startswith("postgresql+psycopg://twin@127.0.0.1:")
