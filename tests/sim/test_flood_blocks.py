"""Skipping dry ground gives the same flood as computing every cell."""

from __future__ import annotations

import numpy as np
import pytest

from sim.flood import Boundaries, Boundary, FloodModel, Forcing, Inflow, Rain, Scheme, Series
from sim.flood.blocks import (
    BLOCK,
    EAST,
    PIECE_CELLS,
    SOUTH,
    WET,
    ActiveBlocks,
    _cut,
    _items,
    _row_spans,
    _wet_planes,
    mark_row_spans,
)


def _valley(ny: int = 160, nx: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A valley sloping 2 % to the south with a side slope, and a block of buildings."""
    y, x = np.mgrid[0:ny, 0:nx]
    dem = 0.04 * (ny - y) + 0.02 * np.abs(x - 40) + 0.1 * np.sin(x / 3.0) * np.cos(y / 5.0)
    blocked = np.zeros((ny, nx))
    blocked[40:46, 30:36] = 1.0
    blocked[60:63, 45:48] = 0.5
    blocked[POND[0].start - 1:POND[0].stop + 1, POND[1].start - 1:POND[1].stop + 1] = 1.0  # the pond's wall
    blocked[POND] = 0.0
    return dem, blocked


POND = (slice(20, 40), slice(150, 190))  # walled, full at the start, pumped dry in its first minute


def _run(kind: str, skip: bool) -> tuple[FloodModel, object, list[float]]:
    dem, blocked = _valley()
    rain_grid = np.zeros(dem.shape)
    rain_grid[130:150, 150:175] = 40.0  # a shower on one corner only, for the first 2 minutes
    forcing = Forcing(
        rain=Rain(grid_times=np.array([0.0, 120.0]), grids=np.stack([rain_grid, np.zeros(dem.shape)])),
        inflows=(Inflow.point(5, 40, Series([0, 30, 90, 120], [0.0, 3.0, 3.0, 0.0])),
                 Inflow(*np.mgrid[POND].reshape(2, -1), Series([0, 60, 60.01], [-200.0, -200.0, 0.0]), "pump")),
        boundaries=Boundaries(south=Boundary.open(), east=Boundary.fixed_stage(Series([0, 300], [0.0, 1.5]))))
    pond = np.zeros(dem.shape)
    pond[POND] = 0.5
    model = FloodModel(dem, 2.0, blocked=blocked, manning=0.03, forcing=forcing, initial_depth=pond,
                       scheme=Scheme(kind=kind, skip_dry=skip, threads=1), arrival_depth=0.05)
    fractions: list[float] = []
    result = model.run(600.0, output_interval=100.0, on_progress=lambda t, end: fractions.append(model.blocks.fraction))
    return model, result, fractions


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["inertial", "full"])
def test_skipping_dry_blocks_changes_nothing(kind: str) -> None:
    """A hydrograph running down a valley, a shower on one corner, a pond pumped dry and a
    rising stage on the east side, with and without skipping: every number of the result is
    the same to the last bit (the skipped cells' fluxes are exactly zero either way), while the
    skipping run computes a fraction of the grid, blocks starting as the water spreads and
    stopping once the pond is empty (the path that zeroes their faces)."""
    full_model, everything, _ = _run(kind, skip=False)
    model, skipped, fractions = _run(kind, skip=True)
    for name in ("depth", "max_depth", "arrival_time", "max_velocity"):
        assert np.array_equal(getattr(skipped, name), getattr(everything, name), equal_nan=True), name
    assert skipped.steps == everything.steps
    assert skipped.mass == everything.mass
    assert np.array_equal(model.velocities()[0], full_model.velocities()[0])
    # measured 0.46 (inertial: blocks of 32, neighbours across touched sides, rows cut to the water within a cell)
    # and 0.26 (full: blocks of 16, sides with water within two cells, rows cut to two cells around the water;
    # 0.69 when it woke all 8 neighbours of 32-cell blocks and computed them whole)
    assert skipped.cells_computed < (0.65 if kind == "inertial" else 0.4) * everything.cells_computed
    assert everything.cells_computed == everything.steps * everything.cells
    assert max(fractions) < 1.0
    assert any(b > a for a, b in zip(fractions, fractions[1:]))  # blocks start as the water spreads
    assert any(b < a for a, b in zip(fractions, fractions[1:]))  # and stop once the pond is empty
    assert np.all(skipped.depth[POND] == 0)


@pytest.mark.parametrize("kind", ["inertial", pytest.param("full", marks=pytest.mark.slow)])
def test_items_cut_to_the_water_change_nothing(kind: str) -> None:
    """Water spreading every way from an inflow, out of the blocks computed whole around it, over
    rough ground with walls, then draining away through the open west side: the items, cut row
    by row to the cells the water can reach in a step, give every number of computing the whole
    grid, in float32 and float64."""
    y, x = np.mgrid[0:96, 0:160]
    dem = 0.002 * x + 0.05 * np.sin(x / 2.0) * np.cos(y / 3.0)
    blocked = np.zeros(dem.shape)
    blocked[40:44, 60:100:3] = 1.0
    forcing = Forcing(inflows=(Inflow.point(48, 80, Series([0, 60, 240, 300], [0.0, 20.0, 20.0, 0.0])),),
                      boundaries=Boundaries(west=Boundary.open()))
    # the full scheme in float32 only (its float64 skipping is compared bit for bit in the valley test above)
    for dtype in (np.float32, np.float64) if kind == "inertial" else (np.float32,):
        results = [FloodModel(dem, 2.0, blocked=blocked, manning=0.03, forcing=forcing,
                              scheme=Scheme(kind=kind, skip_dry=skip, dtype=dtype, threads=1)).run(
                                  900.0, output_interval=300.0)
                   for skip in (False, True)]
        for name in ("depth", "max_depth", "arrival_time", "max_velocity"):
            assert np.array_equal(getattr(results[1], name), getattr(results[0], name), equal_nan=True), name
        assert results[1].mass == results[0].mass
        assert results[1].cells_computed < 0.8 * results[0].cells_computed


def test_after_rain_on_every_block_every_wet_block_is_computed_whole() -> None:
    """Rain on every block computes them all without tracking the water; the first step after it
    computes every cell of the blocks then wet (here all of them), not the items of the blocks
    that were wet before the rain."""
    blocks = ActiveBlocks.for_forcing((128, 128), [], ())
    h = np.zeros((128, 128))
    h[5:10, 5:10] = 0.1
    blocks.refresh(False, [], h, 0.001)
    assert blocks.cells == 32 * 32  # the one wet block
    blocks.refresh(True, [], h, 0.001)
    h[:] = 0.01  # the rain has wetted the whole grid
    blocks.refresh(False, [], h, 0.001)
    assert blocks.active.all()
    assert blocks.cells == h.size


def test_long_rows_of_water_are_split_into_pieces_along_block_borders() -> None:
    """A kernel gives its threads equal counts of work items, so the cut items are pieces of at
    most ``PIECE_CELLS`` cells that split rows only at block borders (a block's row stays in one
    item, as its span records need) and cover exactly the cells the cut gives."""
    h = np.zeros((64, 600))
    h[10, 3:590] = 0.1  # a long strip of water
    h[40, 100:110] = 0.1  # and a short one
    active = np.ones((2, 19), bool)
    spans = np.empty((2, 2, 64, 19), np.int32)
    for plane in spans:  # the same water now and a step ago
        _row_spans(h, 0.001, BLOCK, plane)
    items = _cut(_items(active, h.shape, BLOCK), spans, ~active, BLOCK, 1).astype(np.int64)
    assert (items[:, 2] - items[:, 1]).max() <= PIECE_CELLS
    same_row = items[1:, 0] == items[:-1, 0]
    inner = np.concatenate([items[1:, 1][same_row], items[:-1, 2][same_row]])  # where a row was split
    assert inner.size > 0 and np.all(inner % BLOCK == 0)
    covered = np.zeros(h.shape, bool)
    for r, c0, c1 in items:
        assert not covered[r, c0:c1].any()
        covered[r, c0:c1] = True
    assert covered[9:12, 2:591].all() and covered[39:42, 99:111].all()  # the water and one cell around it
    assert covered.sum() == 3 * (591 - 2) + 3 * (111 - 99)


@pytest.mark.parametrize(("cell", "reach", "woken"), [
    ((17, 20), 1, set()),  # one row below the north border: beyond a one-cell reach
    ((16, 20), 1, {(0, 1)}),
    ((17, 20), 2, {(0, 1)}),  # within two cells of it: across the north side
    ((18, 20), 2, set()),
    ((20, 30), 2, {(1, 2)}),  # within two of the east border
    ((31, 31), 1, {(2, 1), (1, 2)}),  # a corner cell: one move crosses either side only
    ((31, 31), 2, {(2, 1), (1, 2), (2, 2)}),  # two moves also reach the diagonal block
])
def test_a_wet_block_wakes_the_neighbours_its_water_can_reach_in_a_step(cell: tuple[int, int], reach: int,
                                                                         woken: set[tuple[int, int]]) -> None:
    """Water crossing at most ``reach`` cells a step wakes only the blocks it can reach: across a
    side where it lies within ``reach`` of the border, and the diagonal when it lies in a corner
    and can make two moves."""
    blocks = ActiveBlocks.for_forcing((96, 96), [], (), block=16, reach=reach)
    h = np.zeros((96, 96))
    h[cell] = 0.1
    blocks.refresh(False, [], h, 0.001)
    assert {tuple(int(i) for i in b) for b in np.argwhere(blocks.active)} == {(1, 1)} | woken


@pytest.mark.parametrize("reach", [1, 2])
def test_the_depth_updates_flags_match_the_whole_grids(reach: int) -> None:
    """The flags and spans the kernels record row by row (``mark_row_spans``) are those computed
    from the whole grid at once, for scattered water on a grid that ends in partial blocks."""
    rng = np.random.default_rng(3)
    h = np.where(rng.random((90, 75)) < 0.02, 0.1, 0.0)
    wet = np.zeros((5, 6, 5), np.uint8)
    spans = np.zeros((2, 90, 5), np.int32)
    for r in range(90):
        mark_row_spans(h, r, 0, 75, 0.001, 16, reach, wet, spans, True)
    whole_spans = np.zeros_like(spans)
    _row_spans(h, 0.001, 16, whole_spans)
    assert np.array_equal(spans, whole_spans)
    whole = _wet_planes(h, 0.001, 16, 6, 5, reach)
    for flags in (wet, whole):  # the south and east flags of the partial blocks on the grid's edge wake nothing
        flags[SOUTH, -1] = flags[EAST, :, -1] = 0
    assert wet[WET].any() and wet[EAST].any() and wet[SOUTH].any()
    assert np.array_equal(wet, whole)


@pytest.mark.parametrize("kind", ["inertial", "full"])
def test_a_nan_depth_stops_the_run_as_diverged(kind: str) -> None:
    """A NaN anywhere in the water ends the run with an error naming the time, not a silent result."""
    dem, blocked = _valley(64, 64)
    model = FloodModel(dem, 2.0, blocked=blocked, initial_depth=0.2, scheme=Scheme(kind=kind, dtype=np.float32))
    model.h[30, 20] = np.nan
    with pytest.raises(FloatingPointError, match="diverged at t = "):
        model.run(10.0)
