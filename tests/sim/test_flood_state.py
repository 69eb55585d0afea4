"""Warm starts: a run split in two, with its state saved to a file and restored into a new
model in the middle, equals the same run in one go."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.errors import SimInputError
from sim.flood import Boundaries, Boundary, FloodModel, FloodState, Forcing, Inflow, Rain, Series


def _model(kind: str) -> FloodModel:
    """A bumpy 2 m town slope with walls, a rain series that stops, a point hydrograph and a
    stage held on the west side: water moving in every way the engine books."""
    ny, nx = 40, 52
    y, x = np.mgrid[0:ny, 0:nx]
    dem = 0.01 * 2.0 * x + 0.3 * np.sin(x / 4.0) * np.cos(y / 6.0)
    blocked = np.zeros((ny, nx))
    blocked[10:16, 20:28] = 1.0
    blocked[25:30, 8:12] = 0.4
    forcing = Forcing(rain=Rain(Series([0, 200, 400], [80.0, 30.0, 0.0], hold=True)),
                      inflows=(Inflow.point(20, 40, Series([0, 300, 600], [0.5, 1.5, 0.0]), "pipe"),),
                      boundaries=Boundaries(west=Boundary.fixed_stage(Series([0, 600], [0.4, 0.2]))))
    return FloodModel(dem, 2.0, blocked=blocked, manning=0.03, forcing=forcing, scheme=kind)


@pytest.mark.parametrize("kind", ["inertial", "full"])
def test_run_split_with_saved_state_equals_run_whole(kind: str, tmp_path: Path) -> None:
    """Both runs take the same steps (output times land on the split), so the depths,
    discharges, maxima, arrival times and volume budget agree to round-off: 1e-12 m relative to
    the deepest water (float64 sums in a different order would differ by ~1e-15)."""
    whole = _model(kind)
    whole.run(600.0, output_interval=100.0)
    first = _model(kind)
    first.run(300.0, output_interval=100.0)
    first.state().save(tmp_path / "state.npz")
    second = _model(kind)
    second.restore(FloodState.load(tmp_path / "state.npz"))
    second.run(600.0, output_interval=100.0)
    a, b = whole.result(), second.result()
    scale = float(np.nanmax(a.max_depth))
    assert scale > 0.05, "the test needs moving water"
    assert a.steps == b.steps
    np.testing.assert_allclose(b.depth, a.depth, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(b.max_depth, a.max_depth, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(b.max_velocity, a.max_velocity, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.isnan(b.arrival_time), np.isnan(a.arrival_time))
    np.testing.assert_allclose(b.arrival_time, a.arrival_time, rtol=0, atol=1e-9)
    for name in ("rain_m3", "inflow_m3", "boundary_in_m3", "boundary_out_m3", "stored_m3"):
        assert getattr(b.mass, name) == pytest.approx(getattr(a.mass, name), rel=1e-12, abs=1e-9)
    # the split run in one piece would not match if the state were not carried: a cold second
    # half differs by far more than the tolerance
    cold = _model(kind)
    cold.time = 300.0
    cold.run(600.0, output_interval=100.0)
    assert np.nanmax(np.abs(cold.result().depth - a.depth)) > 100 * 1e-12 * scale


def test_fresh_tracks_start_from_the_restored_water() -> None:
    """``tracks=False``: maxima start at the restored depths, cells already wet arrive at the
    restart time, and the budget's initial volume is the restored water."""
    first = _model("inertial")
    first.run(300.0)
    state = first.state()
    second = _model("inertial")
    second.restore(state, tracks=False)
    assert second.mass.initial_m3 == pytest.approx(first.stored_volume(), rel=1e-12)
    wet = state.depth > second.tracks.arrival_depth
    assert np.all(second.tracks.arrival[wet] == 300.0) and np.all(np.isinf(second.tracks.arrival[~wet]))
    second.run(400.0)
    r = second.result()
    assert r.mass.error_rel < 1e-10


def test_state_of_another_scheme_or_grid_is_refused(tmp_path: Path) -> None:
    state = _model("inertial").state()
    with pytest.raises(SimInputError, match="scheme"):
        _model("full").restore(state)
    small = FloodModel(np.zeros((5, 5)), 2.0)
    with pytest.raises(SimInputError, match="grid"):
        small.restore(state)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(SimInputError, match="cannot read"):
        FloodState.load(tmp_path / "junk.npz")
