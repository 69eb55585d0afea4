"""``choose_scheme``: the full scheme for breaches and dam breaks, the inertial one for rain."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import SimInputError
from sim.flood import Forcing, Inflow, Rain, Series, choose_scheme
from sim.flood.analytic import stoker_plateau_celerity

FLAT = np.zeros((60, 60))


def test_rain_alone_is_inertial() -> None:
    choice = choose_scheme(FLAT, 2.0, Forcing(rain=Rain(Series.constant(100.0))))
    assert choice.kind == "inertial" and "rain only" in choice.reason


def test_a_breach_hydrograph_is_full() -> None:
    """The sample city's breach: 500 m³/s over a 100 m line of 4 m cells is 5 m²/s per metre."""
    breach = Inflow.line((0, 10), (0, 34), Series([0, 1800, 3600, 7200], [0.0, 500.0, 500.0, 0.0]), name="breach")
    choice = choose_scheme(FLAT, 4.0, Forcing(inflows=(breach,)))
    assert choice.kind == "full" and "'breach'" in choice.reason and "5 m²/s" in choice.reason


def test_inflow_froude_decides_on_the_terrain_around_it() -> None:
    """0.5 m³/s into one 2 m cell (0.25 m²/s): on a 0.1 % plain with n = 0.03, uniform flow has
    Froude 0.25 (slow: inertial); down a 10 % street with n = 0.015 it has Froude 4.8 (full).
    The normal-flow Froude number is Manning's, Fr = q / (h sqrt(g h)), h = (q n / sqrt(S))^(3/5)."""
    pipe = Forcing(inflows=(Inflow.point(30, 30, 0.5, name="pipe"),))
    assert choose_scheme(FLAT, 2.0, pipe, manning=0.03).kind == "inertial"
    street = 0.1 * 2.0 * np.arange(60)[None, :].repeat(60, 0)
    choice = choose_scheme(street, 2.0, pipe, manning=0.015)
    h = (0.25 * 0.015 / np.sqrt(0.1)) ** 0.6
    assert choice.kind == "full" and f"{0.25 / (h * np.sqrt(9.81 * h)):.2f}" in choice.reason


def test_a_dam_break_onto_dry_ground_is_full() -> None:
    depth = np.where(np.arange(60) < 30, 2.0, 0.0)[None, :].repeat(60, 0)
    choice = choose_scheme(FLAT, 5.0, Forcing(), initial_depth=depth)
    assert choice.kind == "full" and "dry ground" in choice.reason


@pytest.mark.parametrize(("low", "kind"), [(0.5, "full"), (1.9, "inertial")])
def test_a_wet_dam_break_counts_by_its_wave_froude(low: float, kind: str) -> None:
    """2 m against 0.5 m makes Stoker's plateau run at Froude 0.69 (full); against 1.9 m at 0.03
    (inertial)."""
    depth = np.where(np.arange(60) < 30, 2.0, low)[None, :].repeat(60, 0)
    cm = stoker_plateau_celerity(2.0, low)
    assert (2 * (np.sqrt(9.81 * 2.0) - cm) / cm >= 0.5) == (kind == "full")
    assert choose_scheme(FLAT, 5.0, Forcing(), initial_depth=depth).kind == kind


def test_a_lake_at_rest_among_islands_is_not_a_dam_break() -> None:
    y, x = np.mgrid[0:60, 0:60]
    dem = 2.0 * np.sin(x / 5.0) * np.cos(y / 7.0)
    choice = choose_scheme(dem, 2.0, Forcing(), initial_wse=1.0)
    assert choice.kind == "inertial"


def test_bad_dem_is_refused() -> None:
    with pytest.raises(SimInputError):
        choose_scheme(np.full((3, 3), np.nan), 1.0, Forcing())
