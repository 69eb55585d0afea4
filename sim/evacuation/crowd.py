"""Numba kernels that move the crowd one time step.

Agents are points on the walkable raster with a body of diameter ``body_m``. Each step, in
order of remaining distance (front first, so that a queue advances together), an agent

1. takes the descent direction of its exit's travel-time field;
2. measures the density of the others in the half disc of radius ``density_radius_m`` in
   front of it (kernel 1 − r²/R² over neighbours found by cell binning, normalised by the
   kernel's integral over the walkable part of the half disc outside the agent's own body,
   where nobody else can stand), so that whoever has nobody ahead walks freely;
3. steps at free speed × Weidmann factor (density) × water factor (depth at its cell),
   sliding along walls and never entering water beyond its depth limit; the density factor
   never falls below ``creep`` (a jammed crowd still shuffles forward, and a door whose
   density estimate saturates must not freeze for good);
4. resolves body contacts by position-based projection (Müller et al. 2007, J. Vis. Commun.
   Image R. 18: 109–118; for crowds Weiss et al. 2017, MIG '17): overlapping pairs are pushed
   apart, each moving agent taking half, which lets people slide past and break arches at
   doors instead of clogging;
5. keeps a hard core: no move or push may bring two agents closer than ``core_m`` (0.44 m
   discs pack hexagonally at 5.96 persons/m², the physical maximum); a move that would is
   replaced by the longest straight step that keeps the core.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.evacuation.fundamental_diagram import weidmann_factor
from sim.evacuation.navigation import descent_direction
from sim.evacuation.water import water_factor

WAITING, MOVING, ARRIVED, STRANDED = 0, 1, 2, 3
MAX_NEIGHBOURS = 1024
#: a moving agent may push a neighbour only if it lies more than 60° off its heading
PUSH_COS = 0.5


@numba.njit(cache=True)
def link_all(px, py, state, bin_size, nbx, nby, head, nxt, prv, binof):
    """Put every agent that occupies space (not arrived) into its bin's doubly linked list."""
    head[:] = -1
    for i in range(px.shape[0]):
        binof[i] = -1
        if state[i] != ARRIVED:
            _link(i, _bin(px[i], py[i], bin_size, nbx, nby), head, nxt, prv, binof)


@numba.njit(cache=True, inline="always")
def _bin(x, y, bin_size, nbx, nby):
    bx = min(max(int(x / bin_size), 0), nbx - 1)
    by = min(max(int(y / bin_size), 0), nby - 1)
    return by * nbx + bx


@numba.njit(cache=True, inline="always")
def _link(i, b, head, nxt, prv, binof):
    nxt[i] = head[b]
    prv[i] = -1
    if head[b] >= 0:
        prv[head[b]] = i
    head[b] = i
    binof[i] = b


@numba.njit(cache=True, inline="always")
def _unlink(i, head, nxt, prv, binof):
    b = binof[i]
    if prv[i] >= 0:
        nxt[prv[i]] = nxt[i]
    else:
        head[b] = nxt[i]
    if nxt[i] >= 0:
        prv[nxt[i]] = prv[i]
    binof[i] = -1


@numba.njit(cache=True)
def front_first_order(px, py, state, target, cls, fields, h, resolution):
    """Indices of moving agents sorted by remaining distance to their exit (counting sort)."""
    n = px.shape[0]
    ny, nx = fields.shape[2], fields.shape[3]
    nkeys = 1 << 16
    keys = np.empty(n, dtype=np.int64)
    counts = np.zeros(nkeys + 1, dtype=np.int64)
    m = 0
    for i in range(n):
        if state[i] != MOVING:
            keys[i] = -1
            continue
        k = nkeys - 1
        if target[i] >= 0:
            r = min(int(py[i] / h), ny - 1)
            c = min(int(px[i] / h), nx - 1)
            d = fields[cls[i], target[i], r, c]
            if np.isfinite(d):
                k = min(int(d / resolution), nkeys - 1)
        keys[i] = k
        counts[k + 1] += 1
        m += 1
    for k in range(nkeys):
        counts[k + 1] += counts[k]
    order = np.empty(m, dtype=np.int64)
    for i in range(n):
        k = keys[i]
        if k >= 0:
            order[counts[k]] = i
            counts[k] += 1
    return order


