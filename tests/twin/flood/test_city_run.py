"""``twin flood run --city``: built-in scenarios on a converted sample city, per-building results."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.flood import Scheme, choose_scheme
from twin.city.grids import load_grids
from twin.flood.city_run import flood_run, run_city_flood
from twin.flood.scenario import load_scenario, parse_scenario, parse_toml

TWIN = str(Path(sys.executable).with_name("twin"))
#: Lowland north of the scarp up to just past 荒川's levees, with the terrace edge to the south.
BREACH_BBOX = (139.466, 35.929, 139.478, 35.9385)


@functools.cache
def breach_city(root: Path) -> Path:
    """1,000-building sample city (seed 2) converted over BREACH_BBOX at 4 m."""
    from citygml.samplecity import generate
    from twin.convert.pipeline import ConvertOptions, convert

    generate(root / "source", buildings=1000, seed=2)
    convert(root / "source", root / "city", ConvertOptions(bbox=BREACH_BBOX, resolution=4.0))
    return root / "city"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    return breach_city(tmp_path_factory.mktemp("breach"))


@pytest.fixture(scope="module")
def breach(city, tmp_path_factory) -> tuple[dict, pd.DataFrame]:
    out = tmp_path_factory.mktemp("breach-out")
    summary = run_city_flood(load_grids(city, 8.0), load_scenario("river-breach"), out,
                             scheme=Scheme(threads=1), duration_s=5400, output_interval_s=900)
    return summary, pd.read_parquet(out / "buildings.parquet")


def test_builtin_scenarios_parse():
    breach, rain = load_scenario("river-breach"), load_scenario("cloudburst-100mm")
    assert breach.inflows[0].crs == "lonlat" and len(breach.inflows[0].positions) == 2
    assert breach.inflows[0].m3_per_s(1800) == pytest.approx(500) and breach.inflows[0].m3_per_s(7200) == 0
    assert rain.rain(0) == 100 and rain.rain(3599) == 100 and rain.rain(3600) == 0
    assert breach.boundaries == () and breach.duration_s == 10800
    assert (rain.manning, rain.manning_roads, rain.buildings) == (0.03, 0.015, "walls")


@pytest.mark.parametrize("text, message", [
    ('name = "x"\nduration_s = -1', "duration_s: must be at least 0"),
    ('name = "x"\nduration_s = 60\n[[inflows]]\nlonlat = [139.4, 35.9]', "inflows[0].m3_per_s: required"),
    ('name = "x"\nduration_s = 60\n[[inflows]]\nxy = [1, 2]\nlonlat = [1, 2]\nm3_per_s = 1', "inflows[0]: give exactly one"),
    ('name = "x"\nduration_s = 60\n[rain]\nseries = [[0, 10], [0, 5]]', "rain.series: times must increase"),
    ('name = "x"\nduration_s = 60\n[boundaries]\nup = "open"', "boundaries.up: unknown side"),
    ('name = "x"\nduration_s = 60\nbuildings = "floating"', "buildings.mode: one of walls"),
    ('name = "x"\nduration = 60', "duration: unknown key"),
    ('name = "x"\nduration_s = 60\n[manning]\nroads = "smooth"', "manning.roads: expected a number"),
    ('name = "x"\nduration_s = 60\nscheme = "fast"', "scheme: one of inertial, full, auto"),
])
def test_bad_scenarios_name_the_file_and_key(text, message):
    with pytest.raises(ValueError) as err:
        parse_toml(text, "my.toml")
    assert str(err.value).startswith("my.toml: ") and message in str(err.value)


HUGE = 10**400  # JSON integers have any size; a float holds none this large


@pytest.mark.parametrize("overrides, message", [
    ({"duration_s": HUGE}, "duration_s: expected a number, got 1000"),
    ({"rain": HUGE}, "rain: must be a finite number"),
    ({"rain": {"series": [[0, 10], [60, HUGE]]}}, "rain.series: holds NaN, infinite or out-of-range values"),
    ({"inflows": [{"xy": [HUGE, 0], "m3_per_s": 1}]}, "inflows[0].xy: expected [a, b]"),
    ({"boundaries": {"north": -HUGE}}, "boundaries.north"),
])
def test_numbers_beyond_a_float_are_refused_by_name(overrides, message):
    """A request body's integer too large for a float is a clear input error, not a crash (it was a
    500 from the scenario route: numpy's isfinite cannot take such an int)."""
    with pytest.raises(ValueError) as err:
        parse_scenario({"name": "x", "duration_s": 60, **overrides}, "body")
    assert message in str(err.value) and len(str(err.value)) < 200


def test_breach_wets_lowland_buildings_first_and_not_the_terrace(breach):
    summary, table = breach
    wetted = table[table["first_wet_s"].notna()]
    assert summary["buildings"]["wetted"] == len(wetted) > 5
    assert summary["mass_error_rel"] < 1e-4
    heights = table["ground_height"]
    assert heights[wetted.index].max() < 11.0, "only lowland buildings get wet"
    terrace = heights >= 14.0
    assert terrace.sum() > 0 and table.loc[terrace, "first_wet_s"].isna().all()
    assert (table.loc[terrace, "max_adjacent_depth_m"].fillna(0) < 0.01).all()
    # the first buildings reached are the ones nearest the breach (northernmost), well before the end
    first = wetted.sort_values("first_wet_s").head(3)
    assert first["first_wet_s"].max() < 5400
    assert first["centroid_lat"].mean() > wetted["centroid_lat"].mean()


