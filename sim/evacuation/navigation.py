"""Travel-time fields over the walkable raster (fast marching) and how agents read them.

A field T solves the eikonal equation |∇T| = 1/F with F the walking-speed factor of a cell
(1 on dry open ground, lower in water or hugging a wall, 0 where impassable), so T is in
metres walked at free speed. It is computed with the first-order fast marching method
(Sethian 1996, PNAS 93: 1591–1595) on the 4-neighbour stencil.

Routes scale with a city by keeping, for every cell, only the ``k`` exits nearest to it on
foot and its travel distance to each (``nearest_exits``): a multi-label fast march in which
every cell accepts at most ``k`` labels, each finalised in increasing order of distance, so
one pass over ``k`` × cells replaces one full field per exit. Memory is cells × k × 6 bytes
(an int16 exit label and a float32 distance) instead of cells × exits × 4 bytes. A cell's
list holds the k nearest exits exactly whenever the shortest path to each of them runs
through cells that also count it among their k nearest (always true for k ≥ the number of
exits); an exit whose shortest path passes k nearer exits on the way is not listed there,
which an evacuee would not choose either.

``arrival_times`` is the forward march used to plan on water known in advance: the earliest
time a walker starting from given cells (each at its own time) reaches every cell, never
passing on through a cell reached at or after the time the water closes it.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

NO_LABEL = np.int16(-1)


#: Both marches keep their tentative entries in a 4-ary min-heap stored as rows (key, item) of
#: one float64 array, so that a sift reads one cache line per level instead of one per field
#: (a float32 key widens to float64 exactly, so the order is the float32 keys'). ``item`` is the
#: cell, and for the k-nearest march the cell × 2¹⁶ + the exit label. After each pop both ask
#: for the memory of the next entry's cell and the rows above and below it (``_warm``): on a grid
#: larger than the caches a pop otherwise waits on memory (docs/evacuation.md, *Prefetching in
#: the marches*).
LABEL_SPAN = 65536


@intrinsic
def _prefetch(typingctx, arr, index):
    """Ask the CPU to start loading the cache line of ``arr[index]`` (a 1-D array) into every
    cache level, without waiting for it (LLVM's ``llvm.prefetch``; a hint: no fault, no effect
    on results)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        arr_t, index_t = signature.args
        ary = context.make_array(arr_t)(context, builder, args[0])
        at = context.cast(builder, args[1], index_t, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, arr_t, ary, [at], wraparound=False)
        byte_ptr = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr],
                                              fnty=ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32]))
        # read (0), keep in all levels (3), data cache (1)
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(arr, index), codegen


@numba.njit(cache=True, inline="always")
def _warm(a, cell, nx, per_cell):
    """Prefetch the entries of ``cell`` and of the cells above and below it in ``a`` (a flat
    grid of ``per_cell`` entries a cell)."""
    if cell >= nx:
        _prefetch(a, (cell - nx) * per_cell)
    _prefetch(a, cell * per_cell)
    if (cell + nx) * per_cell < a.shape[0]:
        _prefetch(a, (cell + nx) * per_cell)


@numba.njit(cache=True)
def _grow(heap):
    bigger = np.empty((heap.shape[0] * 2, 2), heap.dtype)
    bigger[:heap.shape[0]] = heap
    return bigger


@numba.njit(cache=True, inline="always")
def _heap_push(heap, size, key, item):
    """Add (key, item) to a heap of ``size`` entries; returns the heap, doubled when it was full."""
    if size == heap.shape[0]:
        heap = _grow(heap)
    k = size
    while k > 0:
        parent = (k - 1) >> 2
        if heap[parent, 0] <= key:
            break
        heap[k, 0] = heap[parent, 0]
        heap[k, 1] = heap[parent, 1]
        k = parent
    heap[k, 0] = key
    heap[k, 1] = item
    return heap


