"""Time series, forcing and inputs the engine refuses."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import SimInputError
from sim.flood import Boundaries, Boundary, FloodModel, Forcing, Gauge, Inflow, Rain, Series, simulate


def test_series_interpolates_or_holds() -> None:
    s = Series([0, 10, 20], [0.0, 10.0, 0.0])
    assert [s(t) for t in (-5, 0, 5, 10, 15, 25)] == [0, 0, 5, 10, 5, 0]
    held = Series([0, 10], [3.0, 7.0], hold=True)
    assert [held(t) for t in (0, 9.99, 10, 50)] == [3, 3, 7, 7]


@pytest.mark.parametrize("times, values", [([0, 0], [1, 2]), ([0, 1], [1]), ([0, np.nan], [1, 2]), ([], [])])
def test_bad_series_is_refused(times: list, values: list) -> None:
    with pytest.raises(SimInputError):
        Series(times, values)


def test_line_inflow_covers_the_cells_between_its_ends() -> None:
    line = Inflow.line((0, 0), (3, 6), 1.0)
    assert line.rows.size == 7 and line.rows[0] == 0 and line.rows[-1] == 3 and line.cols[-1] == 6


def test_bad_inputs_are_refused_with_a_reason() -> None:
    dem = np.zeros((5, 6))
    nan_dem = dem.copy()
    nan_dem[2, 3] = np.nan
    with pytest.raises(SimInputError, match="row 2, col 3"):
        FloodModel(nan_dem, 1.0)
    with pytest.raises(SimInputError, match="shape"):
        FloodModel(dem, 1.0, manning=np.ones((4, 6)))
    with pytest.raises(SimInputError, match="outside"):
        FloodModel(dem, 1.0, forcing=Forcing(inflows=(Inflow.point(5, 0, 1.0),)))
    with pytest.raises(SimInputError, match="outside"):
        FloodModel(dem, 1.0, gauges=[Gauge("g", 0, 6)])
    with pytest.raises(SimInputError, match="blocked"):
        FloodModel(dem, 1.0, blocked=np.ones((5, 6)), forcing=Forcing(inflows=(Inflow.point(1, 1, 1.0),)))
    with pytest.raises(SimInputError, match="duration"):
        simulate(dem, 1.0, -5.0)
    with pytest.raises(SimInputError):
        FloodModel(dem, 0.0)
    with pytest.raises(SimInputError):
        Boundary("stage")
    with pytest.raises(SimInputError):
        Boundary("discharge")
    with pytest.raises(SimInputError, match="no open cell"):
        FloodModel(dem, 1.0, blocked=np.pad(np.zeros((5, 5)), ((0, 0), (1, 0)), constant_values=1),
                   forcing=Forcing(boundaries=Boundaries(west=Boundary.inflow(1.0))))
    with pytest.raises(SimInputError):
        Rain(Series.constant(-1.0))


def test_rain_on_a_closed_box_raises_the_water_evenly() -> None:
    """36 mm/h for 100 s on a flat closed box is 1 mm everywhere (no flow on a flat film)."""
    result = simulate(np.zeros((8, 8)), 2.0, 100.0, forcing=Forcing(rain=Rain(Series.constant(36.0))))
    assert np.allclose(result.depth, 1e-3, rtol=1e-12)


@pytest.mark.parametrize("kind", ["inertial", "full"])
def test_river_across_a_side_brings_exactly_its_hydrograph(kind: str) -> None:
    """A hydrograph across the west side of a closed sloping box (one cell of it a wall): the
    volume booked in equals its integral, ½ · 600 s · 4 m³/s, to 1e-12 (steps land on its
    breakpoints, the output times, and take it at their midpoints), and it is all stored."""
    y, x = np.mgrid[0:10, 0:30]
    blocked = np.zeros((10, 30))
    blocked[4, 0] = 1.0
    river = Boundary.inflow(Series([0, 300, 600], [0.0, 4.0, 0.0]))
    result = simulate(0.01 * x, 2.0, 900.0, blocked=blocked, forcing=Forcing(boundaries=Boundaries(west=river)),
                      scheme=kind, manning=0.03, output_interval=300.0)
    assert result.mass.boundary_in_m3 == pytest.approx(1200.0, rel=1e-12)
    assert result.mass.stored_m3 == pytest.approx(1200.0, rel=1e-12)
    assert result.mass.volume_out_m3 == 0
