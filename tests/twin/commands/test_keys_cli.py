"""``twin keys``: a key is printed once, stored hashed, works against the server, and revokes."""

from __future__ import annotations

import json
import re
import sqlite3

from fastapi.testclient import TestClient

from twin.server import Settings, create_app


def test_create_list_use_and_revoke_a_key(tmp_path, twin):
    created = twin("keys", "create", "--role", "sensor", "--name", "gauge-7", "--data-dir", str(tmp_path))
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert created.stdout.count("\n") == 1 and re.fullmatch(r"twin_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", key)

    with sqlite3.connect(tmp_path / "twin.db") as db:
        (stored,) = db.execute("select key_hash from api_keys where name = 'gauge-7'").fetchone()
        dump = "\n".join(db.iterdump())
    # the whole secret, which may hold "_"
    assert stored.startswith("$argon2id$") and key not in dump and key.split("_", 2)[2] not in dump

    listed = twin("keys", "list", "--json", "--data-dir", str(tmp_path))
    assert listed.returncode == 0
    (entry,) = json.loads(listed.stdout)
    assert entry["name"] == "gauge-7" and entry["role"] == "sensor" and entry["revoked"] is None
    assert key not in listed.stdout

    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        auth = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/me", headers=auth).json() == {"name": "gauge-7", "role": "sensor"}
        revoked = twin("keys", "revoke", "gauge-7", "--data-dir", str(tmp_path))
        assert revoked.returncode == 0, revoked.stderr
        assert client.get("/api/me", headers=auth).status_code == 401  # at once, same server process

    assert json.loads(twin("keys", "list", "--json", "--data-dir", str(tmp_path)).stdout)[0]["revoked"]


def test_bad_requests_exit_2_with_one_line(tmp_path, twin):
    assert twin("keys", "create", "--role", "staff", "--name", "desk", "--data-dir", str(tmp_path)).returncode == 0
    for args, message in [
        (("create", "--role", "staff", "--name", "desk"), "exists already"),
        (("create", "--role", "root", "--name", "other"), "expected one of staff, sensor, admin"),
        (("create", "--role", "staff", "--name", "no spaces"), "key name"),
        (("revoke", "nobody"), "no key named 'nobody'"),
    ]:
        done = twin("keys", *args, "--data-dir", str(tmp_path))
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert done.stdout == ""