@numba.njit(cache=True, inline="always")
def _heap_pop(heap, size):
    """Remove the root of a heap of ``size`` entries (the caller has read it); return nothing."""
    size -= 1
    key = heap[size, 0]
    item = heap[size, 1]
    k = 0
    while True:
        first = 4 * k + 1
        if first >= size:
            break
        child = first
        best = heap[first, 0]
        last = min(first + 4, size)
        for j in range(first + 1, last):
            v = heap[j, 0]
            if v < best:
                best = v
                child = j
        if best >= key:
            break
        heap[k, 0] = best
        heap[k, 1] = heap[child, 1]
        k = child
    heap[k, 0] = key
    heap[k, 1] = item


@numba.njit(cache=True, inline="always")
def _solve(a, b, cost):
    """First-order upwind update from the smaller neighbour values along each axis."""
    if a > b:
        a, b = b, a
    if b - a >= cost:
        return a + cost
    return 0.5 * (a + b + np.sqrt(2.0 * cost * cost - (a - b) * (a - b)))


@numba.njit(cache=True, nogil=True)
def _march(speed, start_cells, start_values, cell_size, close):
    """Single-label fast march from ``start_cells`` at ``start_values``; with a non-empty
    ``close`` grid, a cell finalised at or after its closing time keeps its value but passes
    nothing on. Returns float32 values (inf where never reached)."""
    ny, nx = speed.shape
    n = ny * nx
    t = np.full(n, np.inf, dtype=np.float32)
    final = np.zeros(n, dtype=np.uint8)  # 1 final, 2 final but closed on arrival
    cap = max(1024, 4 * (ny + nx))
    heap = np.empty((cap, 2), np.float64)
    size = 0
    has_close = close.size > 0
    flat_speed = speed.reshape(-1)
    flat_close = close.reshape(-1)
    for k in range(start_cells.shape[0]):
        s = start_cells[k]
        v = np.float32(start_values[k])
        if flat_speed[s] > 0.0 and v < t[s]:
            t[s] = v
            heap = _heap_push(heap, size, v, s)
            size += 1
    while size > 0:
        key = np.float32(heap[0, 0])
        cur = np.int64(heap[0, 1])
        _heap_pop(heap, size)
        size -= 1
        if size > 0:  # the next entry's neighbourhood loads while this one is worked on
            nxt = np.int64(heap[0, 1])
            _warm(final, nxt, nx, 1)
            _warm(t, nxt, nx, 1)
            _warm(flat_speed, nxt, nx, 1)
            if has_close:
                _prefetch(flat_close, nxt)
        if final[cur] or key != t[cur]:
            continue
        if has_close and key >= flat_close[cur]:
            final[cur] = 2
            continue
        final[cur] = 1
        r = cur // nx
        c = cur - r * nx
        for q in range(4):
            rr = r + (q == 0) - (q == 1)
            cc = c + (q == 2) - (q == 3)
            if rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                continue
            m = rr * nx + cc
            f = speed[rr, cc]
            if final[m] or f <= 0.0:
                continue
            a = np.inf
            if rr > 0 and final[m - nx] == 1:
                a = t[m - nx]
            if rr < ny - 1 and final[m + nx] == 1 and t[m + nx] < a:
                a = t[m + nx]
            b = np.inf
            if cc > 0 and final[m - 1] == 1:
                b = t[m - 1]
            if cc < nx - 1 and final[m + 1] == 1 and t[m + 1] < b:
                b = t[m + 1]
            cand = np.float32(_solve(a, b, cell_size / f))
            if cand < t[m]:
                t[m] = cand
                heap = _heap_push(heap, size, cand, m)
                size += 1
    return t.reshape(ny, nx)


def fast_marching(speed: np.ndarray, sources: np.ndarray, cell_size: float) -> np.ndarray:
    """Travel distance (m at free speed) from the flat cell indices ``sources`` (the nearest of
    them); inf where unreachable."""
    sources = np.asarray(sources, dtype=np.int64)
    out = _march(np.ascontiguousarray(speed, dtype=np.float32), sources, np.zeros(sources.size, np.float32),
                 float(cell_size), np.zeros(0, np.float32))
    return out.astype(np.float64)


