"""What drives a flood: rain, inflow hydrographs and the four boundaries, as time series."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.errors import SimInputError

MM_PER_H = 1.0 / 3.6e6  # m/s in one mm/h


@dataclass(frozen=True)
class Series:
    """Values at times (s), linearly interpolated, or held until the next time when ``hold``.

    Before the first time the first value applies, after the last time the last value.
    """

    times: np.ndarray
    values: np.ndarray
    hold: bool = False
    # plain lists: a model looks series up every step, and bisect beats numpy on scalars
    _times: list[float] = field(init=False, repr=False, compare=False)
    _values: list[float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.atleast_1d(np.asarray(self.times, dtype=np.float64))
        values = np.atleast_1d(np.asarray(self.values, dtype=np.float64))
        if times.ndim != 1 or times.shape != values.shape or times.size == 0:
            raise SimInputError("a time series needs as many values as times, at least one")
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(values))):
            raise SimInputError("a time series holds a NaN or infinite time or value")
        if np.any(np.diff(times) <= 0):
            raise SimInputError("the times of a time series must increase strictly")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_times", times.tolist())
        object.__setattr__(self, "_values", values.tolist())

    @classmethod
    def constant(cls, value: float) -> Series:
        """The same value at all times."""
        return cls(np.array([0.0]), np.array([float(value)]))

    def __call__(self, t: float) -> float:
        """The value at time ``t``."""
        times, values = self._times, self._values
        i = bisect_right(times, t)
        if self.hold or i == 0 or i == len(times):
            return values[max(i - 1, 0)]
        t0, t1 = times[i - 1], times[i]
        return values[i - 1] + (values[i] - values[i - 1]) * (t - t0) / (t1 - t0)

    def minimum(self) -> float:
        return float(self.values.min())


def as_series(value: float | Series, hold: bool = False) -> Series:
    """A series from a number (constant) or a series as is."""
    if isinstance(value, Series):
        return value
    return Series(np.array([0.0]), np.array([float(value)]), hold=hold)


@dataclass(frozen=True)
class Rain:
    """Rainfall intensity in mm/h: a uniform series plus, optionally, one grid per time.

    Rain is held from each time until the next (a hyetograph), the grids likewise.
    """

    mm_per_h: Series = field(default_factory=lambda: Series.constant(0.0))
    grid_times: np.ndarray | None = None
    grids: np.ndarray | None = None  # (times, rows, cols) in mm/h

    def __post_init__(self) -> None:
        object.__setattr__(self, "mm_per_h", as_series(self.mm_per_h, hold=True))
        if self.mm_per_h.minimum() < 0:
            raise SimInputError("rain intensity must not be negative")
        if (self.grids is None) != (self.grid_times is None):
            raise SimInputError("rain grids need their times, and times need grids")
        if self.grids is not None:
            grids = np.asarray(self.grids, dtype=np.float64)
            times = np.atleast_1d(np.asarray(self.grid_times, dtype=np.float64))
            if grids.ndim != 3 or grids.shape[0] != times.size:
                raise SimInputError("rain grids must be an array (times, rows, cols) with one time per grid")
            if np.any(np.diff(times) <= 0):
                raise SimInputError("the times of the rain grids must increase strictly")
            if not np.all(np.isfinite(grids)) or grids.min() < 0:
                raise SimInputError("rain grids hold NaN or negative intensities")
            object.__setattr__(self, "grids", grids)
            object.__setattr__(self, "grid_times", times)

    def grid_index(self, t: float) -> int:
        """Index of the rain grid in force at time ``t`` (-1 before the first, or without grids)."""
        if self.grid_times is None:
            return -1
        return int(np.searchsorted(self.grid_times, t, side="right")) - 1


@dataclass(frozen=True)
class Inflow:
    """A hydrograph in m³/s shared equally by one cell (a point) or several (a line)."""

    rows: np.ndarray
    cols: np.ndarray
    m3_per_s: Series
    name: str = "inflow"

    def __post_init__(self) -> None:
        rows = np.atleast_1d(np.asarray(self.rows, dtype=np.int64))
        cols = np.atleast_1d(np.asarray(self.cols, dtype=np.int64))
        if rows.shape != cols.shape or rows.ndim != 1 or rows.size == 0:
            raise SimInputError(f"{self.name}: an inflow needs matching rows and cols, at least one cell")
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "m3_per_s", as_series(self.m3_per_s))

    @classmethod
    def point(cls, row: int, col: int, m3_per_s: float | Series, name: str = "inflow") -> Inflow:
        return cls(np.array([row]), np.array([col]), as_series(m3_per_s), name)

    @classmethod
    def line(cls, start: tuple[int, int], end: tuple[int, int], m3_per_s: float | Series,
             name: str = "inflow") -> Inflow:
        """The cells on the straight line from ``start`` to ``end`` (row, col), both included."""
        n = max(abs(end[0] - start[0]), abs(end[1] - start[1])) + 1
        rows = np.rint(np.linspace(start[0], end[0], n)).astype(np.int64)
        cols = np.rint(np.linspace(start[1], end[1], n)).astype(np.int64)
        return cls(rows, cols, as_series(m3_per_s), name)


BoundaryKind = Literal["closed", "open", "stage", "discharge"]


@dataclass(frozen=True)
class Boundary:
    """One side of the grid: a wall, free outflow, a water-surface elevation (m) in time, or a
    discharge (m³/s, into the grid when positive) spread over the side's open width.

    Where a stage applies: the full scheme holds it at the grid's edge, the local inertial
    scheme in a ghost cell one cell beyond it (each scheme's natural place).
    """

    kind: BoundaryKind = "closed"
    stage: Series | None = None
    discharge: Series | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("closed", "open", "stage", "discharge"):
            raise SimInputError(f"unknown boundary kind {self.kind!r} (closed, open, stage or discharge)")
        if (self.kind == "stage") != (self.stage is not None):
            raise SimInputError("a stage boundary, and only it, needs a water-surface elevation")
        if (self.kind == "discharge") != (self.discharge is not None):
            raise SimInputError("a discharge boundary, and only it, needs a discharge")
        if self.stage is not None:
            object.__setattr__(self, "stage", as_series(self.stage))
        if self.discharge is not None:
            object.__setattr__(self, "discharge", as_series(self.discharge))

    @classmethod
    def closed(cls) -> Boundary:
        return cls("closed")

    @classmethod
    def open(cls) -> Boundary:
        return cls("open")

    @classmethod
    def fixed_stage(cls, wse_m: float | Series) -> Boundary:
        return cls("stage", as_series(wse_m))

    @classmethod
    def inflow(cls, m3_per_s: float | Series) -> Boundary:
        """A river entering across this side (LISFLOOD-FP's QVAR): ``m3_per_s`` in total, shared
        by the side's open cells in proportion to their open width."""
        return cls("discharge", discharge=as_series(m3_per_s))


SIDES = ("north", "south", "east", "west")


@dataclass(frozen=True)
class Boundaries:
    """The four sides; row 0 is the north side, column 0 the west side."""

    north: Boundary = field(default_factory=Boundary)
    south: Boundary = field(default_factory=Boundary)
    east: Boundary = field(default_factory=Boundary)
    west: Boundary = field(default_factory=Boundary)


@dataclass(frozen=True)
class Forcing:
    """Everything that adds or removes water over time."""

    rain: Rain | None = None
    inflows: tuple[Inflow, ...] = ()
    boundaries: Boundaries = field(default_factory=Boundaries)