def test_scenarios_leave_the_scheme_to_auto_which_runs_the_breach_full(city):
    grids = load_grids(city, 8.0)
    run = flood_run(grids, load_scenario("river-breach"))
    assert run.scheme.kind == "auto"
    # 500 m³/s through a 100 m breach is 5 m²/s per metre: a fast front, the full scheme's case
    choice = choose_scheme(run.dem.data, run.dem.cell_size, run.forcing, manning=run.manning,
                           walls=run.blocked >= 1.0)
    assert choice.kind == "full" and "'breach'" in choice.reason
    assert flood_run(grids, parse_toml('name = "x"\nduration_s = 60\nscheme = "inertial"', "x.toml")).scheme.kind \
        == "inertial"


def test_comparison_counts_add_up_to_buildings_with_official_depths(breach, city):
    summary, table = breach
    comparison = summary["comparison"]
    counts = np.array(comparison["counts"])
    assert counts.shape == (6, 7)
    official = pd.read_parquet(city / "buildings.parquet")["max_flood_rank"].notna().sum()
    assert counts.sum() == comparison["buildings_with_official_rank"] == official > 0
    assert comparison["agreeing"] == np.trace(counts[:, 1:])
    assert comparison["agreement"] == pytest.approx(comparison["agreeing"] / counts.sum(), abs=1e-4)
    ranks = table["simulated_rank"]
    assert set(ranks.unique()) <= set(range(7))
    deep = table["max_adjacent_depth_m"] >= 0.5
    wet = table["max_adjacent_depth_m"] >= 0.1  # the documented wet depth (twin.depth_classes.WET_DEPTH_M)
    assert (ranks[deep] >= 2).all() and (ranks[~deep & wet] == 1).all() and (ranks[~wet] == 0).all()


def test_cloudburst_conserves_mass(city, tmp_path):
    scenario = load_scenario("cloudburst-100mm")
    summary = run_city_flood(load_grids(city, 8.0), scenario, tmp_path, scheme=Scheme(threads=1),
                             duration_s=900, output_interval_s=300)
    assert summary["volume_out_m3"] == 0  # every side closed
    # float64 volumes summed over a few hundred steps: round-off is ~1e-12 of the total, so
    # 1e-9 leaves room for the order of summation while catching any lost or invented water.
    assert summary["volume_stored_m3"] == pytest.approx(summary["volume_rain_m3"], rel=1e-9)
    assert summary["mass_error_rel"] < 1e-9
    # 100 mm/h for 900 s = 25 mm on the open part of each 8 m cell (a building's share gets none)
    open_area = float((1.0 - load_grids(city, 8.0).blocked).sum()) * 64.0
    assert summary["volume_rain_m3"] == pytest.approx(0.025 * open_area, rel=1e-9)
    for name in ("depth.nc", "max_depth.tif", "max_depth.asc", "arrival_time.tif", "max_velocity.tif",
                 "gauges.csv", "summary.json", "buildings.parquet"):
        assert (tmp_path / name).is_file(), name


def test_cli_city_mode_writes_outputs_and_summary(city, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([TWIN, "flood", "run", "--city", str(city), "--scenario", "cloudburst-100mm",
                           "--cell-size", "8", "--duration", "300", "--threads", "1", "-o", str(out), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["scenario"]["name"] == "cloudburst-100mm" and summary["city"] == "city"
    assert summary["scheme"] == "inertial" and summary["scheme_reason"].startswith("inertial: rain")  # auto's pick
    assert json.loads((out / "summary.json").read_text())["comparison"] == summary["comparison"]
    assert len(pd.read_parquet(out / "buildings.parquet")) == summary["buildings"]["count"]


def _cli_error(*args: str) -> str:
    done = subprocess.run([TWIN, "flood", "run", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twin: error: ") and "Traceback" not in done.stderr
    return lines[0]


def test_cli_errors_are_one_line_and_exit_2(city, tmp_path):
    out = str(tmp_path / "out")
    assert "no such City folder" in _cli_error("--city", str(tmp_path / "nowhere"), "--scenario", "river-breach", "-o", out)
    assert "unknown scenario 'tsunami'" in _cli_error("--city", str(city), "--scenario", "tsunami", "-o", out)
    far = tmp_path / "far.toml"
    far.write_text('name = "far"\nduration_s = 60\n[[inflows]]\nlonlat = [139.0, 35.5]\nm3_per_s = 10\n')
    message = _cli_error("--city", str(city), "--scenario", str(far), "-o", out)
    assert f"{far}: inflows[0].lonlat: (139, 35.5) lies outside the grid" in message
    assert "belongs to the grid mode" in _cli_error("--city", str(city), "--scenario", "river-breach",
                                                    "--rain", "5", "-o", out)
    assert not Path(out).exists()
