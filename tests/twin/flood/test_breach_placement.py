"""A river breach put on a river of the City it runs on: ``twin flood run --river/--at/--bank`` and the
``river``/``at``/``bank`` of ``POST /api/scenarios``; on a City the built-in line misses, a clear refusal that
lists its rivers instead of "outside the grid"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from pyproj import Transformer

from tests.twin.fixtures_city import CITY_ID, converted_real_city, converted_sample_city, data_dir_linking
from tests.twin.scenarios.test_scenario_jobs import wait
from twin import cli
from twin.city.layout import CityFolder
from twin.flood.breach_site import place_breach, rivers
from twin.flood.scenario import builtin_data
from twin.server import Settings, create_app

#: The flags that keep a city run to a few seconds: 8 m cells, one minute of flood.
QUICK_FLAGS = ["--cell-size", "8", "--duration", "60", "--output-interval", "60", "--json"]


@pytest.fixture(scope="module")
def sample() -> CityFolder:
    return CityFolder.open(converted_sample_city())


@pytest.fixture(scope="module")
def north_bank(sample) -> tuple[float, float]:
    """A point 40 m north of 新河岸川, across the river from the built-in breach on its south bank."""
    river = gpd.read_parquet(sample.require("water")).to_crs(sample.local_crs).geometry.iloc[0]
    across = shapely.LineString([(river.centroid.x, river.bounds[1] - 10), (river.centroid.x, river.bounds[3] + 10)])
    north = shapely.get_coordinates(across.intersection(river))[:, 1].max() + 40
    return Transformer.from_crs(sample.local_crs, "EPSG:6668", always_xy=True).transform(river.centroid.x, north)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """The sample city and real Bunkyo (which the built-in breach line misses) behind one server."""
    return data_dir_linking(tmp_path_factory.mktemp("home"), converted_sample_city(),
                            converted_real_city("13105_bunkyo"))


@pytest.fixture(scope="module")
def app(data_dir):
    """The server, with room for this module's eight job requests in one burst (the default is five)."""
    return create_app(Settings(data_dir=data_dir, expensive_burst=20))


