"""Fixtures for the real samples the reader tests name exactly (see ../shared/data/plateau/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import plateau_sample


@pytest.fixture
def osaka2() -> Path:
    """Osaka's 63 buildings as PLATEAU published them (CityGML 2.0, i-UR 3.1)."""
    return plateau_sample("27100_osaka-shi_city_2024_citygml_1_op")


@pytest.fixture
def osaka3() -> Path:
    """The same 63 buildings converted to CityGML 3.0 / i-UR 4.0 by a third party's converter."""
    return plateau_sample("27100_osaka-shi_city_2024_citygml3_converted_op")


@pytest.fixture
def tokyo2020() -> Path:
    return plateau_sample("13100_tokyo23-ku_city_2020")


@pytest.fixture
def tsukuba() -> Path:
    return plateau_sample("08220_tsukuba")


@pytest.fixture
def nagaoka() -> Path:
    return plateau_sample("15202_nagaoka")


@pytest.fixture
def bunkyo() -> Path:
    return plateau_sample("13105_bunkyo")


@pytest.fixture
def ajigasawa() -> Path:
    return plateau_sample("02321_ajigasawa")


@pytest.fixture
def fukuoka() -> Path:
    return plateau_sample("40130_fukuoka")


@pytest.fixture
def tamana() -> Path:
    return plateau_sample("43206_tamana")
