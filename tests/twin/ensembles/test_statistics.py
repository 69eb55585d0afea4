"""Streamed exceedance counts and end-of-run percentiles, against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from twin.ensembles import statistics
from twin.ensembles.statistics import Exceedance, percentiles

# Four members whose maximum depth is the same everywhere: 0.2, 0.6, 1.0 and 4.0 m.
DEPTHS = (0.2, 0.6, 1.0, 4.0)
# Arrival times (s) of the same members; NaN: the water never came.
ARRIVALS = (100.0, 200.0, np.nan, np.nan)
SHAPE = (5, 3)


def _save(tmp_path, name: str, values) -> list:
    paths = []
    for m, value in enumerate(values):
        path = tmp_path / f"{name}{m}.npy"
        np.save(path, np.full(SHAPE, value, np.float32))
        paths.append(path)
    return paths


def test_exceedance_of_constant_members_is_the_share_of_members_above():
    counts = Exceedance(SHAPE, buildings=2)
    wetted = ([True, False], [True, True], [False, False], [True, False])
    for depth, wet in zip(DEPTHS, wetted):
        counts.add(np.full(SHAPE, depth, np.float32), np.array(wet))
    p = counts.probability()
    # 0.6, 1.0 and 4.0 reach 0.5 m: 3 of 4; only 4.0 reaches 3 m: 1 of 4 (exact in float32)
    assert np.all(p[0] == 0.75) and np.all(p[1] == 0.25)
    assert counts.building_probability().tolist() == [0.75, 0.25]
    assert counts.members == 4


def test_a_depth_within_the_wet_tolerance_of_a_bound_counts_as_reaching_it():
    counts = Exceedance((1, 2), buildings=0)
    # 0.49995 m is 0.05 mm short of 0.5 m: inside WET_TOLERANCE_M (0.1 mm), the one rule for "reaches"
    counts.add(np.array([[0.49995, 0.4998]], np.float32), np.zeros(0, bool))
    assert counts.probability()[0].tolist() == [[1.0, 0.0]]


def test_the_order_members_finish_in_does_not_change_the_counts():
    rng = np.random.default_rng(0)
    grids = [rng.uniform(0, 4, SHAPE).astype(np.float32) for _ in range(6)]
    a, b = Exceedance(SHAPE, 0), Exceedance(SHAPE, 0)
    for g in grids:
        a.add(g, np.zeros(0, bool))
    for g in reversed(grids):
        b.add(g, np.zeros(0, bool))
    assert np.array_equal(a.cells, b.cells)


def test_depth_percentiles_are_member_values_by_the_inverted_cdf(tmp_path):
    q = percentiles(_save(tmp_path, "d", DEPTHS), (10, 50, 90))
    # inverted CDF: the smallest value with at least q % of the 4 members at or below it:
    # 10 % → 1 member → 0.2; 50 % → 2 members → 0.6; 90 % → 3.6 members → all 4 → 4.0
    assert np.all(q[0] == np.float32(0.2)) and np.all(q[1] == np.float32(0.6)) and np.all(q[2] == 4.0)


def test_arrival_percentiles_count_never_as_later_than_any_time(tmp_path):
    q = percentiles(_save(tmp_path, "a", ARRIVALS), (10, 50, 90), nan_is_never=True)
    # sorted: 100, 200, never, never → p10 100 s, p50 200 s, p90 never (NaN: not wet at that percentile)
    assert np.all(q[0] == 100.0) and np.all(q[1] == 200.0) and np.all(np.isnan(q[2]))


def test_a_dry_member_counts_as_zero_depth(tmp_path):
    q = percentiles(_save(tmp_path, "n", (np.nan, 1.0)), (50,))
    assert np.all(q[0] == 0.0)  # 1 of 2 members at or below 0 m


def test_percentiles_read_in_bands_equal_one_read(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    paths = []
    for m in range(5):
        path = tmp_path / f"r{m}.npy"
        np.save(path, rng.uniform(0, 3, (37, 11)).astype(np.float32))
        paths.append(path)
    whole = percentiles(paths)
    monkeypatch.setattr(statistics, "CHUNK_BYTES", 5 * 11 * 4 * 3)  # 3 rows a band, the last one short
    assert np.array_equal(percentiles(paths), whole)
    stack = np.stack([np.load(p) for p in paths])
    assert np.array_equal(whole[1], np.sort(stack, axis=0)[2])  # the median of 5 is the 3rd smallest


def test_a_member_of_another_grid_is_refused():
    counts = Exceedance(SHAPE, 2)
    with pytest.raises(ValueError, match="do not match"):
        counts.add(np.zeros((2, 2)), np.zeros(2, bool))
