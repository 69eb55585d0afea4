"""Module-scoped server fixtures on a copy of the converted sample city: the app, its
TestClient and a staff key's headers (a module that defines its own takes those)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import converted_sample_city, data_dir_linking
from twin.server import Settings, create_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A server data folder holding the converted sample city (linked, not copied)."""
    return data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city())


@pytest.fixture(scope="module")
def app(data_dir):
    return create_app(Settings(data_dir=data_dir))


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def staff(app) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.state.keys.create('ops-desk', 'staff')}"}
