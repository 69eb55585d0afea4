"""Numba kernels that move the crowd one time step.

Agents are discs of diameter ``body`` on the walkable raster. Within a step they move one
after another, front first (by remaining distance to their exit, so that a queue advances
together); each sees the others where they stand at that moment. An agent

1. takes the descent direction of its exit's travel-time field;
2. measures the density of the others in the half disc of radius ``density_radius`` in
   front of it (kernel 1 − r²/R² over neighbours found by cell binning, normalised by the
   kernel's integral over the walkable part of the half disc outside the agent's own body),
   so that whoever has nobody ahead walks freely;
3. sets its step: free speed × Weidmann factor (density, never below ``creep``: a jammed
   crowd still shuffles) × water factor × dt;
4. steers: when the way ahead is blocked now or a collision is predicted within ``tau``
   seconds (the others keeping their last velocity), it picks among headings up to ±90°
   the one that makes the most progress towards its exit, counting a predicted collision
   as lost progress (the vision-field heuristic of Moussaïd, Helbing & Theraulaz 2011,
   PNAS 108: 6884–6888, with the time-to-collision of Karamouzas, Skinner & Guy 2014,
   PRL 113: 238701); ties go to ``side`` (+1 right, −1 left), the side preference that makes
   counterflows form lanes (Moussaïd et al. 2009, Proc. R. Soc. B 276: 2755–2762). Face to
   face with someone walking the other way and unable to progress, it sidesteps;
5. pushes a body that stands beside its path (more than 60° off its heading: aside, never
   ahead, so nobody is shoved through a door in front of the pusher) by up to a quarter of a
   body, if that body can move so far without overlap — how a crowd breaks the arches that
   would otherwise clog a door (the rule of the position-based contacts of Weiss et al. 2017,
   MIG '17, here as a swept move);
6. moves along that heading as far as it can without any overlap: the move is swept — its
   disc travels the segment while the others stand still, and stops at the first contact
   with another body (distance ``body``), with a wall (the disc keeps its radius
   ``body / 2`` from every wall cell: the capsule of the move is tested against each wall
   cell as a rounded rectangle) or with water beyond its limits (the centre may not enter
   such a cell; exact cell traversal, Amanatides & Woo 1987, Eurographics '87: 3–10).

Because every move is swept, no agent passes through another or through a wall at any step
length; shorter steps only make the interactions finer. Bodies that start closer than
``body`` (or nearer a wall than their radius) may only move apart.

A large crowd moves on all threads: the grid is cut into vertical strips with equal shares of
the step's moves, each wider than twice what an agent can touch beyond its own (its step, its
reach for others, a pushed body, a bin, a shelter's radius); the strips of one parity move at
once, each front first, then the others (which parity goes first alternates). Only the order
across a cut differs from moving everyone front first, and each agent's random draws come from
its own stream (``_uniform``), so the result is the same on any number of threads.
"""

from __future__ import annotations

import types

import numba
import numpy as np

from sim.evacuation.fundamental_diagram import weidmann_factor
from sim.evacuation.navigation import descent_direction, field_value
from sim.evacuation.water import hazard, water_factor

WAITING, MOVING, ARRIVED, STRANDED = 0, 1, 2, 3
MAX_NEIGHBOURS = 512
#: an agent blocked by someone moving against it faster than this (m/s) sidesteps
ONCOMING_MPS = 0.2
#: the farthest (m) an agent looks for others when anticipating collisions
LOOK_CAP_M = 3.0
#: a body may be pushed aside only if it stands more than 60° off the mover's heading
PUSH_COS = 0.5
#: a disc this near (m) its radius from a wall cell touches it: well above the rounding of
#: coordinates on a city's grid (about 2e-12 m at 10 km) and below the 1e-6 m a sweep stops short
TOUCH_M = 1e-9


def z_order(x: np.ndarray, y: np.ndarray, square: float) -> np.ndarray:
    """Z-order (Morton) keys of the ``square``-metre squares holding the points (grid-frame
    metres, x and y ≥ 0, at most 65,536 squares a side): points in nearby squares get nearby keys."""

    def spread(v: np.ndarray) -> np.ndarray:
        v = v & np.uint64(0xFFFF)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    cx = np.minimum(x / square, 65535).astype(np.uint64)
    cy = np.minimum(y / square, 65535).astype(np.uint64)
    return spread(cx) | (spread(cy) << np.uint64(1))


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


@numba.njit(cache=True, inline="always")
def _relink(j, x, y, bin_size, nbx, nby, head, nxt, prv, binof):
    b = _bin(x, y, bin_size, nbx, nby)
    if b != binof[j]:
        _unlink(j, head, nxt, prv, binof)
        _link(j, b, head, nxt, prv, binof)


