"""Time left to leave counts only shelters that stay reachable: a shelter the water reaches at
the alert depth before the walk there would end is skipped for the next one (hand-made times)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.nowcast.areas import area_table
from twin.nowcast.cycle import leave_times

# shelter 0 is 300 s away from every building and floods 200 s after the issue time; shelter 1,
# 600 s away, stays dry; shelter 2 is 400 s away and floods at 900 s
WALK = np.array([[300.0, 600.0, np.inf],
                 [300.0, 600.0, np.inf],
                 [np.inf, np.inf, np.inf],
                 [300.0, 600.0, 400.0]])
SHELTER_ALERT = np.array([200.0, np.inf, 900.0])
ALERT = np.array([1800.0, np.nan, 1000.0, 1000.0])  # building B never gets the water, C has no walk


def test_the_nearest_shelter_floods_before_the_walk_ends_so_the_next_one_counts():
    left, chosen, walk = leave_times(ALERT, WALK, SHELTER_ALERT)
    # A: shelter 0 is under water 100 s before one would arrive; shelter 1: 1800 − 600 s
    assert (left[0], chosen[0], walk[0]) == (1200.0, 1, 600.0)
    # B: no water, no time to give; its nearest shelter; C: none reachable on foot
    assert np.isnan(left[1]) and (chosen[1], walk[1]) == (0, 300.0)
    assert np.isnan(left[2]) and chosen[2] == -1 and np.isnan(walk[2])
    # D: shelter 2 floods at 900 s, still after its 400 s walk: leave by 900 − 400 = 500 s, better
    # than shelter 1's 1000 − 600 = 400 s
    assert (left[3], chosen[3]) == (500.0, 2)


def test_the_areas_time_left_uses_the_next_shelter():
    left, _, walk = leave_times(ALERT[:1], WALK[:1], SHELTER_ALERT)
    table = pd.DataFrame({"gml_id": ["A"], "alert_in_s": ALERT[:1], "walk_s": walk, "time_to_leave_s": left,
                          "centroid_lon": [139.7635], "centroid_lat": [35.676]})
    (area,) = area_table(table, [])["areas"]
    assert (area["min_time_to_leave_s"], area["too_late"], area["no_shelter"]) == (1200.0, 0, 0)


def test_when_every_shelter_floods_before_the_walk_ends_it_is_too_late():
    left, chosen, _ = leave_times(np.array([1800.0]), np.array([[300.0, 600.0]]), np.array([200.0, 400.0]))
    assert (left[0], chosen[0]) == (-100.0, 0)  # the least late: shelter 0, 200 − 300 s


def test_a_city_without_shelters_gives_no_time():
    left, chosen, walk = leave_times(ALERT, np.zeros((4, 0)), np.zeros(0))
    assert np.isnan(left).all() and (chosen == -1).all() and np.isnan(walk).all()
