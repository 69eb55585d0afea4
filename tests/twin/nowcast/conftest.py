"""The nowcast's tests share one server home holding the converted sample city, per module, its
client and an API key per role."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import converted_sample_city, data_dir_linking
from twin.server import Settings, create_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city())


@pytest.fixture(scope="module")
def app(data_dir):
    """The server over that home, its background nowcast off: the tests drive the cycles."""
    return create_app(Settings(data_dir=data_dir, nowcast=False))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def keys(app) -> dict[str, dict[str, str]]:
    """Authorization headers of a new key per role."""
    return {role: {"Authorization": f"Bearer {app.state.keys.create(role, role)}"}
            for role in ("admin", "staff", "sensor")}
