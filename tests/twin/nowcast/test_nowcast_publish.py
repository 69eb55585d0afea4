"""Publishing a forecast to the public map, and time left to leave per area.

Staff publish a kept forecast and withdraw it (the public may do neither); the public map's
routes then serve it labelled 予測 / forecast with its issue and valid-until times and nothing
staff-only; past its valid-until time it is ``expired``, with no depths. The kept forecasts
here are written by hand (no flood run): a predicted maximum depth of 1.2 m everywhere on the
City's grid, so every answer is known beforehand.

Per area: 1/4 mesh codes worked out by hand from JIS X 0410 (地域メッシュ), and named areas.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.files.rasters import Grid, read_grid, write_grid
from twin.hazardmap.published_forecast import is_current
from twin.nowcast.areas import area_table
from twin.nowcast.folder import NowcastFolder, issue_stamp
from twin.sensors.footfall_areas import Area
from twin.sensors.times import iso

URL = f"/api/nowcast/{CITY_ID}"
PUBLIC = f"/api/cities/{CITY_ID}"
DEPTH_M = 1.2
MLIT_05_TO_3 = "#FFD8C0"  # the MLIT colour of 0.5–3 m (水害ハザードマップ作成の手引き, 2016)
NOW = datetime.now(UTC).replace(microsecond=0)
CURRENT = NOW - timedelta(minutes=20)  # valid for 3 h: current
OLD = NOW - timedelta(hours=5)  # valid for 3 h: expired 2 h ago


def buildings_table() -> pd.DataFrame:
    """Seven buildings with known times in known 1/4 meshes (mesh codes in ``test_areas_...``)."""
    lon = [139.7635, 139.764, 139.7735, 139.7635, 139.7635, 139.7636, 139.7637]
    lat = [35.676, 35.6765, 35.682, 35.683, 35.684, 35.6841, 35.6842]
    alert = [1800.0, 900.0, np.nan, 1000.0, 600.0, 500.0, 2000.0]
    walk = [600.0, 1200.0, 300.0, np.nan, 500.0, 700.0, 100.0]
    return pd.DataFrame({"gml_id": list("ABCDEFG"), "max_depth_m": DEPTH_M, "wet_in_s": 0.0, "alert_in_s": alert,
                         "walk_s": walk, "time_to_leave_s": np.array(alert) - np.array(walk),
                         "centroid_lon": lon, "centroid_lat": lat})


@pytest.fixture(scope="module")
def folder(data_dir) -> NowcastFolder:
    """Two kept forecasts, one current and one past its valid time, with 1.2 m everywhere."""
    folder = NowcastFolder(data_dir, CITY_ID)
    terrain = read_grid(converted_sample_city() / "terrain.tif")
    for issue in (OLD, CURRENT):
        path = folder.forecasts / issue_stamp(issue)
        path.mkdir(parents=True)
        (path / "forecast.json").write_text(json.dumps({
            "city": CITY_ID, "issued": iso(issue), "valid_from": iso(issue), "valid_to": iso(issue + timedelta(hours=3)),
            "horizon_s": 10800, "forcing": {"river gauge 13": "trend of river gauge 13"},
            "gauges": {"13": {"stage_m": [1.0]}}}))
        buildings_table().to_parquet(path / "buildings.parquet")
        write_grid(path / "max_depth.tif", Grid(np.full(terrain.data.shape, DEPTH_M, np.float32),
                                                terrain.transform, terrain.crs))
    (folder.forecasts / issue_stamp(CURRENT) / "areas.json").write_text(
        json.dumps(area_table(buildings_table(), [])))
    return folder


def centre() -> tuple[float, float]:
    lon, lat = json.loads((converted_sample_city() / "city.json").read_text())["center"][:2]
    return lon, lat


def test_staff_publish_and_withdraw_and_the_public_sees_only_the_labelled_forecast(client, keys, folder):
    stamp = issue_stamp(CURRENT)
    publish = f"{URL}/forecasts/{stamp}/publish"
    assert client.get(f"{PUBLIC}/hazard-forecast").json() == {"forecast": None}
    assert client.post(publish).status_code == 401
    assert client.post(publish, headers=keys["sensor"]).status_code == 403
    assert client.delete(publish).status_code == 401
    assert client.get(f"{PUBLIC}/hazard-forecast").json() == {"forecast": None}
    assert client.post(f"{URL}/forecasts/20990101T000000Z/publish", headers=keys["staff"]).status_code == 404

    answer = client.post(publish, headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    record = answer.json()["published"]
    assert record["stamp"] == stamp and record["issued"] == iso(CURRENT) and record["by"] == "key:staff"
    assert NOW - timedelta(minutes=1) <= datetime.fromisoformat(record["at"].replace("Z", "+00:00")) \
        <= datetime.now(UTC) + timedelta(seconds=1)
    assert client.get(URL, headers=keys["staff"]).json()["published"] == record

    public = client.get(f"{PUBLIC}/hazard-forecast")
    assert public.status_code == 200
    shown = public.json()["forecast"]
    assert set(shown) == {"kind", "label", "issued", "valid_until", "published", "status", "image", "rectangle"}
    assert shown["kind"] == "forecast" and shown["label"] == {"ja": "予測", "en": "forecast"}
    assert shown["issued"] == iso(CURRENT) and shown["valid_until"] == iso(CURRENT + timedelta(hours=3))
    assert shown["status"] == "current"
    assert not any(word in public.text for word in ("gauge", "trend", "staff", '"by"'))
    png = client.get(shown["image"])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    # only the published forecast's picture is public, not any kept one
    assert client.get(f"{PUBLIC}/hazard-forecast/{issue_stamp(OLD)}.png").status_code == 404

    lon, lat = centre()
    at = client.get(f"{PUBLIC}/hazard-at", params={"lon": lon, "lat": lat}).json()["forecast"]
    assert at["kind"] == "forecast" and at["label"]["ja"] == "予測" and at["status"] == "current"
    assert at["max_depth_m"] == pytest.approx(DEPTH_M, abs=1e-6) and at["colour"].upper() == MLIT_05_TO_3
    assert "by" not in at and "image" not in at

    assert client.delete(f"{URL}/forecasts/{issue_stamp(OLD)}/publish", headers=keys["staff"]).status_code == 404
    withdrawn = client.delete(publish, headers=keys["staff"])
    assert withdrawn.status_code == 200 and withdrawn.json() == {"withdrawn": stamp}
    assert client.get(f"{PUBLIC}/hazard-forecast").json() == {"forecast": None}
    assert client.get(f"{PUBLIC}/hazard-at", params={"lon": lon, "lat": lat}).json()["forecast"] is None
    assert client.get(shown["image"]).status_code == 404
    assert client.delete(publish, headers=keys["staff"]).status_code == 404
    assert client.get(URL, headers=keys["staff"]).json()["published"] is None


def test_a_forecast_past_its_valid_time_is_expired_not_current(client, keys, folder):
    old = issue_stamp(OLD)
    refused = client.post(f"{URL}/forecasts/{old}/publish", headers=keys["staff"])
    assert refused.status_code == 409 and "publish a current one" in refused.json()["detail"]
    assert not (folder.path / "published.json").exists()
    # published while current, then time passed: the map says expired and shows no depths
    folder.publish(old, "key:staff", OLD + timedelta(minutes=1))
    try:
        shown = client.get(f"{PUBLIC}/hazard-forecast").json()["forecast"]
        assert shown["status"] == "expired" and shown["image"] is None and "rectangle" not in shown
        assert shown["valid_until"] == iso(OLD + timedelta(hours=3))
        assert client.get(f"{PUBLIC}/hazard-forecast/{old}.png").status_code == 404
        lon, lat = centre()
        at = client.get(f"{PUBLIC}/hazard-at", params={"lon": lon, "lat": lat}).json()["forecast"]
        assert at["status"] == "expired" and at["max_depth_m"] is None and at["colour"] is None
    finally:
        folder.withdraw()
    valid_to = iso(OLD + timedelta(hours=3))
    assert is_current(valid_to, OLD + timedelta(hours=3))
    assert not is_current(valid_to, OLD + timedelta(hours=3, seconds=1))


def test_areas_route_is_staff_only_and_serves_the_kept_table(client, keys, folder):
    stamp = issue_stamp(CURRENT)
    assert client.get(f"{URL}/forecasts/{stamp}/areas").status_code == 401
    assert client.get(f"{URL}/forecasts/{stamp}/areas", headers=keys["sensor"]).status_code == 403
    answer = client.get(f"{URL}/forecasts/latest/areas", headers=keys["staff"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued"] == iso(CURRENT) and body["areas_from"].startswith("JIS X 0410")
    assert [a["id"] for a in body["areas"]][:2] == ["5339461111", "5339462111"]
    older = client.get(f"{URL}/forecasts/{issue_stamp(OLD)}/areas", headers=keys["staff"])
    assert older.status_code == 404 and "keeps no areas" in older.json()["detail"]


def test_roads_of_a_forecast_made_before_they_were_kept_is_a_clear_404(client, keys, folder):
    answer = client.get(f"{URL}/forecasts/{issue_stamp(OLD)}/roads", headers=keys["staff"])
    assert answer.status_code == 404 and "keeps no roads" in answer.json()["detail"]
    assert client.get(f"{URL}/forecasts/{issue_stamp(OLD)}/roads", headers=keys["sensor"]).status_code == 403


def test_areas_per_quarter_mesh_against_jis_x_0410_by_hand():
    """1/4 mesh codes of the buildings, from JIS X 0410: 3rd mesh 53394611 has its south-west
    corner at lat (53 + 4/8 + 1/80) / 1.5 = 35.675, lon 100 + 39 + 6/8 + 1/80 = 139.7625, and is
    30″ × 45″ (0.0083333° × 0.0125°); a 1/4 mesh is 0.0020833° × 0.003125°. Digits: 1 SW, 2 SE,
    3 NW, 4 NE, the 1/2 mesh then the 1/4 mesh.

    - A (35.676, 139.7635): +0.001°N, +0.001°E: SW half, SW quarter → 5339461111
    - B (35.6765, 139.764): +0.0015, +0.0015: same → 5339461111
    - C (35.682, 139.7735): +0.007 (N half, +0.00283 N quarter), +0.011 (E half, +0.00475 E) → 5339461144
    - D (35.683, 139.7635): +0.008 (N, +0.00383 N), +0.001 (W, W) → 5339461133
    - E, F, G (35.684–35.6842, 139.7635–7): +0.009 ≥ 0.00833: 3rd mesh row 2 (53394621), +0.0007… SW, SW
      → 5339462111
    """
    table = area_table(buildings_table(), [])
    assert table["areas_from"] == "JIS X 0410 1/4 地域メッシュ (250 m)"
    rows = {a["id"]: a for a in table["areas"]}
    # least time first: A/B's mesh (B: 900 − 1200 = −300 s), E/F/G's (F: 500 − 700 = −200 s), then
    # the meshes with no time to give (D: no shelter reachable; C: the water never comes), by code
    assert [a["id"] for a in table["areas"]] == ["5339461111", "5339462111", "5339461133", "5339461144"]
    assert rows["5339461111"] == {
        "id": "5339461111", "name": "5339461111", "name_en": "5339461111",
        "bounds": [139.7625, 35.675, 139.765625, 35.677083], "buildings": 2, "at_alert_depth": 2,
        "min_time_to_leave_s": -300.0, "worst_building": "B", "too_late": 1, "no_shelter": 0}
    assert (rows["5339462111"]["buildings"], rows["5339462111"]["min_time_to_leave_s"],
            rows["5339462111"]["worst_building"], rows["5339462111"]["too_late"]) == (3, -200.0, "F", 1)
    assert (rows["5339461133"]["at_alert_depth"], rows["5339461133"]["min_time_to_leave_s"],
            rows["5339461133"]["no_shelter"]) == (1, None, 1)
    assert (rows["5339461144"]["at_alert_depth"], rows["5339461144"]["min_time_to_leave_s"],
            rows["5339461144"]["too_late"]) == (0, None, 0)


def test_a_building_without_a_centroid_is_in_no_mesh():
    table = buildings_table().iloc[:2].assign(centroid_lon=[139.7635, np.nan])
    rows = {a["id"]: a for a in area_table(table, [])["areas"]}
    assert set(rows) == {"5339461111", "unplaced"}
    assert rows["unplaced"]["min_time_to_leave_s"] == -300.0 and rows["5339461111"]["buildings"] == 1


def test_areas_per_named_area_first_listed_wins_and_the_rest_is_outside():
    south = Area("south", "南地区", "South", box(139.762, 35.675, 139.775, 35.6775))
    north = Area("north", "北地区", "North", box(139.762, 35.676, 139.775, 35.6835))  # holds B too
    table = area_table(buildings_table(), [south, north])
    assert table["areas_from"] == "named areas"
    rows = {a["id"]: a for a in table["areas"]}
    assert rows["south"]["buildings"] == 2 and rows["south"]["min_time_to_leave_s"] == -300.0  # A, B
    assert rows["north"]["buildings"] == 2 and rows["north"]["min_time_to_leave_s"] is None  # C, D
    assert rows["north"]["no_shelter"] == 1 and rows["north"]["name_en"] == "North"
    assert rows["outside"]["buildings"] == 3 and rows["outside"]["name_en"] == "outside the named areas"
    assert [a["id"] for a in table["areas"]] == ["south", "outside", "north"]
