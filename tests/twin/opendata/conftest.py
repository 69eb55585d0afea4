"""Open-data fixtures: the sample city's server (tests/twin/conftest.py) served on a loopback port
for real clients (GDAL, OWSLib, ckanapi), with one finished scenario."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.conftest import served
from tests.twin.fixtures_city import CITY_ID
from tests.twin.fixtures_jobs import quick_job, run_job


@pytest.fixture(scope="module")
def job(client, staff) -> str:
    """A finished cloudburst on the sample city (a few seconds of simulation)."""
    return run_job(client, staff, quick_job(100))


@pytest.fixture(scope="module")
def base_url(app, job) -> Iterator[str]:
    """The app served by uvicorn (its lifespan stays with the in-process client)."""
    with served(app, lifespan="off") as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def city_url(base_url) -> str:
    return f"{base_url}/ogcapi/{CITY_ID}"
