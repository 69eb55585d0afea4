"""Operator sign-in with password + TOTP: cookie flags, CSRF on cookie writes, replay and lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.security.conftest import (
    PASSWORD,
    add_operator,
    assert_problem,
    bearer,
    make_app,
    role_keys,
)
from twin.server.problems import Problem
from twin.store.models import User
from twin.store.users import FREE_FAILURES, SignInError


def sign_in(client: TestClient, name: str, code: str, password: str = PASSWORD):
    return client.post("/api/session", json={"name": name, "password": password, "code": code})


def set_cookies(response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, lower-cased for flag checks."""
    return {h.split("=", 1)[0]: h.lower() for h in response.headers.get_list("set-cookie")}


def test_sign_in_sets_a_strict_httponly_cookie_and_me_knows_the_operator(client, app):
    sato = add_operator(app, "sato", "staff")
    response = sign_in(client, "sato", sato.code())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["role"]) == ("sato", "staff") and len(body["csrf_token"]) >= 40
    cookies = set_cookies(response)
    session, csrf = cookies["twin_session"], cookies["twin_csrf"]
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "secure" not in session  # plain HTTP here; test_tls checks Secure over HTTPS
    assert "httponly" not in csrf and "samesite=strict" in csrf
    assert f"twin_csrf={body['csrf_token'].lower()}" in csrf
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/api/me").json() == {"name": "sato", "role": "staff"}


def test_cookie_writes_need_the_csrf_token_but_bearer_keys_do_not(client, app):
    sato = add_operator(app, "sato", "staff")
    token = sign_in(client, "sato", sato.code()).json()["csrf_token"]
    run = {"city": "nowhere", "scenario": "cloudburst-100mm"}
    assert_problem(client.post("/api/scenarios", json=run), 403, "csrf")
    assert_problem(client.post("/api/scenarios", json=run, headers={"X-CSRF-Token": "x" * 43}), 403, "csrf")
    # With the token the request passes the role check and reaches the handler (no such city).
    assert_problem(client.post("/api/scenarios", json=run, headers={"X-CSRF-Token": token}), 404)
    # Reads need no token.
    assert client.get("/api/me").status_code == 200
    # A bearer key is not cookie-authenticated: no CSRF token needed, even with the cookie jar present.
    staff_key = role_keys(app)["staff"]
    assert_problem(client.post("/api/scenarios", json=run, headers=bearer(staff_key)), 404)


def test_a_totp_code_is_accepted_once(client, app):
    sato = add_operator(app, "sato", "staff")
    code = sato.code()
    assert sign_in(client, "sato", code).status_code == 200
    client.cookies.clear()
    assert_problem(sign_in(client, "sato", code), 401, "signin-failed")
    assert "twin_session" not in client.cookies


def test_wrong_password_name_or_code_are_refused_alike(client, app):
    sato = add_operator(app, "sato", "staff")
    wrong = [sign_in(client, "sato", sato.code(), password="wrong password!"),
             sign_in(client, "nobody", sato.code()),
             sign_in(client, "sato", "000000" if sato.code() != "000000" else "111111"),
             sign_in(client, "sato", sato.code(datetime.now(UTC) - timedelta(minutes=5)))]
    details = {assert_problem(r, 401, "signin-failed")["detail"] for r in wrong}
    assert len(details) == 1  # the answer does not tell which part was wrong
    assert_problem(client.get("/api/me"), 401)


def test_repeated_failures_lock_the_account_with_retry_after(tmp_path):
    # Rate limits off: the lockout itself is under test.
    app = make_app(tmp_path / "home", expensive_per_minute=0)
    sato = add_operator(app, "sato", "staff")
    with TestClient(app) as client:
        for _ in range(FREE_FAILURES):
            assert_problem(sign_in(client, "sato", sato.code(), password="not the password"), 401)
        locked = sign_in(client, "sato", sato.code())  # the right password and code, but locked
        assert_problem(locked, 429, "locked")
        assert 1 <= int(locked.headers["retry-after"]) <= 30
    later = datetime.now(UTC) + timedelta(seconds=31)
    signed = app.state.users.sign_in("sato", PASSWORD, sato.code(later), now=later)
    assert signed.user.name == "sato"


def test_lockout_doubles_with_each_further_failure(app):
    sato = add_operator(app, "sato", "staff")
    users, now = app.state.users, datetime.now(UTC)
    locks = []
    for n in range(FREE_FAILURES + 2):
        moment = now + timedelta(days=2 * n)  # past any earlier lockout
        with pytest.raises(SignInError):
            users.sign_in("sato", "not the password", sato.code(moment), now=moment)
        with app.state.store.session() as session:
            locked_until = session.scalar(select(User.locked_until).where(User.name == "sato"))
        locks.append(None if locked_until is None else (locked_until - moment).total_seconds())
    assert locks == [None] * (FREE_FAILURES - 1) + [30, 60, 120]


def test_sign_out_ends_the_session(client, app):
    sato = add_operator(app, "sato", "admin")
    token = sign_in(client, "sato", sato.code()).json()["csrf_token"]
    cookie = client.cookies["twin_session"]
    assert client.get("/api/audit").status_code == 200  # an admin session
    assert_problem(client.delete("/api/session"), 403, "csrf")
    assert client.delete("/api/session", headers={"X-CSRF-Token": token}).status_code == 204
    assert "twin_session" not in client.cookies
    assert_problem(client.get("/api/me", cookies={"twin_session": cookie}), 401, "unauthorized")


def test_expired_sessions_and_disabled_operators_are_refused(client, app):
    sato = add_operator(app, "sato", "staff")
    past = datetime.now(UTC) - timedelta(hours=9)  # sessions last 8 h
    old = app.state.users.sign_in("sato", PASSWORD, sato.code(past), now=past)
    assert_problem(client.get("/api/me", cookies={"twin_session": old.token}), 401)
    fresh = app.state.users.sign_in("sato", PASSWORD, sato.code())
    assert client.get("/api/me", cookies={"twin_session": fresh.token}).status_code == 200
    app.state.users.disable("sato")
    assert_problem(client.get("/api/me", cookies={"twin_session": fresh.token}), 401)
    with pytest.raises(SignInError):
        app.state.users.sign_in("sato", PASSWORD, sato.code(datetime.now(UTC) + timedelta(seconds=30)))


def test_only_hashes_are_stored(app, tmp_path):
    sato = add_operator(app, "sato", "staff")
    signed = app.state.users.sign_in("sato", PASSWORD, sato.code())
    dump = "\n".join(app.state.store.engine.raw_connection().driver_connection.iterdump())
    assert PASSWORD not in dump and signed.token not in dump
    assert "$argon2id$" in dump


def test_a_staff_session_sees_the_staff_events_of_the_stream(app):
    from twin.server.routes.stream import _is_staff

    sato = add_operator(app, "sato", "staff")
    signed = app.state.users.sign_in("sato", PASSWORD, sato.code())

    def request(cookies: dict[str, str]):
        from starlette.requests import Request

        header = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
        return Request({"type": "http", "method": "GET", "path": "/api/stream", "headers": [(b"cookie", header)],
                        "app": app, "query_string": b""})

    assert _is_staff(request({"twin_session": signed.token})) is True
    assert _is_staff(request({})) is False
    with pytest.raises(Problem, match="session has expired"):
        _is_staff(request({"twin_session": "forged"}))
