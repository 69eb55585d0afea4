"""Travel-time fields to exits over the walkable raster (fast marching) and their descent.

The field T solves the eikonal equation |∇T| = 1/F with F the walking-speed factor of a cell
(1 on dry ground, lower in water, 0 where impassable), so T is in metres walked at free
speed. It is computed with the first-order fast marching method (Sethian 1996, PNAS 93:
1591–1595) on a 4-neighbour stencil, one field per exit, exits in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

INF = np.float32(np.inf)


@numba.njit(cache=True)
def _sift_up(heap, pos, key, k):
    node = heap[k]
    while k > 0:
        parent = (k - 1) >> 1
        if key[heap[parent]] <= key[node]:
            break
        heap[k] = heap[parent]
        pos[heap[k]] = k
        k = parent
    heap[k] = node
    pos[node] = k


@numba.njit(cache=True)
def _sift_down(heap, pos, key, k, size):
    node = heap[k]
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and key[heap[child + 1]] < key[heap[child]]:
            child += 1
        if key[heap[child]] >= key[node]:
            break
        heap[k] = heap[child]
        pos[heap[k]] = k
        k = child
    heap[k] = node
    pos[node] = k


@numba.njit(cache=True)
def _eikonal_update(t, frozen, ny, nx, r, c, cost):
    """First-order upwind solution at (r, c) from its frozen neighbours."""
    a = np.inf
    if r > 0 and frozen[(r - 1) * nx + c]:
        a = t[r - 1, c]
    if r < ny - 1 and frozen[(r + 1) * nx + c] and t[r + 1, c] < a:
        a = t[r + 1, c]
    b = np.inf
    if c > 0 and frozen[r * nx + c - 1]:
        b = t[r, c - 1]
    if c < nx - 1 and frozen[r * nx + c + 1] and t[r, c + 1] < b:
        b = t[r, c + 1]
    if a > b:
        a, b = b, a
    if b - a >= cost:
        return a + cost
    return 0.5 * (a + b + np.sqrt(2.0 * cost * cost - (a - b) * (a - b)))


@numba.njit(cache=True)
def fast_marching(speed: np.ndarray, sources: np.ndarray, cell_size: float) -> np.ndarray:
    """Travel distance (m at free speed) from the flat cell indices ``sources``; inf where unreachable."""
    ny, nx = speed.shape
    n = ny * nx
    t = np.full((ny, nx), np.inf)
    key = np.full(n, np.inf)
    frozen = np.zeros(n, dtype=np.bool_)
    heap = np.empty(n, dtype=np.int64)
    pos = np.full(n, -1, dtype=np.int64)
    size = 0
    for s in sources:
        if speed.flat[s] > 0.0 and pos[s] < 0:
            key[s] = 0.0
            t.flat[s] = 0.0
            heap[size] = s
            pos[s] = size
            size += 1
    while size > 0:
        cur = heap[0]
        size -= 1
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _sift_down(heap, pos, key, 0, size)
        pos[cur] = -1
        frozen[cur] = True
        r = cur // nx
        c = cur - r * nx
        for k in range(4):
            rr = r + (k == 0) - (k == 1)
            cc = c + (k == 2) - (k == 3)
            if rr < 0 or rr >= ny or cc < 0 or cc >= nx:
                continue
            nb = rr * nx + cc
            f = speed[rr, cc]
            if frozen[nb] or f <= 0.0:
                continue
            cand = _eikonal_update(t, frozen, ny, nx, rr, cc, cell_size / f)
            if cand < t[rr, cc]:
                t[rr, cc] = cand
                key[nb] = cand
                if pos[nb] < 0:
                    heap[size] = nb
                    pos[nb] = size
                    size += 1
                _sift_up(heap, pos, key, pos[nb])
    return t


@numba.njit(cache=True, parallel=True)
def _fields(speed, source_cells, source_start, cell_size, out):
    for e in numba.prange(out.shape[0]):
        cells = source_cells[source_start[e]:source_start[e + 1]]
        out[e] = fast_marching(speed, cells, cell_size).astype(np.float32)


def exit_fields(speed: np.ndarray, exit_cells: list[np.ndarray], cell_size: float) -> np.ndarray:
    """One travel-distance field per exit, shape ``(n_exits, ny, nx)`` float32."""
    start = np.zeros(len(exit_cells) + 1, dtype=np.int64)
    start[1:] = np.cumsum([len(c) for c in exit_cells])
    cells = np.concatenate(exit_cells).astype(np.int64) if exit_cells else np.zeros(0, np.int64)
    out = np.empty((len(exit_cells),) + speed.shape, dtype=np.float32)
    _fields(np.ascontiguousarray(speed, dtype=np.float64), cells, start, float(cell_size), out)
    return out


@numba.njit(cache=True, inline="always")
def _cell_gradient(t, r, c, h):
    ny, nx = t.shape
    t0 = t[r, c]
    lo = t[r, c - 1] if c > 0 else np.inf
    hi = t[r, c + 1] if c < nx - 1 else np.inf
    if np.isfinite(lo) and np.isfinite(hi):
        gx = (hi - lo) / (2.0 * h)
    elif np.isfinite(hi):
        gx = (hi - t0) / h
    elif np.isfinite(lo):
        gx = (t0 - lo) / h
    else:
        gx = 0.0
    lo = t[r - 1, c] if r > 0 else np.inf
    hi = t[r + 1, c] if r < ny - 1 else np.inf
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
def descent_direction(t, x, y, h):
    """Unit vector of steepest descent of field ``t`` at grid-frame point (x, y) in metres.

    Cell gradients (central differences, one-sided beside walls) are blended bilinearly over
    the four nearest walkable cell centres; where they cancel, the lowest of the 8 neighbours.
    """
    ny, nx = t.shape
    fx = x / h - 0.5
    fy = y / h - 0.5
    c0 = int(np.floor(fx))
    r0 = int(np.floor(fy))
    wx = fx - c0
    wy = fy - r0
    gx = 0.0
    gy = 0.0
    for dr in range(2):
        for dc in range(2):
            r = r0 + dr
            c = c0 + dc
            if r < 0 or r >= ny or c < 0 or c >= nx or not np.isfinite(t[r, c]):
                continue
            w = (wx if dc else 1.0 - wx) * (wy if dr else 1.0 - wy)
            ax, ay = _cell_gradient(t, r, c, h)
            gx += w * ax
            gy += w * ay
    norm = np.sqrt(gx * gx + gy * gy)
    if norm > 1e-9:
        return -gx / norm, -gy / norm
    r = min(max(int(y / h), 0), ny - 1)
    c = min(max(int(x / h), 0), nx - 1)
    best = t[r, c]
    bx = 0.0
    by = 0.0
    for dr in range(-1, 2):
        for dc in range(-1, 2):
            rr = r + dr
            cc = c + dc
            if 0 <= rr < ny and 0 <= cc < nx and t[rr, cc] < best:
                best = t[rr, cc]
                bx = float(dc)
                by = float(dr)
    norm = np.sqrt(bx * bx + by * by)
    if norm == 0.0:
        return 0.0, 0.0
    return bx / norm, by / norm
