"""The ensemble's statistics: exceedance counts streamed as members finish, percentiles at the end.

``Exceedance`` adds one member at a time (integer counts per cell and per building), so no more
than one member's grids are in memory while the ensemble runs, and the counts do not depend on the
order members finish in. Percentiles need every member's value of a cell: ``percentiles`` reads
the members' saved rasters (memory-mapped ``.npy``) a band of rows at a time.

Percentiles are the "inverted CDF" kind (Hyndman & Fan 1996, definition 1): the smallest member
value v with at least q % of members at or below v. Every mapped value is a depth or an arrival
time some member produced, never one interpolated between members (with 8-50 members an
interpolated p90 is a depth no run showed), and a cell that stays dry in a member counts as
arriving at +∞: its arrival percentile is NaN ("not wet") where more than 100 − q % of members
never wet it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.depth_classes import is_wet

#: The depths (m) whose exceedance probability is mapped: MLIT class bounds (adults wade to 0.5 m;
#: a ground floor is under water from 3 m).
EXCEEDANCE_DEPTHS_M = (0.5, 3.0)
#: The percentiles of maximum depth and arrival time that are mapped.
PERCENTILES = (10, 50, 90)
#: Bytes of member values read at once when computing percentiles.
CHUNK_BYTES = 64 * 2**20


@dataclass
class Exceedance:
    """Counts of members per cell above each depth of ``depths_m``, and per building wetted."""

    shape: tuple[int, int]
    buildings: int
    depths_m: tuple[float, ...] = EXCEEDANCE_DEPTHS_M
    members: int = 0
    cells: np.ndarray = field(init=False)
    wetted: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.cells = np.zeros((len(self.depths_m), *self.shape), np.int32)
        self.wetted = np.zeros(self.buildings, np.int32)

    def add(self, max_depth: np.ndarray, wetted: np.ndarray) -> None:
        """Count one member: its maximum depth per cell and whether each building got wet."""
        if max_depth.shape != self.shape or wetted.shape != (self.buildings,):
            raise ValueError(f"member grids {max_depth.shape}/{wetted.shape} do not match the ensemble's "
                             f"{self.shape}/({self.buildings},)")
        for k, depth in enumerate(self.depths_m):
            self.cells[k] += is_wet(max_depth, depth)
        self.wetted += wetted.astype(bool)
        self.members += 1

    def probability(self) -> np.ndarray:
        """P(max depth ≥ depth) per depth and cell, (len(depths), rows, cols) float32."""
        return (self.cells / max(self.members, 1)).astype(np.float32)

    def building_probability(self) -> np.ndarray:
        """P(wetted) per building, float32."""
        return (self.wetted / max(self.members, 1)).astype(np.float32)


def percentiles(paths: Sequence[Path], qs: Sequence[float] = PERCENTILES, nan_is_never: bool = False) -> np.ndarray:
    """Per-cell percentiles ``qs`` over the members' rasters at ``paths`` (``.npy``), (len(qs), rows, cols)
    float32. NaN in a member counts as 0 (a dry cell's maximum depth), or with ``nan_is_never`` as +∞
    (an arrival that never came), and a percentile that is +∞ comes back as NaN."""
    first = np.load(paths[0], mmap_mode="r")
    rows, cols = first.shape
    out = np.empty((len(qs), rows, cols), np.float32)
    band = max(1, CHUNK_BYTES // max(1, len(paths) * cols * 4))
    for top in range(0, rows, band):
        stack = np.stack([np.load(p, mmap_mode="r")[top:top + band] for p in paths]).astype(np.float64)
        stack = np.where(np.isnan(stack), np.inf if nan_is_never else 0.0, stack)
        values = np.percentile(stack, qs, axis=0, method="inverted_cdf")
        if nan_is_never:
            values = np.where(np.isinf(values), np.nan, values)
        out[:, top:top + band] = values
    return out
