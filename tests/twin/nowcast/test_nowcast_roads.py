"""Roads cut and when, against a hand-made case: a 4 × 6 grid of 10 m cells, four roads drawn on
known cells, a depth series written down and the cut times worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
from affine import Affine
from shapely.geometry import box

from twin.lonlat import LONLAT
from twin.nowcast.roads import RoadCells, road_forecast

T0 = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)
VALID = [T0 + timedelta(minutes=10 * k) for k in range(3)]
TRANSFORM = Affine(10, 0, 0, 0, -10, 40)  # rows 0..3 from y 40 down, cols 0..5 from x 0


def hand_made() -> tuple[RoadCells, list[np.ndarray]]:
    roads = gpd.GeoDataFrame(
        {"gml_id": ["A", "B", "C", "D"], "function_label": ["市町村道", "市町村道", "都道府県道", "市町村道"]},
        geometry=[box(1, 31, 29, 39),    # A: row 0, cols 0–2
                  box(1, 1, 9, 29),      # B: col 0, rows 1–3
                  box(41, 11, 59, 19),   # C: row 2, cols 4–5; (2, 5) is a building wall
                  box(100, 100, 110, 110)],  # D: off the grid, no cells
        crs=6677)
    blocked = np.zeros((4, 6))
    blocked[2, 5] = 1.0
    cells = RoadCells(roads, TRANSFORM, (4, 6), blocked)
    depths = [np.zeros((4, 6)) for _ in VALID]
    depths[0][0, 1] = 0.1
    depths[1][0, 1], depths[1][1, 0], depths[1][2, 5] = 0.35, 0.2, 1.0
    depths[2][0, 1], depths[2][0, 2], depths[2][1, 0], depths[2][2, 4], depths[2][2, 5] = 0.5, 0.4, 0.29, 0.3, 2.0
    return cells, depths


def test_cut_times_depths_and_areas_by_hand():
    cells, depths = hand_made()
    assert cells.sizes.tolist() == [3, 3, 1, 0]
    maxima = np.array([cells.maximum(d) for d in depths])
    counts = np.array([cells.cut_cells(d) for d in depths])
    table = road_forecast(cells, VALID, maxima, counts, 10.0).set_index("gml_id")
    # A reaches 0.35 m at +10 min; B peaks at 0.29 m (never cut); C reaches exactly 0.3 m at +20 min
    # (its wall cell's 1–2 m does not count); D has no cell
    assert [t if isinstance(t, str) else None for t in table["cut_at"]] == [
        "2026-07-01T03:10:00Z", None, "2026-07-01T03:20:00Z", None]
    assert np.allclose(table["max_depth_m"].iloc[:3], [0.5, 0.29, 0.3])
    assert np.isnan(table.loc["D", "max_depth_m"])
    assert table["area_cut_m2"].tolist() == [200.0, 0.0, 100.0, 0.0]  # A: two cells at +20 min
    assert table["function_label"].tolist() == ["市町村道", "市町村道", "都道府県道", "市町村道"]
    assert table.crs == LONLAT


def test_a_city_without_roads_and_a_forecast_without_times():
    empty = gpd.GeoDataFrame({"gml_id": []}, geometry=gpd.GeoSeries([], crs=6677))
    cells = RoadCells(empty, TRANSFORM, (4, 6), np.zeros((4, 6)))
    assert cells.maximum(np.ones((4, 6))).shape == (0,)
    assert len(road_forecast(cells, [], np.zeros((0, 0)), np.zeros((0, 0), np.int64), 10.0)) == 0
    roads, _ = hand_made()
    table = road_forecast(roads, [], np.zeros((0, 4)), np.zeros((0, 4), np.int64), 10.0)
    assert table["cut_at"].isna().all() and len(table) == 4
