"""``twin evacuate run`` on grid files: outputs, a flood from depth.nc, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
from affine import Affine

from sim.evacuation.rimea import agents_table, box, carve
from twin.files.rasters import Grid, write_grid

CELL = 0.5


def twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from twin.cli import main; main()", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def scene(tmp_path: Path) -> dict[str, Path]:
    """A 20 m × 10 m room with a door in the east wall, 30 people, the exit at the door."""
    lay = box(0.0, 0.0, 20.0, 10.0, cell_size=CELL, wall=CELL)
    carve(lay, 20.0, 4.0, 20.5, 6.0)
    transform = Affine(CELL, 0.0, lay.origin[0], 0.0, -CELL, lay.origin[1])
    write_grid(tmp_path / "walls.asc", Grid(lay.walls.astype(np.float32), transform, None))
    rng = np.random.default_rng(1)
    agents = agents_table(rng.uniform(1, 15, 30), rng.uniform(1, 9, 30),
                          profile=np.where(np.arange(30) < 25, "adult", "elderly"))
    agents.to_csv(tmp_path / "agents.csv", index=False)
    pd.DataFrame([("door", 20.5, 5.0, 1.0, "")], columns=["id", "x", "y", "radius_m", "capacity"]).to_csv(
        tmp_path / "exits.csv", index=False)
    return {"walls": tmp_path / "walls.asc", "agents": tmp_path / "agents.csv", "exits": tmp_path / "exits.csv",
            "dir": tmp_path, "shape": lay.walls.shape, "transform": transform}


def write_depth(path: Path, shape: tuple[int, int], transform: Affine, frames: list[tuple[float, float]]) -> Path:
    """depth.nc as ``twin flood run`` writes it: y descending (row 0 north), uniform depths."""
    rows, cols = shape
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", None)
        ds.createDimension("y", rows)
        ds.createDimension("x", cols)
        ds.createVariable("time", "f8", ("time",))[:] = [t for t, _ in frames]
        ds.createVariable("x", "f8", ("x",))[:] = transform.c + CELL * (np.arange(cols) + 0.5)
        ds.createVariable("y", "f8", ("y",))[:] = transform.f - CELL * (np.arange(rows) + 0.5)
        ds.createVariable("depth", "f4", ("time", "y", "x"))[:] = np.stack(
            [np.full(shape, d, dtype=np.float32) for _, d in frames])
    return path


def test_run_writes_arrivals_trajectories_and_summary(scene):
    out = scene["dir"] / "out"
    proc = twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits",
                scene["exits"], "--duration", 120, "--dt", 0.2, "--seed", 3, "--trajectory-interval", 1, "-o", out)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    for key in ("agents", "arrived", "stranded", "evacuation_time_s", "agent_steps_per_s", "wall_s"):
        assert key in summary
    assert summary["agents"] == summary["arrived"] == 30 and summary["stranded"] == 0
    arrivals = pd.read_csv(out / "arrivals.csv")
    assert list(arrivals.columns) == ["agent_id", "exit_id", "start_s", "arrival_s"]
    assert arrivals["arrival_s"].max() == pytest.approx(summary["evacuation_time_s"])
    # the farthest person walks ~19 m at ≤ 1.61 m/s, the slowest elderly at ≥ 0.68 m/s
    assert 19.0 / 1.61 < summary["evacuation_time_s"] < 19.0 / 0.68 + 20.0
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert list(traj.columns) == ["agent_id", "t", "x", "y"] and len(traj) > 30


def test_flood_from_depth_nc_slows_and_strands(scene):
    depth = write_depth(scene["dir"] / "depth.nc", scene["shape"], scene["transform"], [(0.0, 0.0), (20.0, 0.4)])
    out = scene["dir"] / "flooded"
    proc = twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits",
                scene["exits"], "--flood", depth, "--duration", 120, "-o", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    # water reaches the elderly limit (0.3 m) at 15 s: the five elderly cannot make 19 m by then
    assert summary["stranded"] >= 1
    stranded = pd.read_csv(out / "stranded.csv")
    assert set(stranded.columns) == {"agent_id", "stranded_s", "x", "y"}
    assert stranded["stranded_s"].between(14.9, 15.3).all()


def bad(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_agent_inside_a_wall(scene):
    a = pd.read_csv(scene["agents"])
    a.loc[3, ["x", "y"]] = [20.2, 1.0]
    a.to_csv(scene["agents"], index=False)
    bad(twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits", scene["exits"],
             "-o", scene["dir"] / "o"), "agents.csv", "agent 3", "inside a wall")


def test_exit_outside_the_grid(scene):
    (scene["dir"] / "exits.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [90.0, 5.0]},
         "properties": {"id": "far", "radius_m": 1.0}}]}))
    bad(twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits",
             scene["dir"] / "exits.geojson", "-o", scene["dir"] / "o"), "exits.geojson", "far", "outside the grid")


def test_flood_grid_of_another_shape(scene):
    rows, cols = scene["shape"]
    depth = write_depth(scene["dir"] / "depth.nc", (rows, cols - 4), scene["transform"], [(0.0, 0.1)])
    bad(twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits", scene["exits"],
             "--flood", depth, "-o", scene["dir"] / "o"), "depth.nc", "cells")


@pytest.mark.parametrize("text, words", [
    ("id,x,y\n1,2.0,oops\n", ["line 2", "y", "not a number"]),
    ("id,x\n1,2.0\n", ["missing column", "y"]),
    ('id,x,y\n1,"2.0,3\n', ["agents.csv"]),
])
def test_malformed_agents_csv(scene, text, words):
    scene["agents"].write_text(text)
    bad(twin("evacuate", "run", "--walls", scene["walls"], "--agents", scene["agents"], "--exits", scene["exits"],
             "-o", scene["dir"] / "o"), "agents.csv", *words)
    assert not (scene["dir"] / "o" / "summary.json").exists()