@numba.njit(cache=True, inline="always")
def _passable(x, y, h, walls, depth, limit):
    ny, nx = walls.shape
    if x < 0.0 or y < 0.0:
        return False
    c = int(x / h)
    r = int(y / h)
    if r >= ny or c >= nx or walls[r, c]:
        return False
    return depth.shape[0] == 0 or depth[r, c] < limit


@numba.njit(cache=True, inline="always")
def _cell_passable(r, c, walls, depth, limit):
    ny, nx = walls.shape
    if r < 0 or c < 0 or r >= ny or c >= nx or walls[r, c]:
        return False
    return depth.shape[0] == 0 or depth[r, c] < limit


@numba.njit(cache=True)
def _traverse(x, y, ux, uy, s, h, walls, depth, limit):
    """Distance along unit (ux, uy), up to ``s``, before the first impassable cell: the exact
    cell traversal of the segment (Amanatides & Woo 1987, Eurographics '87: 3–10)."""
    if s <= 0.0:
        return 0.0
    c = int(np.floor(x / h))
    r = int(np.floor(y / h))
    if not _cell_passable(r, c, walls, depth, limit):
        return 0.0
    step_c = 1 if ux > 0 else -1
    step_r = 1 if uy > 0 else -1
    next_x = (c + (1 if ux > 0 else 0)) * h
    next_y = (r + (1 if uy > 0 else 0)) * h
    tx = (next_x - x) / ux if ux != 0.0 else np.inf
    ty = (next_y - y) / uy if uy != 0.0 else np.inf
    dtx = h / abs(ux) if ux != 0.0 else np.inf
    dty = h / abs(uy) if uy != 0.0 else np.inf
    while True:
        t = min(tx, ty)
        if t >= s:
            return s
        if tx < ty:
            c += step_c
            tx += dtx
        elif ty < tx:
            r += step_r
            ty += dty
        else:  # through a cell corner: both side cells must be open
            if not (_cell_passable(r, c + step_c, walls, depth, limit)
                    and _cell_passable(r + step_r, c, walls, depth, limit)):
                return max(t - 1e-6, 0.0)
            c += step_c
            r += step_r
            tx += dtx
            ty += dty
        if not _cell_passable(r, c, walls, depth, limit):
            return max(t - 1e-6, 0.0)


@numba.njit(cache=True)
def _wall_free(x, y, ux, uy, s, h, walls, depth, limit):
    """Longest part of step ``s`` along unit (ux, uy) that stays on passable cells, its end
    point included (a point on a cell edge belongs to the cell beyond it)."""
    f = _traverse(x, y, ux, uy, s, h, walls, depth, limit)
    for _ in range(4):
        if f <= 0.0 or _passable(x + ux * f, y + uy * f, h, walls, depth, limit):
            return f
        f = max(f - 1e-6 * max(h, 1.0), 0.0)
    return 0.0


@numba.njit(cache=True, inline="always")
def _segment_passable(x0, y0, x1, y1, h, walls, depth, limit):
    """True when the whole segment stays on passable cells."""
    length = np.sqrt((x1 - x0) ** 2 + (y1 - y0) ** 2)
    if length == 0.0:
        return _passable(x1, y1, h, walls, depth, limit)
    return _wall_free(x0, y0, (x1 - x0) / length, (y1 - y0) / length, length, h, walls, depth, limit) >= length


@numba.njit(cache=True, inline="always")
def _clear_of(x, y, me, other, nb, nq, px, py, core):
    """True when (x, y) keeps ``core`` from every gathered neighbour except ``me``/``other``."""
    c2 = core * core
    for k in range(nq):
        j = nb[k]
        if j == me or j == other:
            continue
        if (px[j] - x) ** 2 + (py[j] - y) ** 2 < c2:
            return False
    return True


@numba.njit(cache=True)
def _core_step(x, y, ux, uy, length, nb, nq, px, py, core, h, walls, depth, limit):
    """Longest straight step ≤ ``length`` along (ux, uy) that keeps ``core`` from everyone and
    stays passable; moves that only open a gap are always allowed."""
    s = length
    c2 = core * core
    for k in range(nq):
        j = nb[k]
        qx = px[j] - x
        qy = py[j] - y
        dot = qx * ux + qy * uy
        if dot <= 0.0:
            continue
        d2 = qx * qx + qy * qy
        if d2 < c2:
            return 0.0
        disc = dot * dot - (d2 - c2)
        if disc > 0.0:
            s = min(s, max(dot - np.sqrt(disc) - 1e-6, 0.0))
    return _wall_free(x, y, ux, uy, s, h, walls, depth, limit)


