"""Skipping dry ground: the grid as blocks of cells, and which of them a step must compute.

A block is computed when it holds water deeper than the scheme's no-flow depth, gets rain or
an inflow, lies on a stage or discharge boundary, or touches such a block. Elsewhere every face
flux of the scheme is exactly zero and every cell keeps its depth, so leaving those blocks out
gives the same numbers as computing them. A scheme's water crosses at most ``reach`` cells a
step (the inertial scheme 1: a face carries flow only where one of its two cells holds water
above the no-flow depth; the full scheme 2: two stages, each moving water one cell), so a wet
block wakes only the neighbours across the sides where its water lies within ``reach`` cells
of its border, and the diagonal neighbour between two such sides when ``reach`` is 2 or more: a
front in the middle of a block does not compute the ring of blocks around it. Blocks holding
rain, an inflow or a fed side wake all 8 neighbours. The kernels take the active cells as work
items ``(row, first col, end col)``: runs of consecutive active blocks, one item per grid row.

The items are also cut to the cells the water can reach: in each row of a run, from ``reach``
columns before the first to ``reach`` after the last cell holding water in that row or the
``reach`` rows on either side, now or at the start of the previous step (``ActiveBlocks.spans``,
recorded by the depth update per row and block). A face the step leaves out then lies between
two cells that the water could not reach in the last step or in this one (nor, for the full
scheme, in either's first stage), so it carried nothing in the last step and carries nothing in
this one: it is zero already, as computing it would make it; and a cell left out keeps its
state, which is what computing it would give. Blocks holding or beside inflows, rain or a fed
side are computed whole (inflows add water between the kernels' records).
"""

from __future__ import annotations

import numpy as np
from numba import njit

BLOCK = 32
# cells of a work item at most (see ``_cut``): the sample city's breach on 2 threads gave the busier thread
# 16 % more than half the cells with whole rows as items, 3 % with pieces of 128 cells, 2 % with 64
PIECE_CELLS = 128
_NONE_STOPPED = np.zeros((0, 2), np.int64)
NO_WATER = np.iinfo(np.int32).max  # a span's first column where a row's stretch holds no water (its last: -1)
# planes of ``ActiveBlocks.wet``: water anywhere in the block, within ``reach`` cells of its north, south,
# west, east border
WET, NORTH, SOUTH, WEST, EAST = range(5)


