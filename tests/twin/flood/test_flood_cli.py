"""``twin flood run`` on grids: the output folder, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

from sim.flood import FloodModel
from twin import cli
from twin.files.rasters import Grid, write_grid

TWIN = str(Path(sys.executable).with_name("twin"))
ORIGIN_X, ORIGIN_Y, CELL = 30000.0, -9000.0, 2.0


def _grid(data: np.ndarray, crs: str = "EPSG:6677", cell: float = CELL) -> Grid:
    return Grid(data=data.astype(np.float32), transform=Affine(cell, 0, ORIGIN_X, 0, -cell, ORIGIN_Y),
                crs=CRS.from_string(crs))


@pytest.fixture
def grids(tmp_path: Path) -> Path:
    """A 40 x 50 sloping DEM with a building, as GeoTIFF and .asc, and forcing CSVs."""
    y, x = np.mgrid[0:40, 0:50]
    dem = 0.02 * (40 - y) + 0.1 * np.sin(x / 4.0)
    write_grid(tmp_path / "dem.tif", _grid(dem))
    write_grid(tmp_path / "dem.asc", _grid(dem))
    blocked = np.zeros_like(dem)
    blocked[10:16, 20:28] = 1
    write_grid(tmp_path / "blocked.tif", _grid(blocked))
    write_grid(tmp_path / "small.tif", _grid(dem[:30]))
    write_grid(tmp_path / "other_crs.tif", _grid(blocked, crs="EPSG:6676"))
    holes = dem.copy()
    holes[5, 7] = np.nan
    write_grid(tmp_path / "holes.tif", _grid(holes))
    (tmp_path / "rain.csv").write_text("time_s,mm_per_h\n0,60\n120,120\n240,0\n")
    (tmp_path / "q.csv").write_text("time_s,m3_per_s\n0,0\n60,0.5\n300,0\n")
    (tmp_path / "bad.csv").write_text("time_s,mm_per_h\n0,60\n60,lots\n")
    return tmp_path


def test_grid_run_writes_the_output_folder(grids: Path) -> None:
    """The real console script: every output exists and agrees with the summary."""
    out = grids / "out"
    done = subprocess.run(
        [TWIN, "flood", "run", "--dem", str(grids / "dem.tif"), "--blocked", str(grids / "blocked.tif"),
         "--rain-series", str(grids / "rain.csv"), "--inflow", f"{ORIGIN_X + 20},{ORIGIN_Y - 20}={grids / 'q.csv'}",
         "--inflow", f"{ORIGIN_X + 10},{ORIGIN_Y - 70},{ORIGIN_X + 60},{ORIGIN_Y - 70}=0.1",
         "--boundary", "south=open", "--gauge", f"low={ORIGIN_X + 50},{ORIGIN_Y - 75}",
         "--gauge", f"high={ORIGIN_X + 50},{ORIGIN_Y - 5}", "--duration", "300", "--output-interval", "100",
         "--precision", "float64", "-o", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "mass error" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    for key in ("steps", "cell_steps_per_s", "wall_s", "volume_in_m3", "volume_out_m3", "volume_stored_m3",
                "mass_error_rel", "scheme", "scheme_reason"):
        assert key in summary
    assert f"scheme: {summary['scheme_reason']}" in done.stdout  # auto, the default, says what it picked
    assert summary["mass_error_rel"] < 1e-6 and summary["steps"] > 10
    ds = xr.open_dataset(out / "depth.nc")
    assert ds["depth"].dims == ("time", "y", "x") and ds["wse"].shape == (4, 40, 50)
    assert ds["time"].values.tolist() == [0.0, 100.0, 200.0, 300.0]
    assert ds["x"].values[0] == ORIGIN_X + CELL / 2 and ds["y"].values[0] == ORIGIN_Y - CELL / 2
    assert np.isnan(ds["depth"].values[-1, 12, 22])  # inside the building
    for name in ("u", "v"):
        assert ds[name].dims == ("time", "y", "x") and ds[name].attrs["units"] == "m s-1"
        assert np.isnan(ds[name].values[-1, 12, 22]) and np.isfinite(ds[name].values[-1, 30, 5])
    wet = ds["depth"].values[-1] > 0.05
    assert np.abs(ds["u"].values[-1][wet]).max() + np.abs(ds["v"].values[-1][wet]).max() > 0.01  # it flows
    stored = np.nansum(ds["depth"].values[-1].astype(np.float64)) * CELL**2
    assert stored == pytest.approx(summary["volume_stored_m3"], rel=1e-5)
    with rasterio.open(out / "max_depth.tif") as src:
        max_depth = src.read(1, masked=True)
        assert src.crs == CRS.from_string("EPSG:6677")
    assert float(max_depth.max()) == pytest.approx(summary["max_depth_m"], rel=1e-6)
    with rasterio.open(out / "max_depth.asc") as src:
        assert np.allclose(src.read(1, masked=True), max_depth, atol=1e-5)
    assert (out / "arrival_time.tif").is_file()
    gauges = (out / "gauges.csv").read_text().splitlines()
    assert gauges[0] == "time_s,low,high" and len(gauges) == 5
    assert not list(out.glob(".partial*"))


def _fail(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> str:
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--blocked", "{d}/small.tif"], "30 x 50 cells, the DEM has 40 x 50"),
        (["--manning-grid", "{d}/other_crs.tif"], "differs from the DEM's"),
        (["--duration", "-5"], "--duration must be zero or positive"),
        (["--inflow", "0,0=1"], "lies outside the grid"),
        (["--gauge", f"g={ORIGIN_X + 500},{ORIGIN_Y - 5}"], "lies outside the grid"),
        (["--rain-series", "{d}/bad.csv"], "bad.csv: line 3"),
        (["--boundary", "up=open"], "SIDE one of north, south, east, west"),
        (["--boundary", "east=stage:{d}/missing.csv"], "neither a number nor a CSV"),
        (["--rain", "10", "--rain-series", "{d}/rain.csv"], "not both"),
        (["--scheme", "fast"], "--scheme must be one of inertial, full, auto"),
        (["--boundary", "west=discharge:lots"], "neither a number nor a CSV"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(extra: list[str], expected: str, grids: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    argv = ["--dem", str(grids / "dem.tif"), "--duration", "10", "-o", str(grids / "out"),
            *[a.format(d=grids) for a in extra]]
    if "--duration" in extra:
        del argv[2:4]
    assert expected in _fail(argv, monkeypatch, capsys)
    assert not (grids / "out").exists()


def test_a_diverged_run_is_one_line_exit_1_and_leaves_nothing_half_written(grids: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """A solution that goes NaN mid-run (here set into the water before the first step) stops the
    run with one line naming the time, exit status 1, and nothing half-written in the output folder."""
    run = FloodModel.run

    def run_with_a_nan(self: FloodModel, *args: object, **kwargs: object) -> object:
        self.h[5, 5] = np.nan
        return run(self, *args, **kwargs)

    monkeypatch.setattr(FloodModel, "run", run_with_a_nan)
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", "--dem", str(grids / "dem.tif"), "--rain", "20",
                                      "--duration", "60", "-o", str(grids / "out")])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("twin: error: the flood solution diverged at t = ") and "\n" not in err
    assert not any((grids / "out").iterdir())  # made at the start, and nothing half-written left in it


def test_nodata_in_the_dem_is_named(grids: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture) -> None:
    err = _fail(["--dem", str(grids / "holes.tif"), "--duration", "10", "-o", str(grids / "out")],
                monkeypatch, capsys)
    assert "holes.tif" in err and "row 5, col 7" in err


def test_missing_dem_file_is_named(grids: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture) -> None:
    err = _fail(["--dem", str(grids / "nope.tif"), "--duration", "10", "-o", str(grids / "out")],
                monkeypatch, capsys)
    assert "nope.tif" in err


def test_ascii_dem_runs_in_process(grids: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An .asc DEM (no CRS) with a uniform rain and a stage boundary runs and closes its budget."""
    out = grids / "asc_out"
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", "--dem", str(grids / "dem.asc"), "--rain", "30",
                                      "--boundary", "south=stage:0.3", "--duration", "120", "-o", str(out),
                                      "--json"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["volume_boundary_in_m3"] > 0 and summary["mass_error_rel"] < 1e-4


