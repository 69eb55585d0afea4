"""Ensembles on a converted sample city: serial, on a real dask cluster on loopback, with failing members.

The cluster is a ``dask scheduler`` and a ``dask worker`` (two worker processes) started as separate
processes on free loopback ports and stopped in a finalizer. Its ensemble must equal the same
members run one after the other in this process, bit for bit: the counts are integers (the order
members finish in cannot change them) and percentiles are picked from the members' saved rasters.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import netCDF4
import numpy as np
import pytest

from tests.twin.fixtures_city import converted_sample_city
from twin.ensembles.design import Varied
from twin.ensembles.members import MAX_DEPTH, WETTED, member_folder
from twin.ensembles.run import EnsembleSpec, ensemble_runner, run_ensemble
from twin.errors import TwinInputError
from twin.flood.scenario import load_scenario, parse_toml

DASK = str(Path(sys.executable).with_name("dask"))
TWIN = str(Path(sys.executable).with_name("twin"))
# A short, strong storm on a coarse grid: every member wets some of the 120 buildings in 15 minutes
# and runs in well under a second once numba's cache is warm.
STORM = """
name = "test-storm"
duration_s = 900
output_interval_s = 900
scheme = "inertial"
[rain]
series = [[0, 400], [600, 0]]
"""
VARIED = (Varied("rain", 0.5, 1.5), Varied("manning", 0.5, 2.0))
MEMBERS = 4


def _spec(**changes) -> EnsembleSpec:
    values = dict(city=converted_sample_city(), scenario=parse_toml(STORM, "test-storm"), varied=VARIED,
                  members=MEMBERS, seed=11, cell_size=16.0)
    values.update(changes)
    return EnsembleSpec(**values)


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serial") / "ensemble"
    with ensemble_runner(0) as runner:
        run_ensemble(_spec(), out, runner)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory, request) -> str:
    """A dask scheduler and two single-threaded workers, each a process of its own, on loopback."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                  stdout=subprocess.DEVNULL, stderr=(logs / "scheduler.log").open("w"))]

    def stop() -> None:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    request.addfinalizer(stop)
    time.sleep(1.0)
    processes.append(subprocess.Popen(
        [DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
         "--local-directory", str(logs)], stdout=subprocess.DEVNULL, stderr=(logs / "workers.log").open("w")))
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
    return address


def test_a_cluster_of_separate_processes_gives_the_serial_ensemble_bit_for_bit(serial, scheduler, tmp_path):
    out = tmp_path / "ensemble"
    # member 1's first attempt fails on its worker (test hook): its retry must give the same member
    with ensemble_runner(0, scheduler) as runner:
        summary = run_ensemble(_spec(fail_attempts={1: 1}), out, runner)
    assert summary["members_used"] == MEMBERS and summary["retried"] == [1] and summary["failed"] == []
    assert (out / "members.csv").read_bytes() == (serial / "members.csv").read_bytes()
    with netCDF4.Dataset(out / "ensemble.nc") as a, netCDF4.Dataset(serial / "ensemble.nc") as b:
        for name in ("p_exceed_0_5m", "p_exceed_3m", "max_depth", "arrival_time"):
            np.testing.assert_array_equal(a[name][:].filled(np.nan), b[name][:].filled(np.nan), err_msg=name)
    for m in range(MEMBERS):
        for name in (MAX_DEPTH, WETTED):
            assert np.array_equal(np.load(member_folder(out, m) / name), np.load(member_folder(serial, m) / name),
                                  equal_nan=name == MAX_DEPTH)
    a_b, b_b = gpd.read_parquet(out / "buildings.parquet"), gpd.read_parquet(serial / "buildings.parquet")
    assert a_b["p_wetted"].equals(b_b["p_wetted"])