@numba.njit(cache=True, parallel=True)
def _front_keys(px, py, state, target, cls, lab, val, k, dense, dense_of, ny, nx, h, resolution, nkeys, known):
    """Each agent's remaining distance to its exit in steps of ``resolution`` (``nkeys`` − 1 when
    its exit is not listed at its cell, −1 when it is not walking to an exit), on all threads: a
    city's walkers each read their cell's exit lists, far apart in memory. ``known`` (empty, or
    one per agent) holds the distances already read where not NaN."""
    n = px.shape[0]
    keys = np.empty(n, dtype=np.int64)
    reuse = known.shape[0] == n
    for i in numba.prange(n):
        if state[i] != MOVING or target[i] < 0:
            keys[i] = -1
            continue
        if reuse and not np.isnan(known[i]):
            d = known[i]
        else:
            c = cls[i]
            d = field_value(lab[c], val[c], k, dense[c], dense_of, ny, nx,
                            min(int(py[i] / h), ny - 1), min(int(px[i] / h), nx - 1), target[i])
        keys[i] = min(int(d / resolution), nkeys - 1) if np.isfinite(d) else nkeys - 1
    return keys


@numba.njit(cache=True)
def front_first_order(px, py, state, target, cls, lab, val, k, dense, dense_of, ny, nx, h, resolution, known):
    """Indices of the agents walking to an exit sorted by remaining distance to it (counting sort);
    ``known``: distances to the exits already read (``_front_keys``)."""
    n = px.shape[0]
    nkeys = 1 << 16
    keys = _front_keys(px, py, state, target, cls, lab, val, k, dense, dense_of, ny, nx, h, resolution, nkeys, known)
    counts = np.zeros(nkeys + 1, dtype=np.int64)
    m = 0
    for i in range(n):
        if keys[i] >= 0:
            counts[keys[i] + 1] += 1
            m += 1
    for q in range(nkeys):
        counts[q + 1] += counts[q]
    order = np.empty(m, dtype=np.int64)
    for i in range(n):
        key = keys[i]
        if key >= 0:
            order[counts[key]] = i
            counts[key] += 1
    return order


# --- sweeps against walls -------------------------------------------------------------------

@numba.njit(cache=True, inline="always")
def _ray_box(x, y, ux, uy, x0, y0, x1, y1):
    """Entry distance (≥ 0) of the ray into the box, inf if it misses."""
    tmin = 0.0
    tmax = np.inf
    if ux != 0.0:
        a = (x0 - x) / ux
        b = (x1 - x) / ux
        tmin = max(tmin, min(a, b))
        tmax = min(tmax, max(a, b))
    elif x < x0 or x > x1:
        return np.inf
    if uy != 0.0:
        a = (y0 - y) / uy
        b = (y1 - y) / uy
        tmin = max(tmin, min(a, b))
        tmax = min(tmax, max(a, b))
    elif y < y0 or y > y1:
        return np.inf
    return tmin if tmin <= tmax else np.inf


@numba.njit(cache=True, inline="always")
def _ray_disc(x, y, ux, uy, cx, cy, r):
    """Distance along the ray to the first point within ``r`` of (cx, cy); inf if never."""
    qx = x - cx
    qy = y - cy
    b = qx * ux + qy * uy
    c = qx * qx + qy * qy - r * r
    if b >= 0.0:
        return np.inf
    disc = b * b - c
    if disc < 0.0:
        return np.inf
    return max(-b - np.sqrt(disc), 0.0)


@numba.njit(cache=True)
def _capsule_rect(x, y, ux, uy, x0, y0, x1, y1, r):
    """Distance a disc of radius ``r`` at (x, y) travels along unit (ux, uy) before touching
    the rectangle; 0 if it overlaps or touches it and moves in, inf if it never touches it or
    moves along or out.

    Touching counts to within ``TOUCH_M`` either way: a disc stopped against a wall stands at
    its radius only to rounding, and ray tests run from exactly the edge of the widened box
    (x = x0 − r in floating point) reported a contact at distance 0 in every direction, away
    from the wall too (IEEE 0 ≤ −0), so that the agent never moved again (215 of the city
    bench's 100,000 stood so for the whole hour), and a disc sliding along a face stopped at
    every cell boundary."""
    qx = min(max(x, x0), x1)
    qy = min(max(y, y0), y1)
    dx = x - qx
    dy = y - qy
    d2 = dx * dx + dy * dy
    if d2 < (r + TOUCH_M) * (r + TOUCH_M):
        # a rectangle is convex: a disc whose distance to it does not fall at the start of a
        # straight move never comes nearer
        if d2 > 0.0 and dx * ux + dy * uy >= 0.0:
            return np.inf
        return 0.0
    # a contact is a penetration deeper than TOUCH_M: a disc sliding along a wall face at its
    # radius grazes the next cell's widened box and must not stop at it
    r -= TOUCH_M
    t = _ray_box(x, y, ux, uy, x0, y0 - r, x1, y1 + r)
    t = min(t, _ray_box(x, y, ux, uy, x0 - r, y0, x1 + r, y1))
    t = min(t, _ray_disc(x, y, ux, uy, x0, y0, r))
    t = min(t, _ray_disc(x, y, ux, uy, x1, y0, r))
    t = min(t, _ray_disc(x, y, ux, uy, x0, y1, r))
    t = min(t, _ray_disc(x, y, ux, uy, x1, y1, r))
    return t


