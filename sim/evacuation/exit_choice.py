"""Exit choice by expected travel time including queues.

An agent's expected time to exit e is max(walk, queue): walk = T_e(x)/v₀ from the exit's
travel-time field, queue = (agents heading for e who are nearer to it) / (e's flow
capacity). The candidates are the exits listed for the agent's cell (its ``k`` nearest on
foot) that are still open. Agents reconsider with a given probability per choice round and
switch only for a clear gain (hysteresis), so that crowds do not oscillate between exits;
agents with an assigned exit keep it while it is open and reachable. When every exit listed
at an agent's cell is full, the caller recomputes the lists without the full ones, so the
agent goes on to the next shelter by walking time.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.evacuation.crowd import MOVING
from sim.evacuation.navigation import field_value

NO_ROUTE = -2


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


@numba.njit(cache=True)
def _best(i, r, c, v0, cl, lab, val, k, nx, exit_open, exit_flow, cum, added, bin_m, nbins, cur):
    """Cheapest open exit listed at cell (r, c) for agent i: (exit, cost, cost of ``cur``, and
    whether a full exit was listed)."""
    best = -1
    best_cost = np.inf
    cur_cost = np.inf
    listed_full = False
    base = (r * nx + c) * k
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
        if cost < best_cost:
            best_cost = cost
            best = e
        if e == cur:
            cur_cost = cost
    return best, best_cost, cur_cost, listed_full


@numba.njit(cache=True)
def choose_exits(
    px, py, v0, cls, state, target, assigned, comp, exit_comp, lab, val, k, dense, dense_of, ny, nx,
    exit_open, exit_flow, h, draw, p_reconsider, hysteresis_s, hysteresis_frac, bin_m, nbins,
):
    """Update ``target`` in place. Agents that must choose (none yet, or theirs closed or out
    of reach) choose nearest first, each counting those who chose before it in the queue, so a
    crowd starting together does not all pick the same exit. Agents with no route to any open
    exit of their own walkable region get ``NO_ROUTE`` (cut off by water), those whose region
    has no open exit get -1. Returns True when some agent's listed exits are all full (the
    lists need recomputing)."""
    n_exits = dense_of.shape[0]
    n = px.shape[0]
    to_target, to_assigned = _distances(px, py, cls, state, target, assigned, exit_open, lab, val, k, dense, dense_of,
                                        ny, nx, h)
    cum = _queue_histograms(target, to_target, n_exits, bin_m, nbins)
    added = np.zeros(n_exits, dtype=np.int64)
    none = np.zeros(n_exits, dtype=np.int64)
    stale = False
    forced = np.empty(n, dtype=np.int64)
    key = np.empty(n, dtype=np.float64)
    m = 0
    for i in range(n):
        if state[i] != MOVING:
            continue
        if np.isfinite(to_assigned[i]):
            target[i] = assigned[i]
            continue
        cur = target[i]
        if cur < 0 or not exit_open[cur] or not np.isfinite(to_target[i]):
            r = min(int(py[i] / h), ny - 1)
            c = min(int(px[i] / h), nx - 1)
            forced[m] = i
            key[m] = val[cls[i], (r * nx + c) * k]  # the nearest listed exit (lists are nearest first)
            m += 1
            continue
        if draw[i] > p_reconsider:
            continue
        r = min(int(py[i] / h), ny - 1)
        c = min(int(px[i] / h), nx - 1)
        best, best_cost, cur_cost, _ = _best(i, r, c, v0, cls[i], lab, val, k, nx, exit_open, exit_flow, cum, none,
                                             bin_m, nbins, cur)
        if best >= 0 and best_cost < cur_cost - max(hysteresis_s, hysteresis_frac * cur_cost):
            target[i] = best
    for q in np.argsort(key[:m]):
        i = forced[q]
        r = min(int(py[i] / h), ny - 1)
        c = min(int(px[i] / h), nx - 1)
        best, _, _, listed_full = _best(i, r, c, v0, cls[i], lab, val, k, nx, exit_open, exit_flow, cum, added,
                                        bin_m, nbins, -1)
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
    return stale
