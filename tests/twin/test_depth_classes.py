"""MLIT depth classes: the sample-city writer agrees with them, and "wet" is not flipped by round-off."""

from __future__ import annotations

import numpy as np

from citygml.samplecity.hazards import RANK_BOUNDS, depth_rank
from twin.depth_classes import CLASSES, WET_DEPTH_M, is_wet, rank_of_any_depth, rank_of_depth


def test_the_sample_city_writes_the_ranks_of_the_one_definition() -> None:
    # citygml may not import twin, so the comparison lives here
    assert RANK_BOUNDS == tuple(c.upper_m for c in CLASSES[:-1])
    depths = np.array([0.0, 0.49, 0.5, 2.99, 3.0, 5.0, 9.99, 10.0, 19.99, 20.0, 150.0])
    assert depth_rank(depths).tolist() == [rank_of_any_depth(d) for d in depths]


def test_float32_round_off_at_the_wet_depth_never_flips_wet() -> None:
    # 100 mm of rain on flat ground: 0.09999992 m at 2 m cells, 0.10000011 m at 4 m cells
    below, above = np.float32(0.09999992), np.float32(0.10000011)
    assert below < WET_DEPTH_M < above
    assert is_wet(np.array([below, above], dtype=np.float32)).tolist() == [True, True]
    assert rank_of_depth(np.array([below, above], dtype=np.float32)).tolist() == [1, 1]
    assert is_wet(np.array([0.099, np.nan], dtype=np.float32)).tolist() == [False, False]