@numba.njit(cache=True)
def wall_free(x, y, ux, uy, length, radius, h, walls, clear):
    """Longest part of a move of ``length`` along unit (ux, uy) that keeps a disc of
    ``radius`` clear of every wall cell (the grid's outside counts as wall)."""
    ny, nx = walls.shape
    r = min(max(int(y / h), 0), ny - 1)
    c = min(max(int(x / h), 0), nx - 1)
    if clear[r, c] >= length + radius:
        return length
    ex = x + ux * length
    ey = y + uy * length
    c0 = int(np.floor((min(x, ex) - radius) / h))
    c1 = int(np.floor((max(x, ex) + radius) / h))
    r0 = int(np.floor((min(y, ey) - radius) / h))
    r1 = int(np.floor((max(y, ey) + radius) / h))
    best = length
    for rr in range(r0, r1 + 1):
        for cc in range(c0, c1 + 1):
            if 0 <= rr < ny and 0 <= cc < nx and not walls[rr, cc]:
                continue
            t = _capsule_rect(x, y, ux, uy, cc * h, rr * h, (cc + 1) * h, (rr + 1) * h, radius)
            if t < best:
                best = max(t - 1e-6, 0.0)
                if best == 0.0:
                    return 0.0
    return best


@numba.njit(cache=True)
def off_walls(px, py, radius, h, walls):
    """Move every centre that starts nearer than ``radius`` to a wall cell (the grid's outside
    counting as wall) straight out of it, to ``radius`` from the walls around it: a swept move
    may not go further into a wall it already touches, so a start inside the margin would
    hold the agent for good. Returns how many were moved (those in passages narrower than a
    body stay as near the middle as the walls let them)."""
    ny, nx = walls.shape
    moved = 0
    for i in range(px.shape[0]):
        x = px[i]
        y = py[i]
        for _ in range(4):  # a corner: the second wall's push may bring the first back in
            pushed = False
            c0 = int(np.floor((x - radius) / h))
            c1 = int(np.floor((x + radius) / h))
            r0 = int(np.floor((y - radius) / h))
            r1 = int(np.floor((y + radius) / h))
            for rr in range(r0, r1 + 1):
                for cc in range(c0, c1 + 1):
                    if 0 <= rr < ny and 0 <= cc < nx and not walls[rr, cc]:
                        continue
                    qx = min(max(x, cc * h), (cc + 1) * h)
                    qy = min(max(y, rr * h), (rr + 1) * h)
                    dx = x - qx
                    dy = y - qy
                    d = np.sqrt(dx * dx + dy * dy)
                    if 0.0 < d < radius:
                        x = qx + dx / d * (radius + 1e-6)
                        y = qy + dy / d * (radius + 1e-6)
                        pushed = True
            if not pushed:
                break
        r = min(max(int(y / h), 0), ny - 1)
        c = min(max(int(x / h), 0), nx - 1)
        if (x != px[i] or y != py[i]) and not walls[r, c] and 0.0 <= x < nx * h and 0.0 <= y < ny * h:
            px[i] = x
            py[i] = y
            moved += 1
    return moved


# --- sweeps against water -------------------------------------------------------------------

@numba.njit(cache=True, inline="always")
def _wet(r, c, depth, flow, lim_d, lim_dv):
    """True when cell (r, c) holds water beyond the limits (the caller checks the bounds)."""
    s = flow[r, c] if flow.shape[0] else 0.0
    return hazard(depth[r, c], s, lim_d, lim_dv) >= 1.0


