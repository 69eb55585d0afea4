"""Which inputs an ensemble may vary, and the Latin hypercube design of its members.

``PARAMETERS`` is the whole list: a name, its unit, what it scales and the range a member may take.
``latin_hypercube`` draws ``members`` points over the requested ranges, reproducible from a seed
(McKay, Beckman & Conover 1979; ``scipy.stats.qmc.LatinHypercube``): each range is cut into
``members`` equal strata and every stratum of every parameter holds exactly one member.
The design is written to ``members.csv`` before any member runs, so a run can be audited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import qmc

from twin.errors import TwinInputError
from twin.files.atomic import write_atomic


@dataclass(frozen=True)
class Parameter:
    """An input a member may vary: its ``unit``, what it does, and the valid range [low, high]."""

    name: str
    unit: str
    meaning: str
    low: float
    high: float


#: Every input an ensemble may vary. Multipliers are dimensionless (1 = the scenario as written).
PARAMETERS: dict[str, Parameter] = {p.name: p for p in (
    Parameter("rain", "1", "multiplier of the scenario's rain intensity (every value of its series)", 0.0, 10.0),
    Parameter("peak", "1", "multiplier of every inflow hydrograph (discharge at every time)", 0.0, 10.0),
    Parameter("breach_width", "m", "width of the first inflow's breach line, kept centred; its discharge "
              "scales with the width (broad-crested weir, Q = C·B·H^1.5)", 5.0, 500.0),
    Parameter("manning", "1", "multiplier of Manning's n of the ground and the roads", 0.25, 4.0),
)}

#: The least number of members an ensemble may have (one member has no spread).
MIN_MEMBERS = 2
#: The most: a guard against a typo that would queue days of work.
MAX_MEMBERS = 1000


@dataclass(frozen=True)
class Varied:
    """One ``--vary NAME=LOW:HIGH``: the parameter and the range members are drawn from."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class Design:
    """The members' values: ``values[m, k]`` is member m's value of ``varied[k]``."""

    varied: tuple[Varied, ...]
    values: np.ndarray
    seed: int

    @property
    def members(self) -> int:
        return int(self.values.shape[0])

    def member(self, index: int) -> dict[str, float]:
        """Member ``index``'s values by parameter name."""
        return {v.name: float(self.values[index, k]) for k, v in enumerate(self.varied)}


def parse_vary(text: str) -> Varied:
    """``NAME=LOW:HIGH`` (as given to ``--vary``), checked against ``PARAMETERS``."""
    name, sep, span = text.partition("=")
    name = name.strip()
    low_text, colon, high_text = span.partition(":")
    if not sep or not colon:
        raise TwinInputError(f"--vary {text!r}: expected NAME=LOW:HIGH, e.g. rain=0.5:1.5")
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise TwinInputError(f"--vary {text!r}: LOW and HIGH must be numbers") from None
    return checked_range(name, low, high)


def checked_range(name: str, low: float, high: float) -> Varied:
    """A range of a known parameter, non-empty, increasing and inside the parameter's valid range."""
    param = PARAMETERS.get(name)
    if param is None:
        raise TwinInputError(f"cannot vary {name!r}: the parameters are "
                             + ", ".join(f"{p.name} ({p.unit}, {p.low:g}–{p.high:g})" for p in PARAMETERS.values()))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise TwinInputError(f"{name}: the range {low:g}:{high:g} must be finite numbers")
    if low >= high:
        raise TwinInputError(f"{name}: the range {low:g}:{high:g} is empty or inverted (LOW must be below HIGH)")
    if low < param.low or high > param.high:
        raise TwinInputError(f"{name}: the range {low:g}:{high:g} leaves the valid range "
                             f"{param.low:g}:{param.high:g} ({param.unit})")
    return Varied(name, low, high)


def latin_hypercube(varied: list[Varied] | tuple[Varied, ...], members: int, seed: int = 0) -> Design:
    """``members`` points, one per stratum of every range, the same for the same seed."""
    if not varied:
        raise TwinInputError("an ensemble varies at least one parameter (--vary NAME=LOW:HIGH)")
    names = [v.name for v in varied]
    if len(set(names)) != len(names):
        raise TwinInputError(f"a parameter is varied twice: {', '.join(names)}")
    if isinstance(members, bool) or not isinstance(members, int) or not MIN_MEMBERS <= members <= MAX_MEMBERS:
        raise TwinInputError(f"an ensemble has {MIN_MEMBERS} to {MAX_MEMBERS} members, got {members!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise TwinInputError(f"the seed is a whole number ≥ 0, got {seed!r}")
    unit = qmc.LatinHypercube(d=len(varied), seed=np.random.default_rng(seed)).random(members)
    lows = np.array([v.low for v in varied])
    highs = np.array([v.high for v in varied])
    return Design(tuple(varied), lows + unit * (highs - lows), seed)


def write_design(path: Path, design: Design) -> None:
    """``members.csv``: a row per member, its index and each varied value (full precision)."""
    lines = [",".join(["member", *(v.name for v in design.varied)])]
    lines += [",".join([str(m), *(repr(float(x)) for x in design.values[m])]) for m in range(design.members)]
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))