def arrival_times(speed_mps: np.ndarray, cells: np.ndarray, times: np.ndarray, cell_size: float,
                  close: np.ndarray | None = None) -> np.ndarray:
    """Earliest arrival time (s) at every cell of walkers leaving ``cells`` at ``times`` at
    ``speed_mps`` (m/s per cell, 0 impassable); with ``close`` (s, inf = never), a cell
    reached at or after its closing time is marked with that late time but leads nowhere."""
    return _march(np.ascontiguousarray(speed_mps, dtype=np.float32), np.asarray(cells, dtype=np.int64),
                  np.asarray(times, dtype=np.float32), float(cell_size),
                  np.zeros(0, np.float32) if close is None else np.ascontiguousarray(close, dtype=np.float32))


@numba.njit(cache=True, inline="always")
def _final_value(lab, val, nfin, m, k, label):
    base = m * k
    for j in range(nfin[m]):
        if lab[base + j] == label:
            return val[base + j]
    return np.inf


@numba.njit(cache=True, nogil=True)
def _k_nearest(speed, src_cells, src_start, k, cell_size, lab, val, nfin):
    ny, nx = speed.shape
    flat_speed = speed.reshape(-1)
    cap = max(4096, 16 * (ny + nx) * k)
    heap = np.empty((cap, 2), np.float64)
    size = 0
    for e in range(src_start.shape[0] - 1):
        for q in range(src_start[e], src_start[e + 1]):
            s = src_cells[q]
            if flat_speed[s] <= 0.0:
                continue
            base = s * k
            free = -1
            for j in range(k):
                if lab[base + j] == e:
                    free = -2
                    break
                if lab[base + j] < 0 and free == -1:
                    free = j
            if free < 0:
                continue
            lab[base + free] = e
            val[base + free] = 0.0
            heap = _heap_push(heap, size, 0.0, s * LABEL_SPAN + e)
            size += 1
    while size > 0:
        key = np.float32(heap[0, 0])
        item = np.int64(heap[0, 1])
        cur = item // LABEL_SPAN
        label = np.int16(item - cur * LABEL_SPAN)
        _heap_pop(heap, size)
        size -= 1
        if size > 0:  # as in ``_march``
            nxt = np.int64(heap[0, 1]) // LABEL_SPAN
            _warm(nfin, nxt, nx, 1)
            _warm(lab, nxt, nx, k)
            _warm(val, nxt, nx, k)
            _warm(flat_speed, nxt, nx, 1)
        base = cur * k
        slot = -1
        for j in range(nfin[cur], k):
            if lab[base + j] == label:
                slot = j
                break
        if slot < 0 or val[base + slot] != key:
            continue  # stale: improved since, or evicted
        f = nfin[cur]
        lab[base + slot], lab[base + f] = lab[base + f], lab[base + slot]
        val[base + slot], val[base + f] = val[base + f], val[base + slot]
        nfin[cur] = f + 1
        r = cur // nx
        c = cur - r * nx
        for q in range(4):
            rr = r + (q == 0) - (q == 1)
            cc = c + (q == 2) - (q == 3)
            if rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                continue
            m = rr * nx + cc
            sp = speed[rr, cc]
            if sp <= 0.0 or nfin[m] >= k:
                continue
            if _final_value(lab, val, nfin, m, k, label) < np.inf:
                continue
            a = np.inf
            if rr > 0:
                a = _final_value(lab, val, nfin, m - nx, k, label)
            if rr < ny - 1:
                a = min(a, _final_value(lab, val, nfin, m + nx, k, label))
            b = np.inf
            if cc > 0:
                b = _final_value(lab, val, nfin, m - 1, k, label)
            if cc < nx - 1:
                b = min(b, _final_value(lab, val, nfin, m + 1, k, label))
            cand = np.float32(_solve(a, b, cell_size / sp))
            mb = m * k
            slot = -1
            empty = -1
            worst = -1
            for j in range(nfin[m], k):
                lj = lab[mb + j]
                if lj == label:
                    slot = j
                    break
                if lj < 0:
                    if empty < 0:
                        empty = j
                elif worst < 0 or val[mb + j] > val[mb + worst]:
                    worst = j
            if slot >= 0:
                if cand >= val[mb + slot]:
                    continue
            elif empty >= 0:
                slot = empty
            elif worst >= 0 and cand < val[mb + worst]:
                slot = worst  # evict the farthest tentative label; it may come back via another path
            else:
                continue
            lab[mb + slot] = label
            val[mb + slot] = cand
            heap = _heap_push(heap, size, cand, m * LABEL_SPAN + label)
            size += 1
    # entries never finalised (evicted or unreachable) are cleared
    for m in range(nfin.shape[0]):
        for j in range(nfin[m], k):
            lab[m * k + j] = -1
            val[m * k + j] = np.inf


