"""``GET /api/scenarios/{id}/report``: figures equal to counts made here from the job's own files."""

from __future__ import annotations

import io
import json
import re
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from PIL import Image

from tests.twin.fixtures_jobs import quick_job, run_job, write_evacuation

PROBLEM = "application/problem+json"
#: MLIT depth classes (upper bounds, m) and the depth from which a cell or building counts as
#: flooded, written out here rather than imported so the test checks the module's own constants.
BOUNDS = [0.5, 3.0, 5.0, 10.0, 20.0]
LABELS = ["<0.5 m", "0.5-3 m", "3-5 m", "5-10 m", "10-20 m", ">=20 m"]
WET_M = 0.1 - 1e-4  # wet from 10 cm within 0.1 mm of round-off (docs/flood.md, "Wet")


@pytest.fixture(scope="module")
def job(client, staff) -> str:
    return run_job(client, staff, quick_job(100))


def folder(app, job_id: str) -> Path:
    return app.state.settings.data_dir / "scenarios" / job_id


def depth_classes(depths: np.ndarray) -> dict[str, int]:
    wet = depths[np.isfinite(depths) & (depths >= WET_M)]
    index = np.digitize(wet, BOUNDS)  # 0 for < 0.5, 5 for >= 20
    return {label: int((index == k).sum()) for k, label in enumerate(LABELS)}


def test_json_figures_equal_counts_from_the_result_files(app, client, job):
    figures = client.get(f"/api/scenarios/{job}/report?format=json").json()
    result = folder(app, job) / "result"
    buildings = pd.read_parquet(result / "buildings.parquet")
    expected = depth_classes(buildings["max_adjacent_depth_m"].to_numpy(float))
    assert figures["buildings"]["by_depth_class"] == expected
    assert figures["buildings"]["flooded"] == sum(expected.values()) > 0
    assert figures["buildings"]["count"] == len(buildings)
    with rasterio.open(result / "max_depth.tif") as src:
        depth = src.read(1, masked=True).filled(np.nan)
        cell_area = src.res[0] * src.res[1]
    assert figures["flood"]["flooded_area_m2"] == pytest.approx(np.count_nonzero(depth >= WET_M) * cell_area)
    assert figures["flood"]["max_depth_m"] == pytest.approx(np.nanmax(depth), abs=5e-4)  # rounded to mm
    by_class = figures["flood"]["flooded_area_by_class_m2"]
    assert sum(by_class.values()) == pytest.approx(figures["flood"]["flooded_area_m2"])
    assert figures["evacuation"] is None  # no evacuation ran
    summary = json.loads((result / "summary.json").read_text())
    # the job left the scheme to auto: rain alone is slow flow, so the inertial scheme, with auto's reason
    assert figures["flood"]["scheme"] == summary["scheme"] == "inertial"
    assert figures["flood"]["scheme_reason"] == summary["scheme_reason"]
    assert summary["scheme_reason"].startswith("inertial: ") and "chosen by the caller" not in summary["scheme_reason"]


def test_evacuation_figures_come_from_the_evacuation_files(app, client, staff):
    job_id = run_job(client, staff, quick_job(60))
    buildings = pd.read_parquet(folder(app, job_id) / "result" / "buildings.parquet")
    wet = buildings["max_adjacent_depth_m"].to_numpy(float) >= WET_M
    people = {gml_id: 3 + i % 5 for i, gml_id in enumerate(buildings["gml_id"])}
    shelters = [{"shelter_id": "S1", "name": "第一小学校", "lon": 139.0, "lat": 35.0, "capacity": 100,
                 "arrivals": 130, "overflow": 30},
                {"shelter_id": "S2", "name": "公民館", "lon": 139.1, "lat": 35.1, "capacity": 200,
                 "arrivals": 120, "overflow": 0}]
    write_evacuation(folder(app, job_id), people, shelters, stranded=7, evacuation_time_s=1260.0)
    evacuation = client.get(f"/api/scenarios/{job_id}/report?format=json").json()["evacuation"]
    assert evacuation["people_affected"] == sum(p for p, w in zip(people.values(), wet) if w) > 0
    assert evacuation["agents"] == sum(people.values())
    assert evacuation["stranded"] == 7 and evacuation["evacuation_time_s"] == 1260.0
    assert evacuation["shelters"] == 2
    assert evacuation["shelters_overflowing"] == [
        {"shelter_id": "S1", "name": "第一小学校", "capacity": 100, "arrivals": 130, "overflow": 30}]
    page = client.get(f"/api/scenarios/{job_id}/report").text
    assert "第一小学校" in page and "1260 s (21.0 min)" in page
    assert len(re.findall(r"<svg ", page)) == 3  # depth classes, flooded area, clearance


def test_html_report_has_the_figures_charts_and_a_cached_map(app, client, job):
    response = client.get(f"/api/scenarios/{job}/report")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    figures = client.get(f"/api/scenarios/{job}/report?format=json").json()
    page = response.text
    b = figures["buildings"]
    assert f"{b['flooded']:,} / {b['count']:,}" in page
    assert f"{figures['flood']['flooded_area_m2'] / 1e4:,.2f} ha" in page
    assert escape(figures["flood"]["scheme_reason"]) in page
    assert len(re.findall(r"<svg ", page)) == 2  # depth classes, flooded area over time
    for label, count in b["by_depth_class"].items():  # each bar is labelled with its count
        assert f"{escape(label)}</text>" in page and f">{count}</text>" in page
    assert f'src="/api/scenarios/{job}/report/map.png"' in page
    picture = client.get(f"/api/scenarios/{job}/report/map.png")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(picture.content)).convert("RGB"))
    assert image.shape == (750, 1200, 3)
    cached = folder(app, job) / "report" / "map.png"
    stamp = cached.stat().st_mtime_ns
    assert client.get(f"/api/scenarios/{job}/report/map.png").content == picture.content
    assert cached.stat().st_mtime_ns == stamp  # drawn once


def test_report_errors_are_problems(client, job):
    response = client.get("/api/scenarios/0123456789ab/report")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    response = client.get(f"/api/scenarios/{job}/report?format=pdf")
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