@numba.njit(cache=True)
def _wall_step(x, y, ux, uy, length, h, walls, depth, limit):
    """Displacement towards (ux, uy) that stays passable: straight on, else the better of
    the two grid-axis slides along the wall."""
    s = _wall_free(x, y, ux, uy, length, h, walls, depth, limit)
    if s >= 0.999 * length:
        return ux * s, uy * s
    bx, by, gain = ux * s, uy * s, s
    sx = 1.0 if ux > 0 else -1.0
    sa = _wall_free(x, y, sx, 0.0, length * abs(ux), h, walls, depth, limit)
    if sa * abs(ux) > gain:
        bx, by, gain = sx * sa, 0.0, sa * abs(ux)
    sy = 1.0 if uy > 0 else -1.0
    sb = _wall_free(x, y, 0.0, sy, length * abs(uy), h, walls, depth, limit)
    if sb * abs(uy) > gain:
        bx, by = 0.0, sy * sb
    return bx, by


@numba.njit(cache=True, inline="always")
def _relink(j, x, y, bin_size, nbx, nby, head, nxt, prv, binof):
    b = _bin(x, y, bin_size, nbx, nby)
    if b != binof[j]:
        _unlink(j, head, nxt, prv, binof)
        _link(j, b, head, nxt, prv, binof)


