"""The audit log records writes, sign-ins and refusals (who, what, when, from where); admins read it;
nobody can change it, not even with SQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import DBAPIError

from tests.security.conftest import add_operator, assert_problem, bearer, make_app, role_keys
from tests.store.postgres import create_database, postgres_cluster
from twin.store import open_store
from twin.store.audit import AuditLog, AuditRecord

_databases = itertools.count()


@pytest.fixture
def setup(tmp_path):
    app = make_app(tmp_path / "home", write_rate=0.01, write_burst=5)
    keys = role_keys(app)
    with TestClient(app, client=("192.0.2.7", 5555)) as client:
        yield app, keys, client


def entries(client, admin_key: str, **filters) -> list[dict]:
    response = client.get("/api/audit", params=filters, headers=bearer(admin_key))
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_writes_sign_ins_and_refusals_are_recorded_with_who_and_where(setup):
    app, keys, client = setup
    started = datetime.now(UTC)
    assert client.post("/sta/v1.1/Things", json={"name": "gauge", "description": "d"},
                       headers=bearer(keys["sensor"])).status_code == 201
    client.get("/api/cities")  # a granted read: not recorded
    assert_problem(client.get("/api/me"), 401)
    assert_problem(client.get("/api/me", headers=bearer("twin_0123456789ab_" + "A" * 43)), 401)
    assert_problem(client.post("/api/scenarios", json={}, headers=bearer(keys["sensor"])), 403)
    sato = add_operator(app, "sato", "staff")
    assert_problem(client.post("/api/session", json={"name": "sato", "password": "wrong", "code": "123456"}), 401)
    assert client.post("/api/session", json={"name": "sato", "password": "correct horse battery staple",
                                             "code": sato.code()}).status_code == 200
    csrf = client.cookies["twin_csrf"]
    assert client.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.post("/ngsi/v2/notify", json={}, headers=bearer(keys["sensor"]))  # the 5th write of the burst
    assert_problem(client.post("/ngsi/v2/notify", json={}, headers=bearer(keys["sensor"])), 429)

    seen = [(e["action"], e["method"], e["path"], e["status"], e["actor"], e["role"])
            for e in reversed(entries(client, keys["admin"]))]
    assert seen == [
        ("write", "POST", "/sta/v1.1/Things", 201, "key:sensor-key", "sensor"),
        ("denied", "GET", "/api/me", 401, "anonymous", "anonymous"),
        ("denied", "GET", "/api/me", 401, "anonymous", "anonymous"),
        ("denied", "POST", "/api/scenarios", 403, "key:sensor-key", "sensor"),
        ("signin", "POST", "/api/session", 401, "user:sato", "anonymous"),
        ("signin", "POST", "/api/session", 200, "user:sato", "staff"),
        ("signout", "DELETE", "/api/session", 204, "user:sato", "staff"),
        ("write", "POST", "/ngsi/v2/notify", 422, "key:sensor-key", "sensor"),
        ("denied", "POST", "/ngsi/v2/notify", 429, "key:sensor-key", "sensor"),
    ]
    every = entries(client, keys["admin"])
    assert {e["client"] for e in every} == {"192.0.2.7"}
    assert all(started - timedelta(seconds=1) <= datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in every)
    details = {e["detail"] for e in every}
    assert "unknown, revoked or expired key twin_0123456789ab" in details and "no credentials" in details


def test_only_admins_read_the_log_and_can_filter_and_page_it(setup):
    app, keys, client = setup
    assert_problem(client.get("/api/audit"), 401)
    for role in ("staff", "sensor"):
        assert_problem(client.get("/api/audit", headers=bearer(keys[role])), 403, "forbidden")
    denials = entries(client, keys["admin"], action="denied")
    assert [(e["status"], e["actor"]) for e in denials] == [
        (403, "key:sensor-key"), (403, "key:staff-key"), (401, "anonymous")]
    assert [e["status"] for e in entries(client, keys["admin"], actor="key:staff-key")] == [403]
    assert entries(client, keys["admin"], since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat()) == []
    first = client.get("/api/audit", params={"limit": 2}, headers=bearer(keys["admin"])).json()
    assert len(first["entries"]) == 2 and first["next"]
    rest = client.get(first["next"], headers=bearer(keys["admin"])).json()
    assert [e["id"] for e in first["entries"] + rest["entries"]] == [e["id"] for e in entries(client, keys["admin"])]
    assert_problem(client.get("/api/audit", params={"action": "everything"}, headers=bearer(keys["admin"])), 422)
    assert_problem(client.get("/api/audit", params={"since": "2024-01-01T00:00"}, headers=bearer(keys["admin"])), 422)


def test_there_is_no_route_that_changes_the_log(setup):
    app, keys, client = setup
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert client.request(method, "/api/audit", headers=bearer(keys["admin"])).status_code == 405


def append_only(url: str) -> None:
    """UPDATE and DELETE on audit_log fail in the database; the entry is unchanged."""
    store = open_store(url)
    try:
        log = AuditLog(store)
        id_ = log.append(AuditRecord("key:a", "admin", "write", "POST", "/x", 201, "127.0.0.1"))
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
                connection.execute(sa.text(statement))
        assert [(r.id, r.actor) for r in log.query()] == [(id_, "key:a")]
    finally:
        store.close()


def test_the_database_refuses_to_change_the_log_on_sqlite(tmp_path):
    append_only(f"sqlite:///{tmp_path / 'twin.db'}")


@pytest.mark.postgres
def test_the_database_refuses_to_change_the_log_on_postgresql():
    with postgres_cluster() as server:
        append_only(create_database(server, f"twin_audit_{next(_databases)}"))