@pytest.mark.parametrize(
    ("extra", "scheme", "why"),
    [
        (["--rain", "30"], "inertial", "rain only"),  # auto
        (["--inflow", f"{ORIGIN_X + 50},{ORIGIN_Y - 5}=20"], "full", "'inflow1'"),  # auto: 10 m²/s, a breach
        (["--rain", "30", "--scheme", "full"], "full", "chosen by the caller"),
        (["--inflow", f"{ORIGIN_X + 50},{ORIGIN_Y - 5}=20", "--scheme", "inertial"], "inertial", "chosen by the caller"),
    ],
)
def test_scheme_flag_picks_or_obeys(extra: list[str], scheme: str, why: str, grids: Path,
                                    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """--scheme auto (the default) picks the inertial scheme for rain and the full one for a
    breach-sized inflow and prints why; inertial and full are obeyed; summary.json names it."""
    out = grids / "scheme_out"
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", "--dem", str(grids / "dem.tif"), *extra,
                                      "--duration", "30", "--precision", "float64", "-o", str(out)])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scheme"] == scheme and why in summary["scheme_reason"]
    assert summary["scheme_reason"].startswith(f"{scheme}: ")
    assert f"scheme: {summary['scheme_reason']}" in capsys.readouterr().out
    assert summary["mass_error_rel"] < 1e-10
    with xr.open_dataset(out / "depth.nc") as ds:
        assert scheme.replace("full", "full shallow water").replace("inertial", "local inertial") in ds.attrs["source"]


def test_discharge_boundary_from_a_csv(grids: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--boundary north=discharge:CSV feeds the hydrograph across the north side: 0.5 m³/s at
    its peak (q.csv), 75 m³ in all over 300 s, booked as boundary inflow and stored."""
    out = grids / "river_out"
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", "--dem", str(grids / "dem.tif"), "--boundary",
                                      f"north=discharge:{grids / 'q.csv'}", "--duration", "300", "--precision",
                                      "float64", "-o", str(out), "--json"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["volume_boundary_in_m3"] == pytest.approx(75.0, rel=1e-9)
    assert summary["volume_stored_m3"] == pytest.approx(75.0, rel=1e-9)
