"""Store fixtures: every ``database_url`` test runs on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.store.postgres import create_database, postgres_cluster

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster for the session (skips with the reason when PostgreSQL is missing)."""
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """An empty database of each backend: a SQLite file, or a new database on the cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'twin.db'}"
    server = request.getfixturevalue("postgres_server")
    return create_database(server, f"twin_test_{next(_databases)}")
