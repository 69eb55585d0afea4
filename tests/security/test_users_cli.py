"""``twin users`` (operators with password + TOTP) and ``twin keys create --expires``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import PASSWORD, assert_problem, bearer, make_app
from twin.commands.keys import expiry
from twin.errors import TwinInputError
from twin.store.models import ApiKey


def test_users_create_prints_the_totp_secret_once_and_the_operator_signs_in(tmp_path, twin):
    home = str(tmp_path / "home")
    made = twin("users", "create", "--name", "sato", "--role", "admin", "--password-stdin", "--data-dir", home,
                stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split("TOTP secret:")[1].split()[0]
    uri = urlsplit(made.stdout.split("TOTP URI:")[1].split()[0])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/machi-twin:sato")
    assert parse_qs(uri.query) == {"secret": [secret], "issuer": ["machi-twin"]}
    listed = twin("users", "list", "--data-dir", home)
    assert "sato" in listed.stdout and "admin" in listed.stdout and secret not in listed.stdout

    app = make_app(tmp_path / "home")
    with TestClient(app) as client:
        signed = client.post("/api/session", json={"name": "sato", "password": PASSWORD,
                                                   "code": pyotp.TOTP(secret).now()})
        assert signed.json()["role"] == "admin"
        assert twin("users", "disable", "sato", "--data-dir", home).returncode == 0
        assert_problem(client.get("/api/me"), 401)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--role", "sensor"], PASSWORD, "operators are one of staff, admin"),
    (["--role", "staff"], "short", "at least 12 characters"),
    (["--role", "staff"], "", "no password on standard input"),
])
def test_bad_users_create_is_one_line_and_exit_2(tmp_path, twin, args, stdin, message):
    done = twin("users", "create", "--name", "sato", *args, "--password-stdin", "--data-dir", str(tmp_path),
                stdin=stdin)
    assert done.returncode == 2 and message in done.stderr and done.stderr.strip().count("\n") == 0


def test_a_second_user_of_the_same_name_is_refused(tmp_path, twin):
    args = ["users", "create", "--name", "sato", "--role", "staff", "--password-stdin", "--data-dir", str(tmp_path)]
    assert twin(*args, stdin=PASSWORD).returncode == 0
    again = twin(*args, stdin=PASSWORD)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_keys_expire(tmp_path, twin):
    home = str(tmp_path / "home")
    made = twin("keys", "create", "--role", "staff", "--name", "visitor", "--expires", "2h", "--data-dir", home)
    assert made.returncode == 0, made.stderr
    (listed,) = json.loads(twin("keys", "list", "--json", "--data-dir", home).stdout)
    expires = datetime.fromisoformat(listed["expires"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=2))) < timedelta(minutes=1)
    app = make_app(tmp_path / "home")
    short = app.state.keys.create("brief", "staff", datetime.now(UTC) + timedelta(hours=1))
    with TestClient(app) as client:
        assert client.get("/api/me", headers=bearer(made.stdout.strip())).json()["name"] == "visitor"
        assert client.get("/api/me", headers=bearer(short)).status_code == 200
        with app.state.store.session.begin() as session:  # move the expiry into the past
            session.get(ApiKey, short.split("_")[1]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
        assert "expired" in assert_problem(client.get("/api/me", headers=bearer(short)), 401)["detail"]


def test_expires_accepts_durations_and_zoned_moments_only():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert expiry("12h", now) == now + timedelta(hours=12)
    assert expiry("30d", now) == now + timedelta(days=30)
    assert expiry("2026-04-01T00:00+09:00", now) == datetime(2026, 3, 31, 15, tzinfo=UTC)
    for bad, message in [("2026-04-01T00:00", "time zone"), ("soon", "expected"), ("2025-01-01T00:00Z", "passed")]:
        with pytest.raises(TwinInputError, match=message):
            expiry(bad, now)