def nearest_exits(speed: np.ndarray, exit_cells: list[np.ndarray], cell_size: float, k: int,
                  skip: np.ndarray | None = None,
                  out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` exits nearest on foot to every cell and the travel distance (m at free speed)
    to each: ``(labels, distances)`` of shape ``(cells, k)``, int16 (-1 none) and float32 (inf),
    nearest first. Exits flagged in ``skip`` (e.g. full shelters) are not sources. ``out``
    receives the result in place (two contiguous arrays of that shape and type)."""
    if len(exit_cells) > np.iinfo(np.int16).max:
        raise ValueError(f"at most {np.iinfo(np.int16).max} exits, got {len(exit_cells)}")
    ny, nx = speed.shape
    counts = [0 if (skip is not None and skip[e]) else len(c) for e, c in enumerate(exit_cells)]
    start = np.zeros(len(exit_cells) + 1, dtype=np.int64)
    start[1:] = np.cumsum(counts)
    parts = [np.asarray(c, np.int64) for e, c in enumerate(exit_cells) if counts[e]]
    cells = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if out is None:
        lab = np.empty((ny * nx, k), dtype=np.int16)
        val = np.empty((ny * nx, k), dtype=np.float32)
    else:
        lab, val = out
        if lab.shape != (ny * nx, k) or val.shape != (ny * nx, k) or lab.dtype != np.int16 or \
                val.dtype != np.float32 or not (lab.flags.c_contiguous and val.flags.c_contiguous):
            raise ValueError("out must be contiguous int16 and float32 arrays of shape (cells, k)")
    lab.fill(-1)
    val.fill(np.inf)
    nfin = np.zeros(ny * nx, dtype=np.uint8)
    _k_nearest(np.ascontiguousarray(speed, dtype=np.float32), cells, start, int(k), float(cell_size),
               lab.reshape(-1), val.reshape(-1), nfin)
    return lab, val


def exit_fields(speed: np.ndarray, exit_cells: list[np.ndarray], cell_size: float) -> np.ndarray:
    """One full travel-distance field per exit, shape ``(n_exits, ny, nx)`` float32 (for small
    grids and tests; a city uses ``nearest_exits``)."""
    out = np.empty((len(exit_cells),) + speed.shape, dtype=np.float32)
    speed32 = np.ascontiguousarray(speed, dtype=np.float32)
    for e, cells in enumerate(exit_cells):
        cells = np.asarray(cells, np.int64)
        out[e] = _march(speed32, cells, np.zeros(cells.size, np.float32), float(cell_size), np.zeros(0, np.float32))
    return out


@numba.njit(cache=True, inline="always")
def field_value(lab, val, k, dense, dense_of, ny, nx, r, c, e):
    """Distance to exit ``e`` from cell (r, c): from its full field when it has one
    (``dense_of[e]`` ≥ 0, a row of ``dense``), else from the cell's ``nearest_exits`` list;
    inf outside the grid or when not listed."""
    if r < 0 or r >= ny or c < 0 or c >= nx:
        return np.inf
    m = r * nx + c
    d = dense_of[e]
    if d >= 0:
        return dense[d, m]
    base = m * k
    for j in range(k):
        if lab[base + j] == e:
            return val[base + j]
    return np.inf


@numba.njit(cache=True, inline="always")
def _cell_gradient(lab, val, k, dense, dense_of, ny, nx, r, c, e, h):
    t0 = field_value(lab, val, k, dense, dense_of, ny, nx, r, c, e)
    lo = field_value(lab, val, k, dense, dense_of, ny, nx, r, c - 1, e)
    hi = field_value(lab, val, k, dense, dense_of, ny, nx, r, c + 1, e)
    if np.isfinite(lo) and np.isfinite(hi):
        gx = (hi - lo) / (2.0 * h)
    elif np.isfinite(hi):
        gx = (hi - t0) / h
    elif np.isfinite(lo):
        gx = (t0 - lo) / h
    else:
        gx = 0.0
    lo = field_value(lab, val, k, dense, dense_of, ny, nx, r - 1, c, e)
    hi = field_value(lab, val, k, dense, dense_of, ny, nx, r + 1, c, e)
    if np.isfinite(lo) and np.isfinite(hi):
        gy = (hi - lo) / (2.0 * h)
    elif np.isfinite(hi):
        gy = (hi - t0) / h
    elif np.isfinite(lo):
        gy = (t0 - lo) / h
    else:
        gy = 0.0
    return gx, gy


@numba.njit(cache=True)
def descent_direction(lab, val, k, dense, dense_of, ny, nx, e, x, y, h, i, memo_at, memo):
    """Unit vector of steepest descent of exit ``e``'s field at grid-frame point (x, y) (m).

    Cell gradients (central differences, one-sided beside walls) are blended bilinearly over
    the four nearest cell centres where the field is finite; where they cancel, the lowest of
    the 8 neighbouring cells; (0, 0) on a flat or unlisted spot.

    The four gradients are remembered for agent ``i``: ``memo[i]`` holds them (x and y per
    corner, NaN where the field is not finite) for the corners and exit coded in ``memo_at[i]``
    (-1: nothing remembered; the caller clears it when the fields change), so an agent that
    stays between the same four cell centres reads no field again.
    """
    fx = x / h - 0.5
    fy = y / h - 0.5
    c0 = int(np.floor(fx))
    r0 = int(np.floor(fy))
    wx = fx - c0
    wy = fy - r0
    g = memo[i]
    at = (e * (ny + 1) + r0 + 1) * (nx + 1) + c0 + 1
    if memo_at[i] != at:
        for dr in range(2):
            for dc in range(2):
                r = r0 + dr
                c = c0 + dc
                j = 2 * (2 * dr + dc)
                if np.isfinite(field_value(lab, val, k, dense, dense_of, ny, nx, r, c, e)):
                    g[j], g[j + 1] = _cell_gradient(lab, val, k, dense, dense_of, ny, nx, r, c, e, h)
                else:
                    g[j] = np.nan
        memo_at[i] = at
    gx = 0.0
    gy = 0.0
    for dr in range(2):
        for dc in range(2):
            j = 2 * (2 * dr + dc)
            if np.isnan(g[j]):
                continue
            w = (wx if dc else 1.0 - wx) * (wy if dr else 1.0 - wy)
            gx += w * g[j]
            gy += w * g[j + 1]
    norm = np.sqrt(gx * gx + gy * gy)
    if norm > 1e-9:
        return -gx / norm, -gy / norm
    r = min(max(int(y / h), 0), ny - 1)
    c = min(max(int(x / h), 0), nx - 1)
    best = field_value(lab, val, k, dense, dense_of, ny, nx, r, c, e)
    bx = 0.0
    by = 0.0
    for dr in range(-1, 2):
        for dc in range(-1, 2):
            t = field_value(lab, val, k, dense, dense_of, ny, nx, r + dr, c + dc, e)
            if t < best:
                best = t
                bx = float(dc)
                by = float(dr)
    norm = np.sqrt(bx * bx + by * by)
    if norm == 0.0:
        return 0.0, 0.0
    return bx / norm, by / norm
