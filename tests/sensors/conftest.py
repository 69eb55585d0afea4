"""Sensor API fixtures: an app with one key per role, an in-process client and a live uvicorn server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from twin.server import Settings, create_app

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


@dataclass(frozen=True)
class Keys:
    admin: str
    sensor: str
    other_sensor: str
    staff: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def river_gauge(name: str = "Tsurumi gauge") -> dict:
    """A Thing with a Location and a water-level Datastream (thresholds 2/3/4 m; range −10..50 m)."""
    return {"name": name, "description": "crisis-management water gauge", "properties": {"kind": "river"},
            "Locations": [{"name": name, "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [139.68, 35.51]}}],
            "Datastreams": [{"name": f"{name} level", "description": "water level",
                             "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "m"},
                             "observationType": MEASUREMENT,
                             "properties": {"thresholds": {"caution": 2.0, "evacuation": 3.0, "danger": 4.0}},
                             "Sensor": {"name": "radar gauge", "encodingType": "text/plain", "metadata": "-"},
                             "ObservedProperty": {"name": "water level", "definition": "urn:water-level",
                                                  "properties": {"range": [-10, 50]}}}]}


@pytest.fixture(scope="session")
def template_home(tmp_path_factory) -> tuple[Path, Keys]:
    """A server home whose database holds one key per role (argon2 hashing runs once per session)."""
    home = tmp_path_factory.mktemp("template")
    app = create_app(Settings(data_dir=home))
    create = app.state.keys.create
    keys = Keys(create("ops", "admin"), create("gauge-1", "sensor"), create("gauge-2", "sensor"),
                create("desk", "staff"))
    app.state.store.close()  # checkpoints the WAL into twin.db
    return home, keys


@pytest.fixture
def home(template_home, tmp_path) -> Path:
    """A fresh copy of the template home for one test."""
    return Path(shutil.copytree(template_home[0], tmp_path / "home"))


@pytest.fixture
def app(home) -> FastAPI:
    return create_app(Settings(data_dir=home))


@pytest.fixture
def keys(template_home) -> Keys:
    return template_home[1]


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_url(app) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for clients that speak real HTTP."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)
