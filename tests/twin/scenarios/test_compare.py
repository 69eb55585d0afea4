"""``GET /api/scenarios/compare?a=&b=``: figures and difference map equal to what the job files say."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from PIL import Image

from tests.twin.fixtures_jobs import quick_job, run_job, write_evacuation

PROBLEM = "application/problem+json"
WET_M = 0.1 - 1e-4  # wet from 10 cm within 0.1 mm of round-off (docs/flood.md, "Wet")
SAME_M = 0.01  # differences under 1 cm are "unchanged"


@pytest.fixture(scope="module")
def jobs(client, staff) -> tuple[str, str]:
    """A light (30 mm/h) and a heavy (120 mm/h) cloudburst on the same 4 m grid."""
    return run_job(client, staff, quick_job(30)), run_job(client, staff, quick_job(120))


def folder(app, job_id: str) -> Path:
    return app.state.settings.data_dir / "scenarios" / job_id


def max_depth(app, job_id: str) -> tuple[np.ndarray, float]:
    with rasterio.open(folder(app, job_id) / "result" / "max_depth.tif") as src:
        return np.nan_to_num(src.read(1, masked=True).filled(np.nan)), src.res[0] * src.res[1]


def test_heavier_rain_floods_more_and_the_figures_match_the_files(app, client, jobs):
    a, b = jobs
    response = client.get(f"/api/scenarios/compare?a={a}&b={b}")
    assert response.status_code == 200, response.text
    body = response.json()
    depth_a, cell_area = max_depth(app, a)
    depth_b, _ = max_depth(app, b)
    diff = depth_b - depth_a
    d = body["difference"]
    assert d["deeper_area_m2"] == pytest.approx(np.count_nonzero(diff >= SAME_M) * cell_area)
    assert d["shallower_area_m2"] == pytest.approx(np.count_nonzero(diff <= -SAME_M) * cell_area)
    assert d["max_increase_m"] == pytest.approx(diff.max(), abs=5e-4)
    head = body["headline"]
    for side, job_id, depth in (("a", a, depth_a), ("b", b, depth_b)):
        assert head[side]["flooded_area_m2"] == pytest.approx(np.count_nonzero(depth >= WET_M) * cell_area)
        buildings = pd.read_parquet(folder(app, job_id) / "result" / "buildings.parquet")
        assert head[side]["buildings_flooded"] == int((buildings["max_adjacent_depth_m"] >= WET_M).sum())
        assert head[side]["people_stranded"] is None and head[side]["shelters_overflowing"] is None
    change = head["b_minus_a"]
    assert change["flooded_area_m2"] == pytest.approx(head["b"]["flooded_area_m2"] - head["a"]["flooded_area_m2"])
    assert change["buildings_by_depth_class"] == {
        k: head["b"]["buildings_by_depth_class"][k] - v for k, v in head["a"]["buildings_by_depth_class"].items()}
    # Four times the rain on the same ground: more water everywhere it rains.
    assert d["deeper_area_m2"] > 0 and change["flooded_area_m2"] >= 0 and change["buildings_flooded"] >= 0


def test_the_difference_map_is_a_png_on_the_city(app, client, jobs):
    a, b = jobs
    body = client.get(f"/api/scenarios/compare?a={a}&b={b}").json()
    west, south, east, north = body["map"]["rectangle"]
    frames = client.get(f"/api/scenarios/{a}/frames").json()
    assert body["map"]["rectangle"] == pytest.approx(frames["rectangle"], abs=1e-9)  # same warp as the frames
    assert west < east and south < north
    picture = client.get(body["map"]["url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    rgba = np.asarray(Image.open(io.BytesIO(picture.content)).convert("RGBA"))
    assert rgba.shape[:2] == (frames["height"], frames["width"])
    drawn = rgba[..., 3] > 0
    reds = drawn & (rgba[..., 0] > rgba[..., 2])  # deeper in B
    assert reds.any() and not (drawn & ~reds).any()  # heavier rain is never shallower
    # Each deeper cell covers about one cell of the warped picture: same order of count.
    depth_a, _ = max_depth(app, a)
    depth_b, _ = max_depth(app, b)
    deeper = np.count_nonzero(depth_b - depth_a >= SAME_M)
    assert 0.5 * deeper < reds.sum() < 2.0 * deeper


def test_stranded_people_and_overflowing_shelters_are_compared(app, client, jobs):
    a, b = jobs
    shelter = {"shelter_id": "S1", "name": "第一小学校", "lon": 139.0, "lat": 35.0, "capacity": 100}
    buildings = pd.read_parquet(folder(app, a) / "result" / "buildings.parquet")
    people = dict.fromkeys(buildings["gml_id"], 2)
    write_evacuation(folder(app, a), people, [{**shelter, "arrivals": 90, "overflow": 0}], 3, 900.0)
    write_evacuation(folder(app, b), people, [{**shelter, "arrivals": 160, "overflow": 60}], 11, 1500.0)
    head = client.get(f"/api/scenarios/compare?a={a}&b={b}").json()["headline"]
    assert (head["a"]["people_stranded"], head["b"]["people_stranded"]) == (3, 11)
    assert (head["a"]["shelters_overflowing"], head["b"]["shelters_overflowing"]) == (0, 1)
    assert head["b_minus_a"]["people_stranded"] == 8 and head["b_minus_a"]["shelters_overflowing"] == 1


def test_bad_comparisons_are_problems(client, jobs):
    a, _ = jobs
    for query, status in ((f"a={a}&b={a}", 422), (f"a={a}&b=0123456789ab", 404), (f"a={a}", 422),
                          (f"a={a}&b=nope", 422)):
        response = client.get(f"/api/scenarios/compare?{query}")
        assert response.status_code == status and response.headers["content-type"] == PROBLEM, query