def test_the_maps_are_the_share_of_members_read_back_from_their_rasters(serial):
    depths = np.stack([np.nan_to_num(np.load(member_folder(serial, m) / MAX_DEPTH)) for m in range(MEMBERS)])
    wetted = np.stack([np.load(member_folder(serial, m) / WETTED) for m in range(MEMBERS)])
    with netCDF4.Dataset(serial / "ensemble.nc") as ds:
        assert ds.Conventions == "CF-1.8"
        assert ds["crs"].grid_mapping_name == "transverse_mercator"  # JGD2011 plane rectangular zone
        assert ds["p_exceed_0_5m"].grid_mapping == "crs" and ds["x"].standard_name == "projection_x_coordinate"
        p05 = ds["p_exceed_0_5m"][:].filled(np.nan)
        median = ds["max_depth"][1].filled(np.nan)
    # the 0.1 mm wet tolerance aside (no member depth lies within it of 0.5 m here), P = share ≥ 0.5 m
    assert not np.any(np.abs(depths - 0.5) < 1e-4)
    np.testing.assert_array_equal(p05, (depths >= 0.5).mean(axis=0).astype(np.float32))
    assert p05.max() > 0  # the storm puts half a metre somewhere
    np.testing.assert_array_equal(median, np.sort(depths, axis=0)[1])  # 2 of 4 members at or below: the 2nd
    buildings = gpd.read_parquet(serial / "buildings.parquet")
    assert buildings.crs.to_epsg() == 6668 and len(buildings) == wetted.shape[1]
    np.testing.assert_array_equal(buildings["p_wetted"].to_numpy(), wetted.mean(axis=0).astype(np.float32))
    assert 0 < buildings["p_wetted"].max()


def test_a_member_that_fails_twice_is_reported_and_the_rest_make_the_ensemble(serial, tmp_path):
    out = tmp_path / "ensemble"
    summary = run_ensemble(_spec(fail_attempts={0: 1, 2: 2}), out)
    assert summary["members_used"] == MEMBERS - 1 and summary["used"] == [0, 1, 3]
    assert summary["retried"] == [0]
    [failed] = summary["failed"]
    assert failed["member"] == 2 and len(failed["errors"]) == 2 and "InjectedFailure" in failed["errors"][0]
    assert not member_folder(out, 2).exists()
    # the retried member equals its first-time run in the serial ensemble
    assert np.array_equal(np.load(member_folder(out, 0) / MAX_DEPTH), np.load(member_folder(serial, 0) / MAX_DEPTH),
                          equal_nan=True)
    with netCDF4.Dataset(out / "ensemble.nc") as ds:
        assert ds.members_used == 3


def test_an_ensemble_that_cannot_vary_its_scenario_writes_nothing(tmp_path):
    out = tmp_path / "never"
    breach = load_scenario("river-breach")  # no rain to scale
    with pytest.raises(TwinInputError, match="has no rain to vary"):
        run_ensemble(_spec(scenario=breach), out)
    with pytest.raises(TwinInputError, match="has no breach line"):
        run_ensemble(_spec(varied=(Varied("breach_width", 20, 80),)), out)
    assert not out.exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(TwinInputError, match="not an empty folder"):
        run_ensemble(_spec(), tmp_path / "used")


def test_the_command_refuses_an_unknown_parameter_in_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([TWIN, "ensemble", "run", "--city", str(converted_sample_city()), "--scenario",
                           "cloudburst-100mm", "--vary", "wind=1:2", "--members", "4", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("twin: error: cannot vary 'wind'") and "Traceback" not in done.stderr
    assert not out.exists()


def test_the_command_runs_a_two_member_ensemble_in_process_and_writes_its_outputs(twin, tmp_path):
    storm = tmp_path / "storm.toml"
    storm.write_text(STORM, encoding="utf-8")
    out = tmp_path / "out"
    done = twin("ensemble", "run", "--city", str(converted_sample_city()), "--scenario", str(storm),
                "--vary", "rain=0.5:1.5", "--vary", "manning=0.5:2.0", "--members", "2", "--seed", "11",
                "--cell-size", "16", "--workers", "0", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ensemble: 2 of 2 members used (0 after a retry, 0 failed)"), done.stdout
    for name in ("members.csv", "ensemble.nc", "buildings.parquet", "probability.png", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["members_requested"], summary["members_used"], summary["used"], summary["failed"]) == (2, 2, [0, 1], [])
    assert list(summary["varied"]) == ["rain", "manning"]
    with netCDF4.Dataset(out / "ensemble.nc") as ds:
        assert ds.members_used == 2
    buildings = gpd.read_parquet(out / "buildings.parquet")
    assert len(buildings) == summary["buildings"]["count"] > 0
    assert set(np.unique(buildings["p_wetted"])) <= {0.0, 0.5, 1.0}  # the share of two members
    assert all(member_folder(out, k).is_dir() for k in (0, 1))
