"""Security fixtures: an app factory, one key per role, and an operator who can sign in with TOTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.browser.serving import free_port
from twin.server import Settings, create_app

PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Operator:
    name: str
    role: str
    secret: str

    def code(self, at: datetime | None = None) -> str:
        """The authenticator app's code now (or at ``at``)."""
        return pyotp.TOTP(self.secret).at(at or datetime.now(UTC))


def make_app(data_dir: Path, **settings) -> FastAPI:
    return create_app(Settings(data_dir=data_dir, **settings))


def role_keys(app: FastAPI) -> dict[str, str]:
    """One API key per role, created directly in the app's store."""
    return {role: app.state.keys.create(f"{role}-key", role) for role in ("staff", "sensor", "admin")}


def add_operator(app: FastAPI, name: str = "sato", role: str = "staff") -> Operator:
    created = app.state.users.create(name, role, PASSWORD)
    return Operator(name, role, created.totp_secret)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"/problems/{slug}"
    return body


@pytest.fixture
def app(tmp_path) -> FastAPI:
    return make_app(tmp_path / "home")


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@contextmanager
def served(app: FastAPI, **config) -> Iterator[int]:
    """``app`` served by uvicorn in a thread on a free loopback port (``config``: e.g. ssl files); yields the port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