@numba.njit(cache=True)
def water_free(x, y, ux, uy, length, h, depth, flow, lim_d, lim_dv):
    """Distance along unit (ux, uy), up to ``length``, before the centre would enter water
    beyond the limits: exact cell traversal (Amanatides & Woo 1987); diagonal corners need
    both side cells open."""
    if depth.shape[0] == 0 or length <= 0.0:
        return length
    ny, nx = depth.shape
    c = min(max(int(np.floor(x / h)), 0), nx - 1)
    r = min(max(int(np.floor(y / h)), 0), ny - 1)
    if _wet(r, c, depth, flow, lim_d, lim_dv):
        return 0.0
    step_c = 1 if ux > 0 else -1
    step_r = 1 if uy > 0 else -1
    tx = ((c + (1 if ux > 0 else 0)) * h - x) / ux if ux != 0.0 else np.inf
    ty = ((r + (1 if uy > 0 else 0)) * h - y) / uy if uy != 0.0 else np.inf
    dtx = h / abs(ux) if ux != 0.0 else np.inf
    dty = h / abs(uy) if uy != 0.0 else np.inf
    while True:
        t = min(tx, ty)
        if t >= length:
            return length
        if tx < ty:
            c += step_c
            tx += dtx
        elif ty < tx:
            r += step_r
            ty += dty
        else:
            cc = c + step_c
            rr = r + step_r
            if (0 <= cc < nx and _wet(r, cc, depth, flow, lim_d, lim_dv)) or \
                    (0 <= rr < ny and _wet(rr, c, depth, flow, lim_d, lim_dv)):
                return max(t - 1e-6, 0.0)
            c = cc
            r = rr
            tx += dtx
            ty += dty
        if r < 0 or r >= ny or c < 0 or c >= nx:
            return length  # the grid's edge is a wall; wall_free stops the move there
        if _wet(r, c, depth, flow, lim_d, lim_dv):
            return max(t - 1e-6, 0.0)


# --- sweeps against other bodies ------------------------------------------------------------

@numba.njit(cache=True)
def _body_free(x, y, ux, uy, length, i, nb, nq, px, py, body):
    """Longest straight move ≤ ``length`` along (ux, uy) keeping ``body`` from every
    gathered neighbour standing where it is; a move from an overlap is allowed only if it
    does not bring the pair closer. Returns (distance, index of the first body hit or -1)."""
    s = length
    hit = -1
    b2 = body * body
    for q in range(nq):
        j = nb[q]
        if j == i:
            continue
        qx = px[j] - x
        qy = py[j] - y
        dot = qx * ux + qy * uy
        if dot <= 0.0:
            continue
        d2 = qx * qx + qy * qy
        if d2 < b2:
            return 0.0, j
        disc = dot * dot - (d2 - b2)
        if disc > 0.0:
            t = max(dot - np.sqrt(disc) - 1e-6, 0.0)
            if t < s:
                s = t
                hit = j
    return s, hit


@numba.njit(cache=True)
def _time_to_contact(x, y, vx, vy, i, nb, nq, px, py, pvx, pvy, body, horizon):
    """Earliest time (≤ ``horizon``) at which an agent walking at (vx, vy) would come within
    ``body`` of a gathered neighbour keeping its last velocity, and that neighbour (-1 if none)."""
    best = horizon
    who = -1
    b2 = body * body
    for q in range(nq):
        j = nb[q]
        if j == i:
            continue
        qx = px[j] - x
        qy = py[j] - y
        wx = pvx[j] - vx
        wy = pvy[j] - vy
        b = qx * wx + qy * wy
        if b >= 0.0:
            continue  # not closing in
        a = wx * wx + wy * wy
        c = qx * qx + qy * qy - b2
        if c < 0.0:
            return 0.0, j
        disc = b * b - a * c
        if disc <= 0.0:
            continue
        t = (-b - np.sqrt(disc)) / a
        if t < best:
            best = t
            who = j
    return best, who


@numba.njit(cache=True, inline="always")
def _beside(x, y, mx, my, ox, oy, cos_off):
    """True when the body at (ox, oy) lies ahead of the move but more than acos(``cos_off``)
    off its heading."""
    qx = ox - x
    qy = oy - y
    along = qx * mx + qy * my
    return along > 0.0 and along < cos_off * np.sqrt(qx * qx + qy * qy)


@numba.njit(cache=True)
def _free(x, y, ux, uy, length, i, nb, nq, px, py, gap, h, walls, clear, depth, flow, lim_d, lim_dv):
    """How far the agent can move along (ux, uy) now keeping ``gap`` from other bodies and
    ``gap / 2`` from walls, the centre out of water beyond its limits; and the first body that
    stops it (-1 if none)."""
    s, hit = _body_free(x, y, ux, uy, length, i, nb, nq, px, py, gap)
    if s > 0.0:
        w = wall_free(x, y, ux, uy, s, 0.5 * gap, h, walls, clear)
        if w < s:
            s = w
            hit = -1
    if s > 0.0:
        w = water_free(x, y, ux, uy, s, h, depth, flow, lim_d, lim_dv)
        if w < s:
            s = w
            hit = -1
    return s, hit


