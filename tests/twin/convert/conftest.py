"""A small sample city with its ground also as GSI DEM zips, and a building-only copy of it (session-wide)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from citygml.samplecity import generate


@pytest.fixture(scope="session")
def gsi_sample(tmp_path_factory) -> tuple[Path, Path]:
    """(full, bare): a 150-building sample city with ``gsi/`` DEM5A zips of its ground, and a copy without
    its DEM, GSI zips and flood layers (as a building-only download is)."""
    root = tmp_path_factory.mktemp("gsi-sample")
    full = root / "full"
    generate(full, buildings=150, seed=5, gsi_dem=True)
    bare = root / "bare"
    shutil.copytree(full, bare, ignore=lambda folder, names: [n for n in names if n in ("dem", "gsi", "fld")])
    return full, bare
