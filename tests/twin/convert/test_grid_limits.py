"""Limits are checked before the work: a grid over the cell limit fails up front, or (by default) the
City gets a coarser cell size, chosen up front and said."""

from __future__ import annotations

import pytest

import twin.convert.grid_frame as grid_frame
from twin.convert.pipeline import ConvertOptions, convert
from twin.errors import TwinInputError


def refusing_runner(task, args, done):
    raise AssertionError("no file should be converted before the limits are checked")


def test_a_cell_size_over_the_limit_fails_before_any_file_is_read(gsi_sample, tmp_path, monkeypatch):
    _, bare = gsi_sample
    monkeypatch.setattr(grid_frame, "MAX_GRID_CELLS", 20_000)
    with pytest.raises(TwinInputError, match=r"--resolution 2 m .* over the limit of 0 M"):
        convert([bare], tmp_path / "city", ConvertOptions(resolution=2.0), runner=refusing_runner)
    assert not (tmp_path / "city").exists() and not list(tmp_path.glob(".city*"))


def test_the_default_cell_size_grows_up_front_and_says_so(gsi_sample, tmp_path, monkeypatch):
    _, bare = gsi_sample
    monkeypatch.setattr(grid_frame, "MAX_GRID_CELLS", 200_000)
    manifest = convert([bare], tmp_path / "city")
    grid = manifest["grid"]
    assert grid["resolution"] > grid_frame.DEFAULT_RESOLUTION
    assert grid["width"] * grid["height"] <= 200_000
    assert any(f"so it is {grid['resolution']:g} m" in w for w in manifest["warnings"])
