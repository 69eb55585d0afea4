"""The ensemble's parameters and its Latin hypercube design: reproducible, stratified, bad ranges refused."""

from __future__ import annotations

import numpy as np
import pytest

from twin.ensembles.design import PARAMETERS, Varied, latin_hypercube, parse_vary, write_design
from twin.errors import TwinInputError

RANGES = (Varied("rain", 0.5, 1.5), Varied("breach_width", 20.0, 80.0))


def test_the_same_seed_gives_the_same_design_and_another_seed_another():
    a = latin_hypercube(RANGES, 16, seed=7)
    b = latin_hypercube(RANGES, 16, seed=7)
    c = latin_hypercube(RANGES, 16, seed=8)
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_every_stratum_of_every_range_holds_exactly_one_member():
    design = latin_hypercube(RANGES, 16, seed=3)
    for k, v in enumerate(RANGES):
        column = design.values[:, k]
        assert column.min() >= v.low and column.max() <= v.high
        strata = np.floor((column - v.low) / (v.high - v.low) * 16).astype(int)
        assert sorted(strata) == list(range(16))  # the defining property of a Latin hypercube


def test_members_csv_holds_the_design_at_full_precision(tmp_path):
    design = latin_hypercube(RANGES, 4, seed=1)
    write_design(tmp_path / "members.csv", design)
    lines = (tmp_path / "members.csv").read_text().splitlines()
    assert lines[0] == "member,rain,breach_width"
    back = np.array([[float(x) for x in line.split(",")[1:]] for line in lines[1:]])
    assert np.array_equal(back, design.values)
    assert design.member(2) == {"rain": design.values[2, 0], "breach_width": design.values[2, 1]}


def test_a_vary_flag_is_read_with_its_range():
    assert parse_vary("breach_width=20:80") == Varied("breach_width", 20.0, 80.0)
    assert parse_vary(" manning = 0.5:2") == Varied("manning", 0.5, 2.0)


@pytest.mark.parametrize(("text", "message"), [
    ("wind=0.5:1.5", "cannot vary 'wind'"),
    ("rain=1:1", "empty or inverted"),
    ("rain=1.5:0.5", "empty or inverted"),
    ("rain=0.5", "NAME=LOW:HIGH"),
    ("rain=a:b", "must be numbers"),
    ("rain=nan:2", "finite"),
    ("breach_width=1:80", "valid range 5:500"),
    ("manning=0.5:9", "valid range 0.25:4"),
])
def test_bad_ranges_are_refused_with_a_clear_error(text, message):
    with pytest.raises(TwinInputError, match=message):
        parse_vary(text)


@pytest.mark.parametrize("members", [1, 0, -3, 1001])
def test_an_ensemble_needs_two_members_or_more(members):
    with pytest.raises(TwinInputError, match="2 to 1000 members"):
        latin_hypercube(RANGES, members)


def test_a_parameter_varied_twice_or_none_is_refused():
    with pytest.raises(TwinInputError, match="varied twice"):
        latin_hypercube((RANGES[0], RANGES[0]), 4)
    with pytest.raises(TwinInputError, match="at least one parameter"):
        latin_hypercube((), 4)


def test_every_parameter_states_a_unit_and_a_valid_range():
    for p in PARAMETERS.values():
        assert p.unit and p.meaning and p.low < p.high