def _plan_steps(
    order, dt, span, px, py, pvx, pvy, v0, lim_d, lim_dv, cls, target, lab, val, k, dense, dense_of, walls, depth, flow,
    area_fraction, h, exit_x, exit_y, head, nxt, bin_size, nbx, nby, body, density_radius, creep,
    dirx, diry, step, headway, near, memo_at, memo,
):
    """Heading and step length of every agent in ``order``, all from the positions at the start
    of the step (so the speeds do not depend on the order in which agents then move): the
    descent direction of its exit's field, and free speed × Weidmann factor of the density in
    the half disc ahead (never below ``creep``) × water factor × dt."""
    rd2 = density_radius * density_radius
    # integral of the kernel 1 - r²/R² over the half disc outside the body, where others can be
    b2 = body * body
    kernel_area = 0.5 * np.pi * (rd2 - b2)
    centroid = 4.0 * density_radius / (3.0 * np.pi)
    ny, nx = walls.shape
    for q in numba.prange(order.shape[0]):
        i = order[q]
        e = target[i]
        x = px[i]
        y = py[i]
        cl = cls[i]
        ux, uy = descent_direction(lab[cl], val[cl], k, dense[cl], dense_of, ny, nx, e, x, y, h, i, memo_at, memo)
        if ux == 0.0 and uy == 0.0:
            # on the exit's own cells, where the field is flat: head for its centre
            ux = exit_x[e] - x
            uy = exit_y[e] - y
            norm = np.sqrt(ux * ux + uy * uy)
            if norm > 1e-9:
                ux /= norm
                uy /= norm
            else:
                ux = 1.0
                uy = 0.0
        dirx[i] = ux
        diry[i] = uy
        r = min(int(y / h), ny - 1)
        c = min(int(x / h), nx - 1)
        # within two free steps of the exit, a long step would overshoot a narrow one
        near[i] = field_value(lab[cl], val[cl], k, dense[cl], dense_of, ny, nx, r, c, e) < 2.0 * v0[i] * dt
        dt_i = span[i]
        wf = 1.0
        if depth.shape[0]:
            wf = water_factor(depth[r, c], flow[r, c] if flow.shape[0] else 0.0, lim_d[i], lim_dv[i])
        length = v0[i] * wf * dt_i
        if length <= 0.0:
            step[i] = 0.0
            continue
        w = 0.0
        ahead = np.inf  # free distance along the heading before touching someone
        look = max(density_radius, headway * v0[i] * wf + body)
        bx0 = max(int((x - look) / bin_size), 0)
        bx1 = min(int((x + look) / bin_size), nbx - 1)
        by0 = max(int((y - look) / bin_size), 0)
        by1 = min(int((y + look) / bin_size), nby - 1)
        for by in range(by0, by1 + 1):
            for bx in range(bx0, bx1 + 1):
                j = head[by * nbx + bx]
                while j >= 0:
                    if j != i:
                        qx = px[j] - x
                        qy = py[j] - y
                        d2 = qx * qx + qy * qy
                        dot = qx * ux + qy * uy
                        if d2 < rd2 and dot > 0.0:
                            w += 1.0
                        if dot > 0.0:
                            disc = dot * dot - (d2 - b2)
                            if disc > 0.0:
                                # the one ahead walks on during the step at its last velocity
                                lead = max(pvx[j] * ux + pvy[j] * uy, 0.0) * dt_i
                                ahead = min(ahead, max(dot - np.sqrt(disc), 0.0) + lead)
                    j = nxt[j]
        ra = min(max(int((y + centroid * uy) / h), 0), ny - 1)
        ca = min(max(int((x + centroid * ux) / h), 0), nx - 1)
        frac = area_fraction[ra, ca] if not walls[ra, ca] else area_fraction[r, c]
        step[i] = length * max(weidmann_factor(w / (max(frac, 0.25) * kernel_area)), creep)
        if headway > 0.0:
            # at least the speed that leaves a time gap ``headway`` to the one ahead at the end of
            # the step (Tordeux, Chraibi & Seyfried 2016, discretised over the step)
            step[i] = max(step[i], min(length, ahead * dt_i / (dt_i + headway)))


def _named(fn, suffix: str):
    """``fn`` under another name: numba's cache names its files after the Python function, so two
    dispatchers of one function share one file, and the serial build loaded for the parallel
    dispatcher (or the reverse) ran every batch on one thread."""
    clone = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    clone.__qualname__ = fn.__qualname__ + suffix
    return clone


#: the same kernel on one thread (small batches: no thread start-up) and on all (large ones)
plan_steps = numba.njit(cache=True)(_plan_steps)
plan_steps_parallel = numba.njit(cache=True, parallel=True)(_named(_plan_steps, "_parallel"))
#: the spread of the random heading of an agent stopped by walls alone, about its way (±110°)
ALONE_JOSTLE_RAD = np.radians(220.0)
#: batches at least this large are planned on all threads (planning is per agent from the
#: positions at the start of the step, so the result is the same on any number of threads);
#: the sub-steps of crowded agents within a long step come in batches of a few thousand
PARALLEL_PLAN = 2_000
#: batches at least this large move strip by strip on all threads (``move_strips``)
PARALLEL_MOVE = 2_000
#: into at most this many strips (a fixed number, so the result does not depend on the threads)
MOVE_STRIPS = 32
#: a strip is at least this many times twice the distance an agent can touch beyond it
STRIP_SAFETY = 1.5


