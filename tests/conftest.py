"""Shared fixtures: where the real PLATEAU samples are, and the project's own test data."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLATEAU = Path(os.environ.get("TWIN_PLATEAU_SAMPLES", REPO.parent / "shared" / "data" / "plateau"))


def plateau_sample(name: str) -> Path:
    """Folder of one real PLATEAU sample (read in place), or skip the test with the reason."""
    matches = sorted(PLATEAU.glob(f"{name}*")) if PLATEAU.is_dir() else []
    if not matches:
        pytest.skip(f"real PLATEAU sample {name!r} not found under {PLATEAU} (set TWIN_PLATEAU_SAMPLES)")
    return matches[0]


@pytest.fixture
def yokosuka() -> Path:
    return plateau_sample("14201_yokosuka")


@pytest.fixture
def sapporo() -> Path:
    return plateau_sample("01100_sapporo")


@pytest.fixture
def koshigaya() -> Path:
    return plateau_sample("11222_koshigaya")


@pytest.fixture
def osaka() -> Path:
    return plateau_sample("27100_osaka-shi_city_2024_citygml_1")


@pytest.fixture
def suginami() -> Path:
    return plateau_sample("13115_suginami")


@pytest.fixture
def numazu() -> Path:
    return plateau_sample("22203_numazu")


@pytest.fixture(scope="session")
def sample_city(tmp_path_factory) -> Path:
    """A small sample city written by ``citygml.samplecity`` (shared by the session)."""
    from citygml.samplecity import generate

    out = tmp_path_factory.mktemp("sample") / "sample_city"
    generate(out, buildings=300, seed=7)
    return out


@pytest.fixture(scope="session")
def converted_city(sample_city, tmp_path_factory) -> Path:
    """The sample city converted into a City folder, in a data dir of its own."""
    from twin.convert.pipeline import convert

    out = tmp_path_factory.mktemp("data") / "sample"
    convert(sample_city, out)
    return out


@dataclass
class Done:
    """What an in-process ``twin`` command ended with."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def twin(capsys, monkeypatch) -> Callable[..., Done]:
    """Run the ``twin`` entry point in-process (its start-up imports take seconds per process),
    with ``stdin`` as the text it reads."""
    from twin.cli import main

    def run(*args: str, stdin: str = "") -> Done:
        monkeypatch.setattr(sys, "argv", ["twin", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run



@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for ``--dist loadgroup`` (``make test PYTEST_WORKERS=2``): each file is one group, and
    every browser test is in one group, so that two software-WebGL pages never draw at once (each
    then runs 2-3x slower) while the other worker runs the rest."""
    for item in items:
        browser = item.get_closest_marker("browser") is not None
        item.add_marker(pytest.mark.xdist_group("browser" if browser else item.nodeid.split("::")[0]))