@numba.njit(cache=True)
def move_agents(
    order, t, dt, px, py, v0, limit, cls, state, target, assigned, arrival, arrived_exit,
    fields, walls, depth, area_fraction, h,
    exit_x, exit_y, exit_r, exit_open, exit_count, exit_cap, exit_cell,
    head, nxt, prv, binof, bin_size, nbx, nby,
    body, core, density_radius, creep, nb,
):
    """Advance the agents in ``order`` by one step; return True if an exit filled up."""
    filled = False
    rd2 = density_radius * density_radius
    # integral of the kernel 1 - r²/R² over the half disc outside the body, where others can be
    b2 = body * body
    kernel_area = np.pi * (0.25 * rd2 - 0.5 * b2 + 0.25 * b2 * b2 / rd2)
    centroid = 4.0 * density_radius / (3.0 * np.pi)
    ny, nx = walls.shape
    for k in range(order.shape[0]):
        i = order[k]
        e = target[i]
        if state[i] != MOVING or e < 0:
            continue
        x = px[i]
        y = py[i]
        ux, uy = descent_direction(fields[cls[i], e], x, y, h)
        if ux == 0.0 and uy == 0.0:
            # on the exit's own cells, where the field is flat: head for its centre
            ux = exit_x[e] - x
            uy = exit_y[e] - y
            norm = np.sqrt(ux * ux + uy * uy)
            ux, uy = (ux / norm, uy / norm) if norm > 1e-9 else (1.0, 0.0)
        r = min(int(y / h), ny - 1)
        c = min(int(x / h), nx - 1)
        wf = 1.0 if depth.shape[0] == 0 else water_factor(depth[r, c], limit[i])
        length = v0[i] * wf * dt
        reach = max(length + body + core, density_radius)
        nq = 0
        bx0 = max(int((x - reach) / bin_size), 0)
        bx1 = min(int((x + reach) / bin_size), nbx - 1)
        by0 = max(int((y - reach) / bin_size), 0)
        by1 = min(int((y + reach) / bin_size), nby - 1)
        w = 0.0
        for by in range(by0, by1 + 1):
            for bx in range(bx0, bx1 + 1):
                j = head[by * nbx + bx]
                while j >= 0 and nq < nb.shape[0]:
                    if j != i:
                        qx = px[j] - x
                        qy = py[j] - y
                        d2 = qx * qx + qy * qy
                        if d2 <= reach * reach:
                            nb[nq] = j
                            nq += 1
                            dot = qx * ux + qy * uy
                            if d2 < rd2 and dot > 0.0:
                                w += 1.0 - d2 / rd2
                    j = nxt[j]
        ra = min(max(int((y + centroid * uy) / h), 0), ny - 1)
        ca = min(max(int((x + centroid * ux) / h), 0), nx - 1)
        frac = area_fraction[ra, ca] if not walls[ra, ca] else area_fraction[r, c]
        length *= max(weidmann_factor(w / (max(frac, 0.25) * kernel_area)), creep)
        if length <= 0.0:
            continue
        dx, dy = _wall_step(x, y, ux, uy, length, h, walls, depth, limit[i])
        xn = x + dx
        yn = y + dy
        for _ in range(2):
            for m in range(nq):
                j = nb[m]
                qx = xn - px[j]
                qy = yn - py[j]
                d = np.sqrt(qx * qx + qy * qy)
                if d >= body or d < 1e-9:
                    continue
                corr = body - d
                qx /= d
                qy /= d
                share = 1.0
                # push aside, never ahead: whoever is in front is not shoved through the door
                if state[j] == MOVING and -(qx * ux + qy * uy) < PUSH_COS:
                    jx = px[j] - 0.5 * corr * qx
                    jy = py[j] - 0.5 * corr * qy
                    if (_segment_passable(px[j], py[j], jx, jy, h, walls, depth, limit[j])
                            and _clear_of(jx, jy, j, i, nb, nq, px, py, core)):
                        _relink(j, jx, jy, bin_size, nbx, nby, head, nxt, prv, binof)
                        px[j] = jx
                        py[j] = jy
                        share = 0.5
                cx = xn + share * corr * qx
                cy = yn + share * corr * qy
                if _segment_passable(xn, yn, cx, cy, h, walls, depth, limit[i]):
                    xn = cx
                    yn = cy
        ok = False
        for _ in range(3):
            if (_clear_of(xn, yn, i, -1, nb, nq, px, py, core)
                    and _segment_passable(x, y, xn, yn, h, walls, depth, limit[i])):
                ok = True
                break
            xn = 0.5 * (x + xn)
            yn = 0.5 * (y + yn)
        if not ok:
            s = _core_step(x, y, ux, uy, length, nb, nq, px, py, core, h, walls, depth, limit[i])
            xn = x + ux * s
            yn = y + uy * s
        if xn == x and yn == y:
            continue
        px[i] = xn
        py[i] = yn
        # arrival: the step passed within the target's radius, or ended inside another open exit
        got = -1
        if exit_open[e]:
            sx = xn - x
            sy = yn - y
            ll = sx * sx + sy * sy
            f = ((exit_x[e] - x) * sx + (exit_y[e] - y) * sy) / ll if ll > 0 else 0.0
            f = min(max(f, 0.0), 1.0)
            ex = x + f * sx - exit_x[e]
            ey = y + f * sy - exit_y[e]
            if ex * ex + ey * ey <= exit_r[e] * exit_r[e]:
                got = e
        if got < 0 and assigned[i] < 0:
            o = exit_cell[min(int(yn / h), ny - 1), min(int(xn / h), nx - 1)]
            if o >= 0 and exit_open[o]:
                ex = xn - exit_x[o]
                ey = yn - exit_y[o]
                if ex * ex + ey * ey <= exit_r[o] * exit_r[o]:
                    got = o
        if got >= 0:
            state[i] = ARRIVED
            arrival[i] = t + dt
            arrived_exit[i] = got
            _unlink(i, head, nxt, prv, binof)
            exit_count[got] += 1
            if exit_count[got] >= exit_cap[got]:
                exit_open[got] = False
                filled = True
            continue
        _relink(i, xn, yn, bin_size, nbx, nby, head, nxt, prv, binof)
    return filled


@numba.njit(cache=True)
def strand_in_water(t, px, py, state, limit, depth, h, stranded_t):
    """Mark agents standing in water at or beyond their limit as stranded; return how many."""
    ny, nx = depth.shape
    n = 0
    for i in range(px.shape[0]):
        if state[i] == WAITING or state[i] == MOVING:
            r = min(int(py[i] / h), ny - 1)
            c = min(int(px[i] / h), nx - 1)
            if depth[r, c] >= limit[i]:
                state[i] = STRANDED
                stranded_t[i] = t
                n += 1
    return n