@numba.njit(cache=True, inline="always")
def _uniform(key, i):
    """A uniform number in [0, 1) drawn from the pair (``key``, agent ``i``) by the splitmix64
    finaliser (Steele, Lea & Flood 2014, OOPSLA '14): each agent's draws are its own, so the
    result does not depend on the order in which threads move the agents."""
    z = np.uint64(key) + np.uint64(i + 1) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def _move_strips(
    grouped, offsets, first, key, start, span, px, py, pvx, pvy, lim_d, lim_dv, state, target, assigned, arrival,
    arrived_exit, dirx, diry, step, walls, clear, depth, flow, h,
    exit_x, exit_y, exit_r, exit_open, exit_count, exit_cap, exit_cell,
    head, nxt, prv, binof, bin_size, nbx, nby,
    body, core, tau, side, cand_cos, cand_sin, sub, busy,
):
    """Move agents by their planned steps (``plan_steps``), each covering ``span[i]`` seconds
    from ``start[i]``, steering, pushing and sweeping as the module describes, strip by strip:
    ``grouped[offsets[s]:offsets[s + 1]]`` are strip ``s``'s agents, front first, moved one
    after another. Strips of one parity move at once (on all threads in ``move_strips``), then
    the others (parity ``first`` first); a strip is wider than what an agent can reach on
    either side (``strip_edges``), so two strips moving at once never touch the same agents,
    bins or exits, and the result is the same on any number of threads. ``key`` seeds the
    call's random draws. Returns True if an exit filled up."""
    ny, nx = walls.shape
    n_strips = offsets.shape[0] - 1
    filled = np.zeros(n_strips, dtype=np.bool_)
    for phase in range(2):
        parity = (first + phase) % 2
        for half in numba.prange((n_strips - parity + 1) // 2):
            strip = parity + 2 * half
            nb = np.empty(MAX_NEIGHBOURS, dtype=np.int64)
            close = np.empty(MAX_NEIGHBOURS, dtype=np.int64)
            for q in range(offsets[strip], offsets[strip + 1]):
                i = grouped[q]
                e = target[i]
                pvx[i] = 0.0
                pvy[i] = 0.0
                length = step[i]
                if state[i] != MOVING or e < 0 or length <= 0.0:
                    continue
                x = px[i]
                y = py[i]
                ux = dirx[i]
                uy = diry[i]
                dt = span[i]
                speed = length / dt
                # who may touch us during the step (``close``) and whom we watch for collisions (``nb``)
                near = length + 2.0 * body
                reach = max(near, min(2.0 * speed * tau + body, LOOK_CAP_M))
                nq = 0
                nc = 0
                bx0 = max(int((x - reach) / bin_size), 0)
                bx1 = min(int((x + reach) / bin_size), nbx - 1)
                by0 = max(int((y - reach) / bin_size), 0)
                by1 = min(int((y + reach) / bin_size), nby - 1)
                for by in range(by0, by1 + 1):
                    for bx in range(bx0, bx1 + 1):
                        j = head[by * nbx + bx]
                        while j >= 0 and nq < nb.shape[0] - 1:
                            if j != i:
                                d2 = (px[j] - x) ** 2 + (py[j] - y) ** 2
                                if d2 <= reach * reach:
                                    nb[nq] = j
                                    nq += 1
                                    if d2 <= near * near:
                                        close[nc] = j
                                        nc += 1
                            j = nxt[j]
                lim_a = lim_d[i]
                lim_b = lim_dv[i]
                # steering: straight on unless blocked now or a collision is predicted within tau
                s, hit = _free(x, y, ux, uy, length, i, close, nc, px, py, body, h, walls, clear, depth, flow, lim_a, lim_b)
                ttc, who = _time_to_contact(x, y, speed * ux, speed * uy, i, nb, nq, px, py, pvx, pvy, body, tau)
                mx = ux
                my = uy
                # stopped behind someone walking our way, with nothing coming at us: follow, no steering
                follow = ttc >= tau and hit >= 0 and pvx[hit] * ux + pvy[hit] * uy > ONCOMING_MPS
                oncoming = False
                busy[i] = s < 0.5 * length
                if (s < length * (1.0 - 1e-9) or ttc < tau) and not follow:
                    # someone ahead walking against us near our path: keep to the preferred side
                    for m in range(nq):
                        j = nb[m]
                        qx = px[j] - x
                        qy = py[j] - y
                        if qx * ux + qy * uy > 0.0 and abs(qx * uy - qy * ux) < 2.0 * body and \
                                pvx[j] * ux + pvy[j] * uy < -ONCOMING_MPS:
                            oncoming = True
                            busy[i] = True
                            break
                    best = -1.0 if oncoming else min(s, length * ttc / tau)
                    rx = -uy * side  # the preferred side of the heading (y points south)
                    ry = ux * side
                    for m in range(1, cand_cos.shape[0]):
                        ca_ = cand_cos[m]
                        sa_ = cand_sin[m]
                        if ca_ * length <= best * (1.0 + 1e-6) + 1e-12:
                            break  # headings further off cannot beat the best (cosines only fall)
                        if oncoming and sa_ < 0.0:
                            continue
                        ax = ca_ * ux + sa_ * rx
                        ay = ca_ * uy + sa_ * ry
                        sm, hm = _free(x, y, ax, ay, length, i, close, nc, px, py, body, h, walls, clear, depth, flow,
                                       lim_a, lim_b)
                        if sm * ca_ <= best * (1.0 + 1e-6) + 1e-12:
                            continue  # cannot beat the best even without a predicted collision
                        tm, _ = _time_to_contact(x, y, speed * ax, speed * ay, i, nb, nq, px, py, pvx, pvy, body, tau)
                        score = min(sm, length * tm / tau) * ca_
                        if score > best * (1.0 + 1e-6) + 1e-12:
                            best = score
                            mx = ax
                            my = ay
                            s = sm
                            hit = hm
                    if best <= 0.05 * length:
                        if oncoming:
                            # face to face with someone walking the other way: step aside to the preferred side
                            sm, hm = _free(x, y, rx, ry, 0.5 * length, i, close, nc, px, py, body, h, walls, clear, depth, flow,
                                           lim_a, lim_b)
                            mx = rx
                            my = ry
                            s = sm
                            hit = hm
                        else:
                            # jammed: press on in a random direction within 90° of the way (the jostling
                            # that keeps a crowd from freezing in an arch before a door); with nobody
                            # near, within 110°, so that someone pressed against a wall corner its way
                            # leads into can back off it
                            a = (_uniform(key, i) - 0.5) * (np.pi if nc > 0 else ALONE_JOSTLE_RAD)
                            mx = np.cos(a) * ux + np.sin(a) * rx
                            my = np.cos(a) * uy + np.sin(a) * ry
                            s = 0.0
                # the step is taken in sub-moves of at most ``sub`` (a fraction of a body), each resolving
                # contacts on its own, so that a long step (1 s) slides round others as short ones do
                # a step that the sweep finds clear of everyone (a body's width) needs no contacts resolved
                n_sub = 1 if s >= length * (1.0 - 1e-9) else max(1, int(np.ceil(length / sub)))
                part = length / n_sub
                xn = x
                yn = y
                close[nc] = i
                for _ in range(n_sub):
                    xs = xn
                    ys = yn
                    # tentative: the sub-move along the chosen heading, stopped only by walls and water
                    sw = wall_free(xs, ys, mx, my, part, 0.5 * core, h, walls, clear)
                    sw = water_free(xs, ys, mx, my, sw, h, depth, flow, lim_a, lim_b)
                    tx = xs + mx * sw
                    ty = ys + my * sw
                    # soft contacts: a tentative position nearer than ``body`` to someone is projected out
                    # (Müller et al. 2007); a moving neighbour that is not ahead (more than 60° off the
                    # heading, so nobody is shoved through a door in front of the mover) takes half, by a
                    # swept move that keeps its core clear of everyone (the mover where it stands included)
                    px[i] = xs
                    py[i] = ys
                    for _ in range(2):
                        for m in range(nc):
                            j = close[m]
                            qx = tx - px[j]
                            qy = ty - py[j]
                            d = np.sqrt(qx * qx + qy * qy)
                            if d >= body or d < 1e-9:
                                continue
                            corr = body - d
                            qx /= d
                            qy /= d
                            share = 1.0
                            if state[j] == MOVING and abs(qx * mx + qy * my) < PUSH_COS:
                                sj, _ = _free(px[j], py[j], -qx, -qy, 0.5 * corr, j, close, nc + 1, px, py, core, h, walls,
                                              clear, depth, flow, lim_d[j], lim_dv[j])
                                if sj > 0.0:
                                    px[j] -= qx * sj
                                    py[j] -= qy * sj
                                    _relink(j, px[j], py[j], bin_size, nbx, nby, head, nxt, prv, binof)
                                    share = 1.0 - sj / corr
                            cs = wall_free(tx, ty, qx, qy, share * corr, 0.5 * core, h, walls, clear)
                            cs = water_free(tx, ty, qx, qy, cs, h, depth, flow, lim_a, lim_b)
                            tx += qx * cs
                            ty += qy * cs
                    # the sub-move itself is swept: it stops where the mover's core would first touch
                    # another core, or its disc a wall, or its centre water beyond its limits
                    dx = tx - xs
                    dy = ty - ys
                    dl = np.sqrt(dx * dx + dy * dy)
                    if dl <= 1e-12:
                        break
                    sf, _ = _free(xs, ys, dx / dl, dy / dl, dl, i, close, nc, px, py, core, h, walls, clear, depth, flow,
                                  lim_a, lim_b)
                    if sf <= 0.0:
                        break
                    xn = xs + dx / dl * sf
                    yn = ys + dy / dl * sf
                px[i] = x
                py[i] = y
                if xn == x and yn == y:
                    continue
                px[i] = xn
                py[i] = yn
                pvx[i] = (xn - x) / dt
                pvy[i] = (yn - y) / dt
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
                    arrival[i] = start[i] + dt
                    arrived_exit[i] = got
                    pvx[i] = 0.0
                    pvy[i] = 0.0
                    _unlink(i, head, nxt, prv, binof)
                    exit_count[got] += 1
                    if exit_count[got] >= exit_cap[got]:
                        exit_open[got] = False
                        filled[strip] = True
                    continue
                _relink(i, xn, yn, bin_size, nbx, nby, head, nxt, prv, binof)
    return filled.any()


#: the same kernel on one thread (one strip: small batches, narrow grids) and on all
move_agents = numba.njit(cache=True)(_move_strips)
move_strips = numba.njit(cache=True, parallel=True)(_named(_move_strips, "_parallel"))


@numba.njit(cache=True)
def strip_edges(order, work, px, bin_size, nbx, min_cols, strips):
    """Bin columns at which to cut the grid into at most ``strips`` vertical strips of at
    least ``min_cols`` bin columns holding equal shares of the agents' ``work`` (how many
    times ``order[q]`` moves this step: ``work[q]``), so that threads get equal shares. Each
    cut lies within a quarter of a strip's minimum width of where the work reaches its share,
    at the columns with the least work either side of it, so that few walkers cross a cut.
    Returns the first column of each strip and then ``nbx``."""
    cum = np.zeros(nbx + 1, dtype=np.int64)  # cum[c]: the work in columns before c
    for q in range(order.shape[0]):
        cum[min(max(int(px[order[q]] / bin_size), 0), nbx - 1) + 1] += work[q]
    for c in range(nbx):
        cum[c + 1] += cum[c]
    win = min_cols // 4
    edges = np.empty(strips + 1, dtype=np.int64)
    edges[0] = 0
    n = 1
    for k in range(1, strips):
        c = np.searchsorted(cum, k * cum[nbx] / strips)  # first cut with the share before it
        lo = max(c - win, edges[n - 1] + min_cols)
        hi = min(c + win, nbx - min_cols)
        best = -1
        best_load = 0
        for cc in range(lo, hi + 1):
            load = cum[cc + 1] - cum[cc - 1]  # the two columns either side of the cut
            if best < 0 or load < best_load or (load == best_load and abs(cc - c) < abs(best - c)):
                best = cc
                best_load = load
        if best > 0:
            edges[n] = best
            n += 1
    edges[n] = nbx
    return edges[:n + 1]


@numba.njit(cache=True)
def group_by_strip(order, px, bin_size, nbx, edges):
    """The agents of ``order`` grouped by the strip their column falls in, keeping their order
    within a strip (a counting sort), and each strip's offset in the result."""
    n_strips = edges.shape[0] - 1
    strip_of_col = np.empty(nbx, dtype=np.int64)
    for s in range(n_strips):
        strip_of_col[edges[s]:edges[s + 1]] = s
    which = np.empty(order.shape[0], dtype=np.int64)
    offsets = np.zeros(n_strips + 1, dtype=np.int64)
    for q in range(order.shape[0]):
        s = strip_of_col[min(max(int(px[order[q]] / bin_size), 0), nbx - 1)]
        which[q] = s
        offsets[s + 1] += 1
    for s in range(n_strips):
        offsets[s + 1] += offsets[s]
    fill = offsets[:-1].copy()
    grouped = np.empty(order.shape[0], dtype=np.int64)
    for q in range(order.shape[0]):
        grouped[fill[which[q]]] = order[q]
        fill[which[q]] += 1
    return grouped, offsets


@numba.njit(cache=True)
def strand_in_water(t, px, py, state, lim_d, lim_dv, depth, flow, h, stranded_t):
    """Mark agents standing in water beyond their limits as stranded; return how many."""
    ny, nx = depth.shape
    n = 0
    for i in range(px.shape[0]):
        if state[i] == WAITING or state[i] == MOVING:
            r = min(int(py[i] / h), ny - 1)
            c = min(int(px[i] / h), nx - 1)
            if _wet(r, c, depth, flow, lim_d[i], lim_dv[i]):
                state[i] = STRANDED
                stranded_t[i] = t
                n += 1
    return n
