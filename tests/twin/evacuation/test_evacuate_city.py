"""City-mode evacuation: people from buildings, shelters from official lists, water from a flood
or the official layers, and the results of a scenario job over HTTP."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import geopandas as gpd
import netCDF4
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box

from tests.twin.fixtures_city import (
    CITY_ID,
    TWIN,
    converted_sample_city,
    data_dir_linking,
)
from twin.city.grids import load_grids
from twin.city.shelters import read_shelters, vertical_shelters
from twin.errors import TwinInputError
from twin.evacuation.city_run import CityEvacuation, run_city_evacuation
from twin.evacuation.population import (
    DEFAULT_OCCUPANCY,
    ELDERLY_SHARE,
    NEEDS_HELP_SHARE,
    building_people,
    default_occupancy,
    read_occupancy,
    sample_agents,
)

OUTPUT_COLUMNS = {
    "clearance.csv": ["t_s", "arrived", "stranded", "evacuating"],
    "shelters.csv": ["shelter_id", "name", "lon", "lat", "capacity", "arrivals", "overflow", "redirected_in"],
    "stranded.csv": ["agent_id", "profile", "t_s", "lon", "lat", "people"],
    "buildings.csv": ["gml_id", "people", "median_evacuation_s"],
}
OFFICIAL_HEADER = ("共通ID,施設・場所名,住所,洪水,崖崩れ、土石流及び地滑り,高潮,地震,津波,大規模な火事,内水氾濫,火山現象,"
                   "緯度,経度,想定収容人数\n")


def _density(code: str, column: int) -> float:
    table = {row[0]: row for row in DEFAULT_OCCUPANCY}
    return table.get(code, table["*"])[column]


def test_people_are_floor_area_times_the_table_density():
    frame = gpd.GeoDataFrame({"gml_id": ["house", "office", "unknown"], "usage_code": ["411", "401", "999"],
                              "storeys": [2.0, np.nan, 3.0], "height": [6.0, 12.5, 9.0]},
                             geometry=[box(0, 0, 10, 10), box(20, 0, 40, 10), box(50, 0, 60, 5)], crs="EPSG:6677")
    night = building_people(frame, default_occupancy(), "night")
    day = building_people(frame, default_occupancy(), "day")
    # house: 100 m² × 2 storeys at 1/40; office: 200 m² × round(12.5 / 3) = 4 storeys; unknown code: the * row
    np.testing.assert_allclose(night, [200 / 40, 0.0, 150 * _density("*", 2)])
    np.testing.assert_allclose(day, [200 * 0.4 / 40, 800 / 12, 150 / 50])


def test_population_of_a_converted_city_follows_the_formula(converted_city, tmp_path):
    city = load_grids(converted_city)
    b = city.buildings
    storeys = np.where(b["storeys"] > 0, b["storeys"], np.maximum(1, np.round(b["height"].fillna(3.0) / 3)))
    expected = sum(float(g.area) * s * _density(str(code), 2)
                   for g, s, code in zip(b.geometry, storeys, b["usage_code"].fillna("*")))
    assert building_people(b, default_occupancy(), "night").sum() == pytest.approx(expected, rel=1e-9)
    table = tmp_path / "occupancy.csv"
    table.write_text("usage_code,label,night_per_m2,day_per_m2\n*,everything,0.01,0.02\n", encoding="utf-8")
    floor = sum(float(g.area) * s for g, s in zip(b.geometry, storeys))
    assert building_people(b, read_occupancy(table), "day").sum() == pytest.approx(0.02 * floor, rel=1e-9)


def test_occupancy_tables_need_a_fallback_and_numbers(tmp_path):
    no_star = tmp_path / "a.csv"
    no_star.write_text("usage_code,label,night_per_m2,day_per_m2\n411,house,0.025,0.01\n", encoding="utf-8")
    with pytest.raises(TwinInputError, match=r"a\.csv: needs a row with usage_code \*"):
        read_occupancy(no_star)
    bad = tmp_path / "b.csv"
    bad.write_text("usage_code,label,night_per_m2,day_per_m2\n*,x,0.01,lots\n", encoding="utf-8")
    with pytest.raises(TwinInputError, match=r"b\.csv: line 2: day_per_m2 'lots' is not a density"):
        read_occupancy(bad)


def test_sampled_agents_carry_their_buildings_people():
    people = np.array([0.0, 3.2, 57.0, 1000.0])
    agents = sample_agents(people, 10.0, {"adult": 0.7, "elderly": 0.2, "needs_help": 0.1},
                           np.random.default_rng(3))
    per_building = agents.groupby("building")["weight"].sum()
    np.testing.assert_allclose(per_building.to_numpy(), people[per_building.index.to_numpy()])
    assert 5 <= (agents["building"] == 2).sum() <= 6  # 57 / 10 rounded down or up
    assert (agents["building"] == 3).sum() == 100
    assert set(agents["profile"]) <= {"adult", "elderly", "needs_help"}


def test_official_shelter_csv_keeps_flood_sites_in_either_encoding(tmp_path):
    rows = ("A1,川越小学校,川越市1-1,1,1,,1,,,1,,35.9251,139.4701,500\n"
            "A2,高台公園,川越市2-2,,1,,1,,,,,35.9262,139.4712,\n"
            "A3,市民会館,川越市3-3,○,,,1,,,,,35.9273,139.4723,\"1,200\"\n")
    for encoding, name in (("utf-8-sig", "bom.csv"), ("cp932", "sjis.csv")):
        path = tmp_path / name
        path.write_bytes((OFFICIAL_HEADER + rows).encode(encoding))
        table = read_shelters(path)
        assert table["shelter_id"].tolist() == ["A1", "A3"]  # A2 is not flagged 洪水
        assert table["name"].tolist() == ["川越小学校", "市民会館"]
        assert table["capacity"].tolist() == [500.0, 1200.0]
        assert table["lon"].tolist() == [139.4701, 139.4723]


def test_bad_shelter_files_say_where(tmp_path):
    bad_lat = tmp_path / "lat.csv"
    bad_lat.write_text(OFFICIAL_HEADER + "A1,x,y,1,,,,,,,,north,139.47,\n", encoding="utf-8")
    with pytest.raises(TwinInputError, match=r"lat\.csv: line 2: 緯度 'north' is not a number"):
        read_shelters(bad_lat)
    no_flag = tmp_path / "flag.csv"
    no_flag.write_text("施設・場所名,緯度,経度\nx,35.9,139.4\n", encoding="utf-8")
    with pytest.raises(TwinInputError, match="no 洪水 \\(or 災害種別_洪水\\) column"):
        read_shelters(no_flag)
    latin1 = tmp_path / "bytes.csv"
    latin1.write_bytes(b"\xff\xfe\x00\x81" * 8)
    with pytest.raises(TwinInputError, match="neither UTF-8 nor Shift_JIS"):
        read_shelters(latin1)
    lines = tmp_path / "lines.geojson"
    lines.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "properties": {}}]}))
    with pytest.raises(TwinInputError, match="feature 0: shelters must be Point"):
        read_shelters(lines)


def test_vertical_shelters_are_tall_and_not_wooden():
    attrs = [json.dumps({"buildingStructureType": {"code": "610", "label": "木造・土蔵造"}}), "{}", "{}", "{}"]
    frame = gpd.GeoDataFrame({"gml_id": ["wood", "rc", "low", "ordinary"], "attributes": attrs,
                              "class_label": [None, "堅ろう建物", "堅ろう建物", "普通建物"]},
                             geometry=[box(0, 0, 20, 20)] * 4, crs="EPSG:6677")
    chosen = vertical_shelters(frame, np.array([6.0, 5.0, 2.0, 6.0]), limit=10)
    assert chosen["shelter_id"].tolist() == ["bldg:rc"]
    assert chosen["capacity"].tolist() == [400 * 3 * 0.5]  # floors 3-5 at 0.5 persons/m²


def _check_outputs(out: Path, summary: dict, people_per_agent: float) -> dict[str, pd.DataFrame]:
    tables = {name: pd.read_csv(out / name, dtype={"shelter_id": str}) for name in OUTPUT_COLUMNS}
    for name, columns in OUTPUT_COLUMNS.items():
        assert tables[name].columns.tolist() == columns, name
    clearance = tables["clearance.csv"]
    assert clearance["arrived"].iloc[-1] == pytest.approx(summary["people_arrived"], abs=0.1)
    total = clearance[["arrived", "stranded", "evacuating"]].sum(axis=1)
    np.testing.assert_allclose(total, summary["people_represented"], atol=0.1)
    assert np.all(np.diff(clearance["arrived"]) >= 0)
    shelters = tables["shelters.csv"]
    assert shelters["arrivals"].sum() == pytest.approx(summary["people_arrived"], abs=0.1)
    # the engine counts agents: a shelter takes ceil(capacity / people per agent) of them, each weighing
    # what its share of its building's people is, so the people let in stay within that many heaviest agents
    heaviest = pd.read_parquet(out / "agents.parquet")["people"].max()
    agents_in = np.ceil(shelters["capacity"].fillna(np.inf) / people_per_agent)
    assert np.all(shelters["arrivals"] <= agents_in * heaviest + 1e-6)
    assert tables["buildings.csv"]["people"].sum() == pytest.approx(summary["people"], rel=1e-3)
    assert tables["stranded.csv"]["people"].sum() == pytest.approx(summary["people_stranded"], abs=0.1)
    assert sum(summary["people_by_profile"].values()) == pytest.approx(summary["people_represented"], abs=0.5)
    return tables


def test_city_run_with_the_official_hazard(converted_city, tmp_path):
    out = tmp_path / "official"
    spec = CityEvacuation(official_hazard="fld", people_per_agent=5, time_of_day="day", duration_s=900,
                          cell_size=4, vertical=3)
    summary = run_city_evacuation(converted_city, spec, out)
    tables = _check_outputs(out, summary, spec.people_per_agent)
    assert summary["hazard"]["kind"] == "official" and summary["hazard"]["max_depth_m"] > 0
    assert summary["vertical_shelters"] == 3
    assert summary["agents"] > 100 and summary["people_arrived"] > 0
    assert (tables["stranded.csv"]["t_s"] == 0).all()  # still water strands people only where they start
    shares = {k: v / summary["people_represented"] for k, v in summary["people_by_profile"].items()}
    assert shares["elderly"] == pytest.approx(ELDERLY_SHARE, abs=0.05)
    assert shares["needs_help"] == pytest.approx(NEEDS_HELP_SHARE, abs=0.03)


def _write_depth(path: Path, city_folder: Path, cell: float, depth_m: float) -> None:
    """A depth.nc on the City's grid coarsened to ``cell``: ``depth_m`` everywhere at all times."""
    grid = load_grids(city_folder, cell).terrain
    xs, ys = grid.cell_centres()
    path.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path / "depth.nc", "w") as ds:
        for name, values in (("time", [0.0, 600.0]), ("y", ys), ("x", xs)):
            ds.createDimension(name, len(values))
            ds.createVariable(name, "f8", (name,))[:] = values
        ds.createVariable("depth", "f4", ("time", "y", "x"))[:] = np.full((2, len(ys), len(xs)), depth_m, np.float32)


