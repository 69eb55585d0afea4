"""Exit choice by expected travel time including queues.

An agent's expected time to exit e is max(walk, queue): walk = T_e(x)/v₀ from the exit's
travel-time field, queue = (agents heading for e who are nearer to it) / (e's flow
capacity). The candidates are the exits listed for the agent's cell (its ``k`` nearest on
foot) that are still open. Agents reconsider with a given probability per choice round and
switch only for a clear gain (hysteresis), so that crowds do not oscillate between exits;
agents with an assigned exit keep it while it is open and reachable. When every exit listed
at an agent's cell is full, the caller recomputes the lists without the full ones, so the
agent goes on to the next shelter by walking time.

With the flood known in advance, routes are planned on the water at the time the *first*
walker can reach each cell, and refreshed only every few minutes on a city; so each agent also
checks, when it chooses, the way to each candidate against the water at the time *it* would get
to each cell (``route_closes``), and takes an exit whose way stays open when there is one.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

from sim.evacuation.crowd import MOVING, STRANDED
from sim.evacuation.navigation import field_value

NO_ROUTE = -2
#: cells per side of the blocks over which ``closing_near`` takes the soonest closing time
CHECK_BLOCK = 16


@numba.njit(cache=True, parallel=True)
def _distances(px, py, cls, state, target, assigned, exit_open, lab, val, k, dense, dense_of, ny, nx, h):
    """On all threads (a city's agents each read their cell's exit lists, far apart in memory):
    every moving agent's distance on foot to its target and to its assigned exit while that
    is open (inf where there is none or no route)."""
    n = px.shape[0]
    to_target = np.full(n, np.inf)
    to_assigned = np.full(n, np.inf)
    for i in numba.prange(n):
        if state[i] != MOVING:
            continue
        c = cls[i]
        r = min(int(py[i] / h), ny - 1)
        col = min(int(px[i] / h), nx - 1)
        e = target[i]
        if e >= 0:
            to_target[i] = field_value(lab[c], val[c], k, dense[c], dense_of, ny, nx, r, col, e)
        a = assigned[i]
        if a >= 0 and exit_open[a]:
            to_assigned[i] = to_target[i] if a == e else field_value(lab[c], val[c], k, dense[c], dense_of, ny, nx,
                                                                     r, col, a)
    return to_target, to_assigned


@numba.njit(cache=True)
def _queue_histograms(target, to_target, n_exits, bin_m, nbins):
    """Per exit, how many agents heading for it are within each distance bin of it, cumulated."""
    cum = np.zeros((n_exits, nbins + 1), dtype=np.int64)
    for i in range(target.shape[0]):
        d = to_target[i]
        if np.isfinite(d):
            cum[target[i], min(int(d / bin_m), nbins - 1) + 1] += 1
    for e in range(n_exits):
        for b in range(nbins):
            cum[e, b + 1] += cum[e, b]
    return cum


def closing_near(close: np.ndarray, block: int, radius: int) -> np.ndarray:
    """Per block of ``block`` × ``block`` cells, the soonest time at which the water known in
    advance closes a cell within ``radius`` cells of the block (inf: none): where that lies
    beyond an agent's look ahead, its way needs no checking (``route_closes``)."""
    ny, nx = close.shape
    nby, nbx = -(-ny // block), -(-nx // block)
    padded = np.full((nby * block, nbx * block), np.inf, dtype=np.float32)
    padded[:ny, :nx] = close
    soonest = padded.reshape(nby, block, nbx, block).min(axis=(1, 3))
    grow = min(-(-radius // block), max(nby, nbx))  # beyond the grid: the soonest anywhere
    return ndimage.minimum_filter(soonest, size=2 * grow + 1, mode="constant", cval=np.inf)


@numba.njit(cache=True)
def route_closes(lab, val, k, dense, dense_of, ny, nx, r, c, e, close, t, v, horizon_s):
    """True when the water known in advance closes a cell of the way to exit ``e`` from cell
    (r, c) before an agent leaving now (``t``) at ``v`` m/s gets there: the way followed down the
    exit's field cell by cell (to the lowest of the 4 neighbours) for ``horizon_s`` of walking,
    the time to each cell being the field's drop over ``v``. ``close`` holds the class's closing
    times by cell (empty: no forecast)."""
    if close.shape[0] == 0:
        return False
    d0 = field_value(lab, val, k, dense, dense_of, ny, nx, r, c, e)
    if not np.isfinite(d0):
        return False
    d = d0
    while True:
        when = t + (d0 - d) / v
        if when - t > horizon_s:
            return False
        if close[r * nx + c] <= when:
            return True
        if d <= 0.0:
            return False
        best = d
        br = -1
        bc = -1
        for q in range(4):
            rr = r + (q == 0) - (q == 1)
            cc = c + (q == 2) - (q == 3)
            dn = field_value(lab, val, k, dense, dense_of, ny, nx, rr, cc, e)
            if dn < best:
                best = dn
                br = rr
                bc = cc
        if br < 0:
            return False
        r = br
        c = bc
        d = best


@numba.njit(cache=True)
def _best(i, r, c, v0, cl, lab, val, k, dense, dense_of, ny, nx, exit_open, exit_flow, cum, added, bin_m, nbins, cur,
          close, close_near, block, t, horizon_s):
    """Cheapest open exit listed at cell (r, c) for agent i whose way the water does not close
    before the agent gets there (``route_closes``), else the cheapest of those listed: (exit,
    cost, cost of ``cur``, whether a full exit was listed, whether ``cur``'s way closes, whether
    the exit returned has a way that stays open)."""
    best = -1
    best_cost = np.inf
    cur_cost = np.inf
    cur_shut = False
    listed_full = False
    base = (r * nx + c) * k
    shut = -1
    shut_cost = np.inf
    # no way needs checking where nothing near closes before the agent's look ahead ends
    check = close.shape[0] > 0 and close_near[cl, r // block, c // block] <= t + horizon_s
    mine = close[cl] if close.shape[0] else close.reshape(-1)
    for j in range(k):
        e = lab[cl, base + j]
        if e < 0:
            continue
        if not exit_open[e]:
            listed_full = True
            continue
        d = val[cl, base + j]
        ahead = cum[e, min(int(d / bin_m), nbins - 1)] + added[e]
        cost = max(d / v0[i], ahead / exit_flow[e])
        if e != cur and cost >= best_cost:
            continue
        if check and route_closes(lab[cl], val[cl], k, dense[cl], dense_of, ny, nx, r, c, e, mine, t, v0[i], horizon_s):
            if e == cur:
                cur_shut = True
            if cost < shut_cost:
                shut_cost = cost
                shut = e
            continue
        if e == cur:
            cur_cost = cost
        if cost < best_cost:
            best_cost = cost
            best = e
    if best < 0 and shut >= 0:
        return shut, shut_cost, cur_cost, listed_full, cur_shut, False
    return best, best_cost, cur_cost, listed_full, cur_shut, best >= 0


@numba.njit(cache=True, parallel=True)
def _keep_or_reconsider(px, py, v0, cls, state, target, assigned, redirected, to_target, to_assigned, lab, val, k,
                        dense, dense_of, ny, nx, exit_open, exit_flow, h, draw, p_reconsider, hysteresis_s,
                        hysteresis_frac, cum, bin_m, nbins, close, close_near, block, t, horizon_s, forced_key):
    """On all threads, every moving agent on its own: marks it ``redirected`` when its exit has
    closed; takes its assigned exit while that is open and reachable; marks it as having to choose
    (``forced_key``: the distance to the nearest exit listed at its cell, NaN for the others) when
    it has no exit, its exit has closed or it is out of the exit's reach; else, with probability
    ``p_reconsider``, switches to a clearly better exit against the queues in ``cum``. Where the
    exit changes, ``to_target`` becomes NaN."""
    none = np.zeros(dense_of.shape[0], dtype=np.int64)
    for i in numba.prange(px.shape[0]):
        forced_key[i] = np.nan
        if state[i] != MOVING:
            continue
        cur = target[i]
        if cur >= 0 and not exit_open[cur]:
            redirected[i] = True
        if np.isfinite(to_assigned[i]):
            if assigned[i] != cur:
                target[i] = assigned[i]
                to_target[i] = np.nan
            continue
        r = min(int(py[i] / h), ny - 1)
        c = min(int(px[i] / h), nx - 1)
        if cur < 0 or not exit_open[cur] or not np.isfinite(to_target[i]):
            forced_key[i] = val[cls[i], (r * nx + c) * k]  # the nearest listed exit (lists are nearest first)
            continue
        if draw[i] > p_reconsider:
            continue
        best, best_cost, cur_cost, _, cur_shut, way = _best(i, r, c, v0, cls[i], lab, val, k, dense, dense_of, ny, nx,
                                                            exit_open, exit_flow, cum, none, bin_m, nbins, cur, close,
                                                            close_near, block, t, horizon_s)
        if best >= 0 and ((cur_shut and way) or best_cost < cur_cost - max(hysteresis_s, hysteresis_frac * cur_cost)):
            target[i] = best
            to_target[i] = np.nan


@numba.njit(cache=True)
def choose_exits(
    px, py, v0, cls, state, target, assigned, redirected, stranded_t, comp, exit_comp, lab, val, k, dense, dense_of,
    ny, nx, exit_open, exit_flow, h, draw, p_reconsider, hysteresis_s, hysteresis_frac, bin_m, nbins, close,
    close_near, block, t, horizon_s, last,
):
    """Update ``target`` in place. Agents that must choose (none yet, or theirs closed or out
    of reach) choose nearest first, each counting those who chose before it in the queue, so a
    crowd starting together does not all pick the same exit. Agents with no route to any open
    exit of their own walkable region get ``NO_ROUTE`` (cut off by water) and are stranded at
    ``t`` (once the choice is final: ``last``, or no list was stale), those whose region has no
    open exit get -1. With the water known in advance (``close``, ``close_near``:
    ``route_closes``), an agent does not choose an exit whose way the water closes before it
    gets there while another's stays open, and leaves such an exit when it reconsiders.
    Returns whether some agent's listed exits are all full (the lists need recomputing), and each
    agent's distance to its exit, NaN where the exit changed (``crowd.front_first_order``)."""
    n_exits = dense_of.shape[0]
    n = px.shape[0]
    to_target, to_assigned = _distances(px, py, cls, state, target, assigned, exit_open, lab, val, k, dense, dense_of,
                                        ny, nx, h)
    cum = _queue_histograms(target, to_target, n_exits, bin_m, nbins)
    key = np.empty(n, dtype=np.float64)
    _keep_or_reconsider(px, py, v0, cls, state, target, assigned, redirected, to_target, to_assigned, lab, val, k, dense,
                        dense_of, ny, nx, exit_open, exit_flow, h, draw, p_reconsider, hysteresis_s,
                        hysteresis_frac, cum, bin_m, nbins, close, close_near, block, t, horizon_s, key)
    forced = np.flatnonzero(~np.isnan(key))  # in the agents' order, as the sort below expects
    added = np.zeros(n_exits, dtype=np.int64)
    stale = False
    for q in np.argsort(key[forced]):
        i = forced[q]
        to_target[i] = np.nan
        r = min(int(py[i] / h), ny - 1)
        c = min(int(px[i] / h), nx - 1)
        best, _, _, listed_full, _, _ = _best(i, r, c, v0, cls[i], lab, val, k, dense, dense_of, ny, nx, exit_open,
                                              exit_flow, cum, added, bin_m, nbins, -1, close, close_near, block, t,
                                              horizon_s)
        if best >= 0:
            target[i] = best
            added[best] += 1
        elif listed_full:
            target[i] = -1
            stale = True
        else:
            target[i] = -1
            for e in range(n_exits):
                if exit_open[e] and exit_comp[e] == comp[r, c]:
                    target[i] = NO_ROUTE
                    break
    if last or not stale:
        for i in range(n):
            if state[i] == MOVING and target[i] == NO_ROUTE:
                state[i] = STRANDED
                stranded_t[i] = t
    return stale, to_target