class ActiveBlocks:
    """Which blocks of ``block`` x ``block`` cells a step computes, and their work items.

    ``wet`` is set by the depth-update kernels: plane ``WET`` is 1 where a block holds water above
    the scheme's no-flow depth after the step, planes ``NORTH`` ... ``EAST`` where that water lies
    within ``reach`` rows or columns of the block's border on that side. ``always`` marks blocks
    computed every step (along stage and discharge boundaries), ``inflows`` those holding each
    inflow's cells, computed while it runs. The items are cut to the cells within ``reach`` of
    water (``spans``).

    ``spans[k, 0 | 1, row, block col]`` is the first | last column holding water in that row of
    that block, for the water after the last step (k = 1 - ``turn``) and the one before (k = ``turn``)
    when ``refresh`` is called; the step after it overwrites the older plane (``spans_out``) for the
    rows it computes.
    """

    def __init__(self, shape: tuple[int, int], always: np.ndarray, inflows: list[np.ndarray], block: int = BLOCK,
                 skip: bool = True, reach: int = 1) -> None:
        self.shape = shape
        self.block = block
        self.skip = skip
        self.reach = reach
        ny, nx = shape
        self.nby, self.nbx = -(-ny // block), -(-nx // block)
        self.always = always
        self.inflows = inflows
        self.wet = np.ones((5, self.nby, self.nbx), np.uint8)
        self.tracking = False  # whether the kernels keep ``wet`` up to date this step
        self._wet_known = False  # whether ``wet`` describes the water now
        self.active = np.ones((self.nby, self.nbx), bool)
        self.items = _items(self.active, shape, block)
        self._all = np.ones((self.nby, self.nbx), bool)
        self._none = np.zeros((self.nby, self.nbx), bool)
        self._block_items = self.items  # the active blocks' items, before cutting them to the water
        self.spans = np.empty((2, 2, ny, self.nbx), np.int32)
        self.turn = 0

    @classmethod
    def for_forcing(cls, shape: tuple[int, int], inflow_cells: list[tuple[np.ndarray, np.ndarray]],
                    fed_sides: tuple[str, ...], block: int = BLOCK, skip: bool = True,
                    reach: int = 1) -> ActiveBlocks:
        """Blocks for a grid whose inflows feed the given (rows, cols) and whose ``fed_sides``
        hold a stage or a discharge."""
        nby, nbx = -(-shape[0] // block), -(-shape[1] // block)
        always = np.zeros((nby, nbx), bool)
        sides: dict[str, tuple[int | slice, int | slice]] = {"north": (0, slice(None)), "south": (-1, slice(None)),
                 "west": (slice(None), 0), "east": (slice(None), -1)}
        for side in fed_sides:
            always[sides[side]] = True
        inflows = []
        for rows, cols in inflow_cells:
            fed = np.zeros((nby, nbx), bool)
            fed[np.asarray(rows, np.int64) // block, np.asarray(cols, np.int64) // block] = True
            inflows.append(fed)
        return cls(shape, always, inflows, block, skip, reach)

    def refresh(self, rained: np.ndarray | bool, fed: list[int], h: np.ndarray, threshold: float) -> np.ndarray:
        """Recompute the active blocks for the coming step, given where it rains, which inflows
        (indices) run and the depth ``h`` (water deeper than ``threshold`` moves); returns the
        (row, col) indices of blocks that stop being computed, whose faces the caller must zero.
        Where rain falls on every block, all are computed and no block's water is tracked."""
        if not self.skip or rained is True:
            self.tracking = self._wet_known = False
            if not self.active.all():
                self._activate(self._all.copy())
            return _NONE_STOPPED
        first = not self._wet_known  # the water of the previous step unknown: no cutting this step
        out = self.turn
        if first:
            self.wet[...] = _wet_planes(h, threshold, self.block, self.nby, self.nbx, self.reach)
        if first:
            self.spans[out] = [[[NO_WATER]], [[-1]]]
            _row_spans(h, threshold, self.block, self.spans[1 - out])
        self.tracking = self._wet_known = True
        if rained is False:
            rained = self._none
        for i in fed:
            rained = rained | self.inflows[i]
        active, changed = _grown(self.wet, self.always, rained, self.active, self.reach)
        stopped = _NONE_STOPPED
        if changed:
            stopped = np.argwhere(self.active & ~active)
            self._activate(active)
            _forget_spans(stopped, self.block, self.spans)
        self.items = self._block_items if first else _cut(self._block_items, self.spans, self.always | rained,
                                                           self.block, self.reach)
        self.turn = 1 - out
        _clear(self.wet, active)  # the update kernels set it again where water remains
        return stopped

    @property
    def cells(self) -> int:
        """Cells the coming step computes."""
        return _cells(self.items)

    def _activate(self, active: np.ndarray) -> None:
        """Compute the blocks ``active`` from now on (their items not yet cut to the water)."""
        self.active = active
        self._block_items = self.items = _items(active, self.shape, self.block)

    @property
    def spans_out(self) -> np.ndarray:
        """The plane of ``spans`` the coming step's depth update writes."""
        return self.spans[1 - self.turn]

    @property
    def fraction(self) -> float:
        """Share of the grid's blocks computed in the current step."""
        return float(self.active.mean())


def _items(active: np.ndarray, shape: tuple[int, int], block: int) -> np.ndarray:
    """Work items (row, c0, c1): for every grid row of a block row, each run of active blocks."""
    ny, nx = shape
    edges = np.diff(np.pad(active, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    br, bc0 = np.nonzero(edges == 1)
    _, bc1 = np.nonzero(edges == -1)  # row-major order pairs each run's start with its end
    r0 = br * block
    counts = np.minimum(r0 + block, ny) - r0
    first = np.repeat(np.cumsum(counts) - counts, counts)
    rows = np.repeat(r0, counts) + np.arange(int(counts.sum())) - first
    # unsigned, so that numba knows the indices are not negative and skips its wraparound check
    # (which would stop the loops vectorising)
    return np.stack([rows, np.repeat(bc0 * block, counts), np.repeat(np.minimum(bc1 * block, nx), counts)],
                    axis=1).astype(np.uint32)


@njit(cache=True)
def _cells(items):
    """Cells covered by the work items."""
    n = 0
    for k in range(items.shape[0]):
        n += np.int64(items[k, 2]) - np.int64(items[k, 1])
    return n


@njit(cache=True)
def _clear(wet, active):
    """Zero every plane of ``wet`` on the ``active`` blocks."""
    for i in range(active.shape[0]):
        for j in range(active.shape[1]):
            if active[i, j]:
                wet[:, i, j] = 0


@njit(cache=True)
def _cut(items, spans, forced, block, reach):
    """The work items cut, row by row, to ``reach`` cells around the water in ``spans`` (both
    planes) in that row and the ``reach`` rows either side; whole blocks where ``forced`` or
    beside a forced block. Then split at block borders into pieces of at most ``PIECE_CELLS``
    (rounded to whole blocks): a kernel gives each thread an equal count of items, so items of
    like size give the threads like work (a block's span in a row stays with one item)."""
    nby, nbx = forced.shape
    ny = spans.shape[2]
    whole = np.zeros((nby, nbx), np.bool_)
    for i in range(nby):
        for j in range(nbx):
            if forced[i, j]:
                whole[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] = True
    piece = max(PIECE_CELLS // block, 1) * block
    out = np.empty((items.shape[0] * (nbx * block // piece + 1), 3), items.dtype)
    n = 0
    for k in range(items.shape[0]):
        r, c0, c1 = np.int64(items[k, 0]), np.int64(items[k, 1]), np.int64(items[k, 2])
        br = r // block
        r0, r1 = max(r - reach, 0), min(r + reach + 1, ny)
        first, last = c0 // block, (c1 - 1) // block
        # blocks run west to east, so the first one from the west holding water (or whole) gives
        # the start and the first one from the east the end: scan each way until one does
        lo = c1
        for bc in range(first, last + 1):
            lo = bc * block if whole[br, bc] else _first_water(spans, r0, r1, bc)
            if lo != NO_WATER:
                break
        hi = np.int64(-1)
        for bc in range(last, first - 1, -1):
            hi = min((bc + 1) * block, c1) - 1 if whole[br, bc] else _last_water(spans, r0, r1, bc)
            if hi >= 0:
                break
        if 0 <= hi and lo <= hi:
            start = max(c0, lo - reach)
            end = min(c1, hi + reach + 1)
            while start < end:
                stop = min(end, (start // piece + 1) * piece)
                out[n, 0] = r
                out[n, 1] = start
                out[n, 2] = stop
                n += 1
                start = stop
    return out[:n]


@njit(cache=True, inline="always")
def _first_water(spans, r0, r1, bc):
    """The first column of water in block column ``bc`` over rows r0 <= r < r1, both planes."""
    lo = np.int64(NO_WATER)
    for rr in range(r0, r1):
        lo = min(lo, np.int64(spans[0, 0, rr, bc]), np.int64(spans[1, 0, rr, bc]))
    return lo


@njit(cache=True, inline="always")
def _last_water(spans, r0, r1, bc):
    """The last column of water in block column ``bc`` over rows r0 <= r < r1, both planes (-1: none)."""
    hi = np.int64(-1)
    for rr in range(r0, r1):
        hi = max(hi, np.int64(spans[0, 1, rr, bc]), np.int64(spans[1, 1, rr, bc]))
    return hi


@njit(cache=True)
def _row_spans(h, threshold, block, spans):
    """``spans`` (first | last, row, block col) of the water deeper than ``threshold`` in ``h``."""
    ny, nx = h.shape
    for r in range(ny):
        for bc in range(spans.shape[2]):
            first = NO_WATER
            last = -1
            for c in range(bc * block, min((bc + 1) * block, nx)):
                if h[r, c] > threshold:
                    first = min(first, c)
                    last = c
            spans[0, r, bc] = first
            spans[1, r, bc] = last


@njit(cache=True)
def _forget_spans(stopped, block, spans):
    """Mark the blocks in ``stopped`` as holding no water in both planes of ``spans``."""
    ny = spans.shape[2]
    for k in range(stopped.shape[0]):
        r0 = stopped[k, 0] * block
        bc = stopped[k, 1]
        for r in range(r0, min(r0 + block, ny)):
            for plane in range(2):
                spans[plane, 0, r, bc] = NO_WATER
                spans[plane, 1, r, bc] = -1


@njit(cache=True)
def _grown(wet, always, rained, before, reach):
    """Blocks that are wet, rained on (or fed) or always computed, and their neighbours: all 8
    for the rained on and always computed, a wet block's only across the sides its water lies
    within ``reach`` of (and the diagonal between two such sides if ``reach`` >= 2); and whether
    that differs from ``before``."""
    _, nby, nbx = wet.shape
    active = np.zeros((nby, nbx), np.bool_)
    for i in range(nby):
        for j in range(nbx):
            if always[i, j] or rained[i, j]:
                active[max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] = True
            elif wet[WET, i, j]:
                active[i, j] = True
                if wet[NORTH, i, j] and i > 0:
                    active[i - 1, j] = True
                if wet[SOUTH, i, j] and i + 1 < nby:
                    active[i + 1, j] = True
                if wet[WEST, i, j] and j > 0:
                    active[i, j - 1] = True
                if wet[EAST, i, j] and j + 1 < nbx:
                    active[i, j + 1] = True
                if reach >= 2:  # water in a corner crosses into the diagonal block in two moves
                    for side_r, di in ((NORTH, -1), (SOUTH, 1)):
                        for side_c, dj in ((WEST, -1), (EAST, 1)):
                            if wet[side_r, i, j] and wet[side_c, i, j] and 0 <= i + di < nby and 0 <= j + dj < nbx:
                                active[i + di, j + dj] = True
    changed = False
    for i in range(nby):
        for j in range(nbx):
            changed = changed or active[i, j] != before[i, j]
    return active, changed


def _wet_planes(h: np.ndarray, threshold: float, block: int, nby: int, nbx: int, reach: int) -> np.ndarray:
    """The ``wet`` planes of :class:`ActiveBlocks` for the depths ``h``."""
    ny, nx = h.shape
    deep = np.zeros((nby * block, nbx * block), bool)
    deep[:ny, :nx] = h > threshold
    cells = deep.reshape(nby, block, nbx, block)
    return np.stack([cells.any(axis=(1, 3)), cells[:, :reach].any(axis=(1, 3)), cells[:, -reach:].any(axis=(1, 3)),
                     cells[:, :, :, :reach].any(axis=(1, 3)), cells[:, :, :, -reach:].any(axis=(1, 3))]).astype(np.uint8)


@njit(cache=True, inline="always")
def _deepest(h, r, b0, b1):
    """The deepest water in row ``r`` from ``b0`` to ``b1``, and whether one is NaN."""
    m = 0.0
    broken = False
    for c in range(b0, b1):
        d = h[r, c]
        m = max(m, d)
        broken |= d != d
    return m, broken


@njit(cache=True)
def mark_row_spans(h, r, c0, c1, threshold, block, reach, wet, spans, track):
    """Flag (if ``track``) in the planes of ``wet`` the blocks of row ``r`` between ``c0`` and
    ``c1`` that hold water above ``threshold``, and where it lies within ``reach`` of their border,
    writing into ``spans`` (first | last, row, block col) the first and last column holding such
    water in each block the row crosses (``NO_WATER``, -1 where none); returns the deepest water
    there (NaN if a depth is NaN). Not inlined: beside a kernel's main loop, this
    max-reduction would stop that loop vectorising."""
    if not track:
        deepest, broken = _deepest(h, r, c0, c1)
        return np.nan if broken else deepest
    nx = h.shape[1]
    br = r // block
    top = r % block < reach
    bottom = r % block >= block - reach
    deepest = 0.0
    broken = False
    for bc in range(c0 // block, (c1 - 1) // block + 1):
        start = bc * block
        end = min(start + block, nx)
        b0 = max(c0, start)
        b1 = min(c1, end)
        # a whole block's stretch in a loop of known length, which vectorises without a remainder
        m, nan = _deepest(h, r, b0, b0 + BLOCK) if b1 - b0 == BLOCK else _deepest(h, r, b0, b1)
        broken |= nan
        deepest = max(deepest, m)
        if not m > threshold:
            spans[0, r, bc] = NO_WATER
            spans[1, r, bc] = -1
            continue
        first = b0
        while not h[r, first] > threshold:
            first += 1
        last = b1 - 1
        while not h[r, last] > threshold:
            last -= 1
        spans[0, r, bc] = first
        spans[1, r, bc] = last
        wet[WET, br, bc] = 1
        if top:
            wet[NORTH, br, bc] = 1
        if bottom:
            wet[SOUTH, br, bc] = 1
        if first < start + reach:
            wet[WEST, br, bc] = 1
        if last >= end - reach:
            wet[EAST, br, bc] = 1
    return np.nan if broken else deepest


@njit(cache=True)
def largest(values):
    """The largest of ``values`` (0 if none), NaN if one is NaN. Called from the parallel kernels
    rather than written there: numba runs a parallel function's ``.max()`` as a reduction whose
    ``max(x, NaN)`` keeps x, so a diverged row's NaN would be lost."""
    return values.max() if values.size > 0 else 0.0


@njit(cache=True)
def zero_faces(stopped, block, fx, fy):
    """Zero the faces the blocks in ``stopped`` own (west and north faces of their cells, and the
    grid's east and south edge faces along them), in every array of the tuples ``fx``/``fy``."""
    ny, nx1 = fx[0].shape
    nx = nx1 - 1
    for k in range(stopped.shape[0]):
        r0, r1, c0, c1 = _box(stopped[k], block, ny, nx)
        c1x = nx1 if c1 == nx else c1
        r1y = ny + 1 if r1 == ny else r1
        for a in fx:
            a[r0:r1, c0:c1x] = 0
        for a in fy:
            a[r0:r1y, c0:c1] = 0


@njit(cache=True, inline="always")
def _box(index, block, ny, nx):
    """Rows r0 <= r < r1 and columns c0 <= c < c1 of the block (block row, block col) ``index``."""
    r0 = index[0] * block
    c0 = index[1] * block
    return r0, min(r0 + block, ny), c0, min(c0 + block, nx)


@njit(cache=True)
def copy_blocks(stopped, block, src, dst):
    """Copy the cells of the blocks in ``stopped`` from each array of the tuple ``src`` into the
    array of ``dst`` in the same place."""
    ny, nx = src[0].shape
    for k in range(stopped.shape[0]):
        r0, r1, c0, c1 = _box(stopped[k], block, ny, nx)
        for i in range(len(src)):
            dst[i][r0:r1, c0:c1] = src[i][r0:r1, c0:c1]


@njit(cache=True)
def add_water(h, rows, cols, area, volume):
    """Add ``volume`` m³ to each listed cell of open area ``area`` (m²), or take it where
    negative, at most what the cell holds; returns the volume added in all (m³)."""
    total = 0.0
    for k in range(rows.shape[0]):
        r, c = rows[k], cols[k]
        before = np.float64(h[r, c])
        h[r, c] = before + max(volume / area[k], -before)
        total += (np.float64(h[r, c]) - before) * area[k]  # as stored, so float32 books its rounding
    return total


@njit(cache=True)
def deepest_at(h, rows, cols):
    """The deepest water among the listed cells."""
    deepest = 0.0
    for k in range(rows.shape[0]):
        deepest = max(deepest, np.float64(h[rows[k], cols[k]]))
    return deepest