def _twin_flood(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["twin", "flood", "run", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    return int(exit_info.value.code or 0)


def _lat_of_middle(line: list[list[float]]) -> float:
    return (line[0][1] + line[1][1]) / 2


def test_the_cli_runs_the_breach_where_it_is_placed(sample, north_bank, tmp_path, monkeypatch):
    hand = builtin_data("river-breach")["inflows"][0]["lonlat"]
    at = f"{north_bank[0]},{north_bank[1]}"
    for flags, site in ((["--river", "新河岸川"], place_breach(sample, "新河岸川")),
                        (["--at", at, "--bank", "right"], place_breach(sample, near=north_bank, bank="right")),
                        (["--at", at], place_breach(sample, near=north_bank))):
        out = tmp_path / "-".join(f.strip("-") for f in flags[::2])
        assert _twin_flood(["--city", str(sample.path), "--scenario", "river-breach", *flags, *QUICK_FLAGS,
                            "-o", str(out)], monkeypatch) == 0
        summary = json.loads((out / "summary.json").read_text())
        (breach,) = summary["scenario"]["inflows"]
        assert breach["positions"] == site.inflow_lonlat() and breach["crs"] == "lonlat"
        # the built-in hydrograph is kept: 500 m³/s at 30 min; after 60 s of its linear rise from 0 to
        # 500 m³/s over 1800 s, 0.5 × 60 × (60/1800 × 500) = 500 m³ have entered (to round-off)
        assert breach["m3_per_s"][1] == [1800.0, 500.0]
        assert summary["volume_inflow_m3"] == pytest.approx(500.0, rel=1e-3)
    # with --at on the north bank the breach crossed the river: its middle lies north of the built-in
    # line on the south bank by at least the channel's width (tens of metres, 1e-4° ≈ 11 m)
    assert _lat_of_middle(site.inflow_lonlat()) > _lat_of_middle(hand) + 5e-4


def test_a_city_the_builtin_line_misses_is_asked_for_a_river(tmp_path, monkeypatch, capsys):
    bunkyo = CityFolder.open(converted_real_city("13105_bunkyo"))
    out = tmp_path / "out"
    assert _twin_flood(["--city", str(bunkyo.path), "--scenario", "river-breach", *QUICK_FLAGS, "-o", str(out)],
                       monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "outside the grid" not in err and "Traceback" not in err
    assert "fits only the sample city" in err and "--river NAME or --at LON,LAT" in err
    assert all(name in err for name in rivers(bunkyo)) and len(rivers(bunkyo)) > 1
    assert not out.exists()
    assert _twin_flood(["--city", str(bunkyo.path), "--scenario", "river-breach", "--river", "荒川",
                        *QUICK_FLAGS, "-o", str(out)], monkeypatch) == 2
    assert "has no river '荒川'" in capsys.readouterr().err
    assert _twin_flood(["--city", str(bunkyo.path), "--scenario", "river-breach", "--river", "神田川",
                        "--bank", "upstream", *QUICK_FLAGS, "-o", str(out)], monkeypatch) == 2
    assert "--bank upstream: one of left, right, north, south, east, west" in capsys.readouterr().err


def test_the_api_places_the_breach_on_a_river(client, staff, sample, north_bank):
    body = {"city": CITY_ID, "scenario": "river-breach", "cell_size": 8,
            "overrides": {"duration_s": 60, "output_interval_s": 60}}
    assert client.get(f"/api/cities/{CITY_ID}/rivers").status_code == 401
    assert client.get(f"/api/cities/{CITY_ID}/rivers", headers=staff).json() == {"city": CITY_ID,
                                                                                    "rivers": ["新河岸川"]}
    # the console's template: an inline scenario whose breach has no position until it is placed
    template = {"city": CITY_ID, "cell_size": 8, "definition": {
        "name": "template-breach", "duration_s": 60, "inflows": [{"name": "breach", "m3_per_s": 100}]}}
    for request, site in ((body | {"river": "新河岸川"}, place_breach(sample, "新河岸川")),
                          (body | {"at": list(north_bank)}, place_breach(sample, near=north_bank)),
                          (template | {"river": "新河岸川", "at": list(north_bank)},
                           place_breach(sample, "新河岸川", near=north_bank)),
                          # the right bank (looking downstream: 新河岸川 flows east) is the south one, across
                          # the river from the point
                          (template | {"river": "新河岸川", "at": list(north_bank), "bank": "right"},
                           place_breach(sample, "新河岸川", near=north_bank, bank="right"))):
        response = client.post("/api/scenarios", json=request, headers=staff)
        assert response.status_code == 202, response.text
        assert response.json()["scenario"]["inflows"][0]["positions"] == site.inflow_lonlat()
        # the run itself is the CLI test's: cancel it and let it end
        assert client.delete(f"/api/scenarios/{response.json()['id']}", headers=staff).status_code == 202
        assert wait(client, response.json()["id"])["status"] in ("cancelled", "done")


def test_the_api_names_the_rivers_when_it_cannot_place_the_breach(client, staff):
    body = {"city": CITY_ID, "scenario": "river-breach", "cell_size": 8}
    bad = client.post("/api/scenarios", json=body | {"river": "荒川"}, headers=staff)
    assert bad.status_code == 422 and "has no river '荒川'" in bad.json()["detail"] and "新河岸川" in bad.json()["detail"]
    assert client.post("/api/scenarios", json=body | {"at": [139.47]}, headers=staff).status_code == 422
    unplaced = client.post("/api/scenarios", json={"city": CITY_ID, "definition": {
        "name": "t", "duration_s": 60, "inflows": [{"name": "breach", "m3_per_s": 100}]}}, headers=staff)
    assert unplaced.status_code == 422 and "inflows[0]: give exactly one of lonlat" in unplaced.json()["detail"]
    bunkyo = client.post("/api/scenarios", json=body | {"city": "bunkyo"}, headers=staff)
    detail = bunkyo.json()["detail"]
    assert bunkyo.status_code == 422 and "fits only the sample city" in detail and "神田川" in detail
    assert "outside the grid" not in detail and "--river" not in detail and "'river'" in detail
    assert client.post("/api/scenarios", json=body | {"bank": "upstream"}, headers=staff).status_code == 422
    # Bunkyo's terrain is estimated from its buildings: it cannot say which way 神田川 flows
    unknown = client.post("/api/scenarios", json=body | {"city": "bunkyo", "river": "神田川", "bank": "left"},
                          headers=staff)
    assert unknown.status_code == 422 and "cannot tell which way 神田川 flows" in unknown.json()["detail"]
    assert "north, south, east or west" in unknown.json()["detail"]