def test_knee_deep_water_strands_exactly_the_elderly_and_those_who_need_help(converted_city, tmp_path):
    _write_depth(tmp_path / "flood", converted_city, 8.0, 0.4)  # over their 0.3 m limit, under adults' 0.5 m
    spec = CityEvacuation(flood_result=tmp_path / "flood", people_per_agent=5, duration_s=600, cell_size=4)
    summary = run_city_evacuation(converted_city, spec, tmp_path / "out")
    _check_outputs(tmp_path / "out", summary, spec.people_per_agent)
    profiles = summary["people_by_profile"]
    assert summary["hazard"]["kind"] == "flood"
    assert summary["people_stranded"] == pytest.approx(profiles["elderly"] + profiles["needs_help"], abs=0.1)
    stranded = pd.read_csv(tmp_path / "out" / "stranded.csv")
    assert set(stranded["profile"]) == {"elderly", "needs_help"}


def test_city_mode_options_are_checked():
    with pytest.raises(TwinInputError, match="'day' or 'night'"):
        CityEvacuation(time_of_day="noon").checked()
    with pytest.raises(TwinInputError, match="not both"):
        CityEvacuation(flood_result=Path("f"), official_hazard="fld").checked()


def test_cli_city_mode_and_its_errors(converted_city, tmp_path):
    done = subprocess.run([TWIN, "evacuate", "run", "--city", str(converted_city), "--official-hazard", "fld:L9",
                           "-o", str(tmp_path / "x")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "no official hazard areas 'fld:L9'" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([TWIN, "evacuate", "run", "--city", str(converted_city), "--walls", "w.tif",
                           "-o", str(tmp_path / "x")], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "--walls belongs to the grid mode" in done.stderr


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from twin.server import Settings, create_app

    app = create_app(Settings(data_dir=data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city())))
    with TestClient(app) as client:
        client.staff = {"Authorization": f"Bearer {app.state.keys.create('evac-desk', 'staff')}"}
        yield client


def test_a_scenario_job_with_an_evacuation_serves_its_results(client):
    body = {"city": CITY_ID, "scenario": "cloudburst-100mm", "cell_size": 8,
            "overrides": {"duration_s": 600, "output_interval_s": 300},
            "evacuation": {"time_of_day": "night", "people_per_agent": 5, "duration_s": 600, "cell_size": 4}}
    assert client.post("/api/scenarios", json=body).status_code == 401
    created = client.post("/api/scenarios", json=body, headers=client.staff)
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 120
    while (job := client.get(f"/api/scenarios/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert job["status"] == "done", job
    assert job["links"]["agents"] == f"/api/scenarios/{job_id}/agents"
    summary = client.get(job["links"]["evacuation"]).json()
    assert summary["hazard"]["kind"] == "flood" and summary["agents"] > 0
    for name, columns in OUTPUT_COLUMNS.items():
        response = client.get(f"/api/scenarios/{job_id}/evacuation/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.text.splitlines()[0] == ",".join(columns)
    start, later = (client.get(f"/api/scenarios/{job_id}/agents", params={"t": t}).json() for t in (0, 590))
    assert start["count"] == later["count"] == summary["agents"]
    assert later["t_s"] > start["t_s"]
    states = {a["state"] for a in later["agents"]}
    assert states <= {"waiting", "walking", "arrived", "stranded"} and "arrived" in states
    moved = [a != b for a, b in zip(start["agents"], later["agents"])]
    assert sum(moved) > 0
    missing = client.get(f"/api/scenarios/{job_id}/evacuation/agents.parquet")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_bad_evacuation_options_are_refused(client):
    body = {"city": CITY_ID, "scenario": "cloudburst-100mm", "evacuation": {"time_of_day": "noon"}}
    response = client.post("/api/scenarios", json=body, headers=client.staff)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    body["evacuation"] = {"people_per_agent": 0.5}
    assert client.post("/api/scenarios", json=body, headers=client.staff).status_code == 422
