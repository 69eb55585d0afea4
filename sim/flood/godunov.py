"""The full shallow water equations on a raster: a Godunov-type finite-volume scheme in numba.

- Fluxes: HLLC (Toro, Spruce & Speares 1994; for shallow water Toro 2001, *Shock-Capturing
  Methods for Free-Surface Shallow Flows*, ch. 10), with Toro's two-rarefaction wave speeds
  and his dry-bed speeds u ± 2c at wet/dry fronts.
- Well-balanced wet/dry treatment: the hydrostatic reconstruction of Audusse, Bouchut,
  Bristeau, Klein & Perthame (2004, SIAM J. Sci. Comput. 25:2050-2065), second-order form:
  face depths h* = max(0, η - max(z_L, z_R)), each cell keeping the pressure of its own face
  depth, and the centred bed-slope term g h̄ Δz inside the cell. A lake at rest stays at rest
  over any bed, dry islands and walls to round-off.
- Second order in space: MUSCL reconstruction (van Leer 1979) of depth, surface elevation and
  both velocities with the generalised minmod limiter (θ = 1: minmod, θ = 2: MC); dry cells
  and cells on open or stage edges of the grid are first order.
- Second order in time: the two-stage SSP Runge-Kutta scheme (Shu & Osher 1988; Gottlieb,
  Shu & Tadmor 2001), U¹ = E(Uⁿ), Uⁿ⁺¹ = ½ Uⁿ + ½ E(U¹).
- Positivity: a face's whole flux is scaled by its upstream cell's share of water left to
  give (the draining-time limiter of Bollermann, Chen, Kurganov & Noelle 2013, J. Sci.
  Comput. 56:267-290), so no depth goes negative and mass is kept to round-off.
- Manning friction: implicit in the discharge's magnitude at the new depth, solved exactly,
  |q|(1 + Δt g n² |q| / h^(7/3)) = |q*|, so that steady friction-balanced flow does not depend
  on the step and thin films stop instead of oscillating (cf. Liang & Marche 2009, Adv.
  Water Resour. 32:873-884, for friction split off the flux step in this framework).
- Porosity (partly blocked cells): mass and momentum fluxes scale with the open width of the
  face and the open area of the cell; walls (faces of width 0) reflect the water: their
  momentum flux is HLLC's for the mirrored state.

Boundaries: closed edges are walls; open ones continue the cell outwards (outflow only); a
stage is held at the edge (a ghost keeping the outgoing Riemann invariant); a discharge enters
with its momentum. Inflows add water that joins the cell's flow (keeping its velocity).

State: depth ``h`` (not level, so float32 keeps centimetre depths exact on high ground) and
discharges ``hu``, ``hv`` per unit width, cell-centred; ``u`` east, ``v`` south (row order).
Per stage: boundary faces, interior faces, outflow factors, cell update, each over the work
items of :mod:`sim.flood.blocks`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from sim.flood.blocks import copy_blocks, largest, mark_row_spans, zero_faces
from sim.flood.friction import inv_pow_7_3
from sim.flood.inertial import CLOSED, DISCHARGE, EAST, NORTH, OPEN, SOUTH, STAGE, WEST
from sim.flood.raster import Raster, Tracks

DRY_DEPTH = 1e-6  # m: shallower water has no velocity and no flux (an absolute threshold)
Q_TINY = 1e-20  # m²/s: a smaller discharge is set to zero
REACH = 2  # cells water may cross in a step: two stages, each moving it one cell


@njit(cache=True, inline="always")
def _limited(d_l, d_r, theta):
    """Generalised minmod of the one-sided differences: minmod(θ d_l, (d_l + d_r)/2, θ d_r)."""
    a = theta * d_l
    b = theta * d_r
    m = 0.5 * (d_l + d_r)
    return max(0.0, min(a, min(m, b))) + min(0.0, max(a, max(m, b)))


@njit(cache=True, inline="always")
def _slopes(h0, e0, n0, t0, hw, ew, nw, tw, he, ee, ne, te, wall_w, wall_e, flat, theta, h_dry):
    """Limited differences across one cell of depth, surface, normal and tangential velocity.
    A wall on either side mirrors the cell (same depth and surface, normal velocity reversed);
    dry cells and ``flat`` (edge) cells are first order."""
    hw = h0 if wall_w else hw
    ew = e0 if wall_w else ew
    nw = -n0 if wall_w else nw
    tw = t0 if wall_w else tw
    he = h0 if wall_e else he
    ee = e0 if wall_e else ee
    ne = -n0 if wall_e else ne
    te = t0 if wall_e else te
    keep = 0.0 if (flat or h0 <= h_dry) else 1.0
    # a dry neighbour has no velocity: the other side's difference stands in for its own, so
    # that a wet/dry front keeps its velocity gradient (its tip runs at u + 2c, not at u)
    dry_w = hw <= h_dry
    dry_e = he <= h_dry
    keep_v = 0.0 if (dry_w and dry_e) else keep
    dnw, dne = n0 - nw, ne - n0
    dtw, dte = t0 - tw, te - t0
    return (keep * _limited(h0 - hw, he - h0, theta), keep * _limited(e0 - ew, ee - e0, theta),
            keep_v * _limited(dne if dry_w else dnw, dnw if dry_e else dne, theta),
            keep_v * _limited(dte if dry_w else dtw, dtw if dry_e else dte, theta))


@njit(cache=True, inline="always")
def _wall_push(h, w, g):
    """Momentum flux beyond h's own pressure g h²/2 that a wall exerts on water of depth ``h``
    moving towards it at ``w``: HLLC between the state and its mirror image, h w (w + s) with
    Toro's speed s = c + w/2 (towards) or c + |w| (away)."""
    s = np.sqrt(g * h) + (0.5 * w if w > 0 else -w)
    return h * w * (w + s)


@njit(cache=True, inline="always")
def _hllc(hl, ul, vl, hr, ur, vr, g, h_dry):
    """HLLC flux (mass, normal momentum with pressure, tangential momentum) between two states,
    written without branches; wave speeds after Toro (2001), with dry-bed speeds."""
    cl = np.sqrt(g * hl)
    cr = np.sqrt(g * hr)
    u_star = 0.5 * (ul + ur) + cl - cr
    c_star = 0.5 * (cl + cr) + 0.25 * (ul - ur)
    wet_l = hl > h_dry
    wet_r = hr > h_dry
    s_l = min(ul - cl, u_star - c_star) if wet_r else ul - cl
    s_r = max(ur + cr, u_star + c_star) if wet_l else ur + cr
    s_l = s_l if wet_l else ur - 2.0 * cr
    s_r = s_r if wet_r else ul + 2.0 * cl
    sl = min(s_l, 0.0)
    sr = max(s_r, 0.0)
    span = sr - sl
    inv = 1.0 / span if span > 1e-12 else 0.0  # slower waves carry nothing (and 1/span could overflow)
    a = 0.5 * (sr + sl) * inv
    b = sl * sr * inv
    ql = hl * ul
    qr = hr * ur
    ml = ql * ul + 0.5 * g * hl * hl
    mr = qr * ur + 0.5 * g * hr * hr
    fh = 0.5 * (ql + qr) - a * (qr - ql) + b * (hr - hl)
    fm = 0.5 * (ml + mr) - a * (mr - ml) + b * (qr - ql)
    num = s_l * hr * (ur - s_r) - s_r * hl * (ul - s_l)
    den = hr * (ur - s_r) - hl * (ul - s_l)
    s_star = num / den if den != 0 else 0.0
    vt = vl if s_star > 0 else (vr if s_star < 0 else 0.5 * (vl + vr))
    return fh, fm, fh * vt


@njit(cache=True, inline="always")
def _face(hw, hl, hr, he, ew, el, er, ee, nw, nl, nr, ne, tw, tl, tr, te, wall_lw, wall, wall_re,
          flat_l, flat_r, psi, g, theta, h_dry):
    """One face between cells L and R, given the depth h, surface e, normal velocity n and
    tangential velocity t of the cells W, L, R, E in a row. Returns the mass flux, the normal
    momentum flux minus L's and minus R's own face pressure, the tangential momentum flux (all
    times the open fraction ``psi``) and R's centred bed-slope term g h_R Δη_R."""
    # a cell on the grid's edge is first order unless that edge is closed: a wall, mirrored
    sh, se, sn, st = _slopes(hl, el, nl, tl, hw, ew, nw, tw, hr, er, nr, tr, wall_lw, wall, flat_l and not wall_lw,
                             theta, h_dry)
    h_l = hl + 0.5 * sh
    e_l = el + 0.5 * se
    n_l = nl + 0.5 * sn
    t_l = tl + 0.5 * st
    sh, se, sn, st = _slopes(hr, er, nr, tr, hl, el, nl, tl, he, ee, ne, te, wall, wall_re, flat_r and not wall_re,
                             theta, h_dry)
    h_r = hr - 0.5 * sh
    e_r = er - 0.5 * se
    n_r = nr - 0.5 * sn
    t_r = tr - 0.5 * st
    src_r = g * hr * se
    z_face = max(e_l - h_l, e_r - h_r)
    hs_l = max(0.0, e_l - z_face)
    hs_r = max(0.0, e_r - z_face)
    fh, fm, ft = _hllc(hs_l, n_l, t_l, hs_r, n_r, t_r, g, h_dry)
    if wall:
        return 0.0, _wall_push(h_l, n_l, g), _wall_push(h_r, -n_r, g), 0.0, src_r
    if not (hs_l > h_dry or hs_r > h_dry):
        return 0.0, 0.0, 0.0, 0.0, src_r
    return fh * psi, (fm - 0.5 * g * hs_l * hs_l) * psi, (fm - 0.5 * g * hs_r * hs_r) * psi, ft * psi, src_r


@njit(cache=True)
def _faces_line(n, h, z, un, ut, w, rw, cw, rl, cl, rr, cr, re, ce, w_rl, w_cl, w_r, w_c, w_rr, w_cr, flat_l, flat_r,
                fh, pl, pr, ft, src, o_r, o_c, g, theta, h_dry):
    """``n`` faces in a line: the j-th lies between cells L = (rl, cl + j) and R = (rr, cr + j),
    with W = (rw, cw + j) beyond L and E = (re, ce + j) beyond R; ``un``/``ut`` are the velocity
    components normal and tangential to the faces, ``w`` the faces' open widths (W|L at
    (w_rl, w_cl + j), L|R at (w_r, w_c + j), R|E at (w_rr, w_cr + j)); outputs (and R's bed-slope
    term) go to (o_r, o_c + j). One function for both directions, taking unsigned offsets into
    the 2-D arrays (no views to build per call, no negative-index checks), so that it vectorises."""
    for j in range(n):
        hw, hl, hr, he = h[rw, cw + j], h[rl, cl + j], h[rr, cr + j], h[re, ce + j]
        k = o_c + j
        fh[o_r, k], pl[o_r, k], pr[o_r, k], ft[o_r, k], src[o_r, k] = _face(
            hw, hl, hr, he, z[rw, cw + j] + hw, z[rl, cl + j] + hl, z[rr, cr + j] + hr, z[re, ce + j] + he,
            un[rw, cw + j], un[rl, cl + j], un[rr, cr + j], un[re, ce + j],
            ut[rw, cw + j], ut[rl, cl + j], ut[rr, cr + j], ut[re, ce + j],
            w[w_rl, w_cl + j] == 0, w[w_r, w_c + j] == 0, w[w_rr, w_cr + j] == 0, flat_l, flat_r, w[w_r, w_c + j],
            g, theta, h_dry)


@njit(cache=True, inline="always")
def _x_faces(r, a, b, h, z, u, v, wx, fhx, plx, prx, ftx, srcx, g, theta, h_dry):
    """The west faces of cells a <= c < b of row ``r`` (a >= 1). Where a cell beyond L or R
    does not exist (L or R on the grid's edge, where the scheme is first order), an existing
    cell stands in."""
    if b <= a:
        return
    nx = h.shape[1]
    n = np.uint64(b - a)
    ru = np.uint64(r)
    e0 = min(b + 1, nx) - (b - a)
    _faces_line(n, h, z, u, v, wx, ru, np.uint64(max(a - 2, 0)), ru, np.uint64(a - 1), ru, np.uint64(a),
                ru, np.uint64(e0), ru, np.uint64(a - 1), ru, np.uint64(a), ru, np.uint64(a + 1), a == 1, b == nx,
                fhx, plx, prx, ftx, srcx, ru, np.uint64(a), g, theta, h_dry)


@njit(cache=True, parallel=True)
def interior_faces(items, h, z, u, v, wx, wy, fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, g, theta, h_dry):
    """Fluxes through the west and north faces of the items' cells (not the grid's edges),
    and the cells' bed-slope terms."""
    ny, nx = h.shape
    for it in prange(items.shape[0]):
        r, c0, c1 = np.int64(items[it, 0]), np.int64(items[it, 1]), np.int64(items[it, 2])
        # x: face 1 (its L cell on the west edge), faces 2 .. nx-2, face nx-1 (R on the east edge)
        lo = max(c0, 2)
        hi = min(c1, nx - 1)
        if c0 <= 1 < c1:
            _x_faces(r, 1, 2, h, z, u, v, wx, fhx, plx, prx, ftx, srcx, g, theta, h_dry)
        _x_faces(r, lo, hi, h, z, u, v, wx, fhx, plx, prx, ftx, srcx, g, theta, h_dry)
        if c1 == nx and nx > 2:
            _x_faces(r, nx - 1, nx, h, z, u, v, wx, fhx, plx, prx, ftx, srcx, g, theta, h_dry)
        if r > 0:
            c0u = np.uint64(c0)
            _faces_line(np.uint64(c1 - c0), h, z, v, u, wy, np.uint64(max(r - 2, 0)), c0u, np.uint64(r - 1), c0u,
                        np.uint64(r), c0u, np.uint64(min(r + 1, ny - 1)), c0u, np.uint64(r - 1), c0u, np.uint64(r), c0u,
                        np.uint64(r + 1), c0u, r == 1, r == ny - 1, fhy, ply, pry, fty, srcy, np.uint64(r), c0u,
                        g, theta, h_dry)


@njit(cache=True)
def _edge(kind, value, h_b, z_b, n_b, t_b, psi, outward, g, h_dry):
    """Flux through a grid edge from its cell (depth, bed, normal and tangential velocity, the
    normal taken positive along the grid axis); ``outward`` is +1 on the east/south edges,
    -1 on the west/north ones. Closed: a wall; open: the cell's state continued outside,
    outflow only; stage: a ghost of the water-surface elevation ``value`` over the same bed
    whose velocity keeps the Riemann invariant u ± 2c of the characteristic leaving the grid (at
    rest, a reservoir, while the cell is dry), which holds the stage at the edge; discharge: the
    inward unit discharge ``value`` with its momentum q²/h + g h²/2, at the cell's depth or the
    critical depth (q²/g)^(1/3), whichever is deeper. Returns (mass, momentum minus the cell's
    pressure, tangential)."""
    if kind == CLOSED or psi == 0:
        return 0.0, _wall_push(h_b, outward * n_b, g), 0.0
    if kind == DISCHARGE:
        fh = -outward * value
        h_f = max(h_b, (value * value / g) ** (1 / 3))
        return fh * psi, (fh * fh / h_f + 0.5 * g * (h_f * h_f - h_b * h_b)) * psi, 0.0
    h_g = h_b
    n_g = n_b
    if kind == STAGE:
        h_g = max(value - z_b, 0.0)
        n_g = n_b + outward * 2.0 * (np.sqrt(g * h_b) - np.sqrt(g * h_g)) if h_b > h_dry else 0.0
    if outward > 0:
        fh, fm, ft = _hllc(h_b, n_b, t_b, h_g, n_g, t_b, g, h_dry)
    else:
        fh, fm, ft = _hllc(h_g, n_g, t_b, h_b, n_b, t_b, g, h_dry)
    if kind == OPEN and fh * outward < 0:
        return 0.0, _wall_push(h_b, outward * n_b, g), 0.0
    if not (h_b > h_dry or h_g > h_dry):
        return 0.0, 0.0, 0.0
    return fh * psi, (fm - 0.5 * g * h_b * h_b) * psi, ft * psi


@njit(cache=True)
def boundary_faces(h, z, u, v, phi, wx, wy, kinds, values, fhx, plx, prx, ftx, fhy, ply, pry, fty, g, h_dry):
    """Fluxes through the four edges of the grid (serial: the perimeter is small); ``values``
    holds each side's stage (m) or inward unit discharge (m²/s)."""
    ny, nx = h.shape
    for r in range(ny):
        for side, c, face, outward in ((WEST, 0, 0, -1.0), (EAST, nx - 1, nx, 1.0)):
            fh, p, ft = 0.0, 0.0, 0.0
            if phi[r, c] > 0:
                fh, p, ft = _edge(kinds[side], values[side], h[r, c], z[r, c], u[r, c], v[r, c], wx[r, face],
                                  outward, g, h_dry)
            fhx[r, face], plx[r, face], prx[r, face], ftx[r, face] = fh, p, p, ft
    for c in range(nx):
        for side, r, face, outward in ((NORTH, 0, 0, -1.0), (SOUTH, ny - 1, ny, 1.0)):
            fh, p, ft = 0.0, 0.0, 0.0
            if phi[r, c] > 0:
                fh, p, ft = _edge(kinds[side], values[side], h[r, c], z[r, c], v[r, c], u[r, c], wy[face, c],
                                  outward, g, h_dry)
            fhy[face, c], ply[face, c], pry[face, c], fty[face, c] = fh, p, p, ft


@njit(cache=True, parallel=True)
def outflow_factors(items, h, phi, fhx, fhy, dt, dx, f_pad):
    """The share of its outgoing mass fluxes each cell can deliver this stage without running
    dry: 1, or held volume / outgoing volume. ``f_pad`` has a border of ones (the outside)."""
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        for c in range(c0, c1):
            out = (max(-fhx[r, c], 0.0) + max(fhx[r, c + 1], 0.0) + max(-fhy[r, c], 0.0)
                   + max(fhy[r + 1, c], 0.0)) * dt
            held = h[r, c] * phi[r, c] * dx
            f_pad[r + 1, c + 1] = held / out if out > held else 1.0


@njit(cache=True)
def _row_speed(h, u, v, r, c0, c1, g, h_dry, block, wet, spans, track):
    """The fastest max(|u|, |v|) + sqrt(g h) among the wet cells c0 <= c < c1 of row ``r`` (NaN if
    a value is NaN), and the row's water deeper than ``h_dry`` recorded in ``wet`` and ``spans``
    (:func:`sim.flood.blocks.mark_row_spans`). A function of its own, not inlined: a
    max-reduction in (or inlined beside) the update loop stops it vectorising."""
    speed = 0.0
    broken = False
    for c in range(c0, c1):
        hc = h[r, c]
        s = max(abs(u[r, c]), abs(v[r, c])) + np.sqrt(g * hc)
        speed = max(speed, s if hc > h_dry else 0.0)
        broken |= s != s
    deepest = mark_row_spans(h, r, c0, c1, h_dry, block, REACH, wet, spans, track)
    return np.nan if (broken or deepest != deepest) else speed


@njit(cache=True, parallel=True)
def update(items, h, hu, hv, h0, hu0, hv0, weight, h_out, hu_out, hv_out, u_out, v_out, inv_width, n2,
           fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, f_pad, rain, rain_grid, use_grid, dt, dx, g,
           h_dry, final, t_new, max_depth, arrival, arrival_depth, max_speed2, speed_depth, wet, spans, block, track):
    """One stage: U_out = w U0 + (1 - w) F(U + Δt L(U)), F the implicit friction, with the
    limited fluxes, rain, and velocities u = hu/h (0 where dry). In the ``final`` stage also
    tracks the maxima and first wetting, and flags the wet blocks. Returns the fastest
    max(|u|, |v|) + sqrt(g h) over the items' cells."""
    item_max = np.zeros(items.shape[0])
    rest = 1.0 - weight
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        for c in range(c0, c1):
            f = f_pad[r + 1, c + 1]
            fw = fhx[r, c]
            fe = fhx[r, c + 1]
            fn = fhy[r, c]
            fs = fhy[r + 1, c]
            kw = f_pad[r + 1, c] if fw > 0 else f
            ke = f if fe > 0 else f_pad[r + 1, c + 2]
            kn = f_pad[r, c + 1] if fn > 0 else f
            ks = f if fs > 0 else f_pad[r + 2, c + 1]
            iw = inv_width[r, c]
            src = rain + rain_grid[r, c] if use_grid else rain
            hn = h[r, c] + dt * ((fw * kw - fe * ke + fn * kn - fs * ks) * iw + src)
            hun = hu[r, c] - dt * ((plx[r, c + 1] * ke - prx[r, c] * kw + fty[r + 1, c] * ks - fty[r, c] * kn) * iw
                                   + srcx[r, c] / dx)
            hvn = hv[r, c] - dt * ((ply[r + 1, c] * ks - pry[r, c] * kn + ftx[r, c + 1] * ke - ftx[r, c] * kw) * iw
                                   + srcy[r, c] / dx)
            hn = max(hn, 0.0) if iw > 0 else 0.0
            wet_cell = hn > h_dry
            hs = max(hn, h_dry)
            k = dt * g * n2[r, c] * inv_pow_7_3(hs)
            m = np.sqrt(hun * hun + hvn * hvn)
            shrink = 2.0 / (1.0 + np.sqrt(1.0 + 4.0 * k * m)) if wet_cell else 0.0
            hn = weight * h0[r, c] + rest * hn
            hun = weight * hu0[r, c] + rest * hun * shrink
            hvn = weight * hv0[r, c] + rest * hvn * shrink
            wet_cell = hn > h_dry
            # no discharge where dry; below Q_TINY none either (it would only decay into denormals)
            hun = hun if (wet_cell and abs(hun) > Q_TINY) else 0.0
            hvn = hvn if (wet_cell and abs(hvn) > Q_TINY) else 0.0
            h_out[r, c] = hn
            hu_out[r, c] = hun
            hv_out[r, c] = hvn
            inv_h = 1.0 / max(hn, h_dry)
            un = hun * inv_h
            vn = hvn * inv_h
            u_out[r, c] = un
            v_out[r, c] = vn
            if final:
                max_depth[r, c] = max(max_depth[r, c], hn)
                a = arrival[r, c]
                arrival[r, c] = t_new if (hn > arrival_depth and a > t_new) else a
                s2 = un * un + vn * vn
                m2 = max_speed2[r, c]
                max_speed2[r, c] = max(m2, s2) if hn > speed_depth else m2
        if final:
            item_max[it] = _row_speed(h_out, u_out, v_out, r, c0, c1, g, h_dry, block, wet, spans, track)
    return largest(item_max)


@njit(cache=True)
def boundary_volumes(fhx, fhy, f_pad, dx, dt):
    """Volumes (in, out) in m³ that crossed the grid's edges in one stage of length ``dt``,
    each flux limited as the cell update limits it."""
    ny = fhx.shape[0]
    nx = fhy.shape[1]
    v_in = 0.0
    v_out = 0.0
    for r in range(ny):
        west = fhx[r, 0]
        west = west if west > 0 else west * f_pad[r + 1, 1]
        east = -fhx[r, nx]
        east = east if east > 0 else east * f_pad[r + 1, nx]
        for v in (west, east):
            if v > 0:
                v_in += v
            else:
                v_out -= v
    for c in range(nx):
        north = fhy[0, c]
        north = north if north > 0 else north * f_pad[1, c + 1]
        south = -fhy[ny, c]
        south = south if south > 0 else south * f_pad[ny, c + 1]
        for v in (north, south):
            if v > 0:
                v_in += v
            else:
                v_out -= v
    return v_in * dx * dt, v_out * dx * dt


@njit(cache=True)
def advance(items, now, stage, z, phi, wx, wy, inv_width, n2, fx, fy, src, f_pad, rain, rain_grid, use_grid,
            kinds, values, dt, dx, g, theta, h_dry, t_new, max_depth, arrival, arrival_depth, max_speed2,
            speed_depth, wet, spans, block, track):
    """One step of the two-stage SSP Runge-Kutta scheme: U¹ = E(U) into ``stage``, then
    U = ½ U + ½ E(U¹) back into ``now`` (tuples h, hu, hv, u, v). Returns the volumes (in, out)
    through the grid's edges and the fastest wave speed after the step."""
    fhx, plx, prx, ftx = fx
    fhy, ply, pry, fty = fy
    srcx, srcy = src
    v_in = 0.0
    v_out = 0.0
    speed = 0.0
    for k in range(2):
        final = k == 1
        h, hu, hv, u, v = stage if final else now
        h_o, hu_o, hv_o, u_o, v_o = now if final else stage
        boundary_faces(h, z, u, v, phi, wx, wy, kinds, values, fhx, plx, prx, ftx, fhy, ply, pry, fty, g, h_dry)
        interior_faces(items, h, z, u, v, wx, wy, fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, g, theta,
                       h_dry)
        outflow_factors(items, h, phi, fhx, fhy, dt, dx, f_pad)
        weight = 0.5 if final else 0.0
        speed = update(items, h, hu, hv, now[0], now[1], now[2], weight, h_o, hu_o, hv_o, u_o, v_o,
                       inv_width, n2, fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, f_pad, rain, rain_grid,
                       use_grid, dt, dx, g, h_dry, final, t_new, max_depth, arrival, arrival_depth, max_speed2,
                       speed_depth, wet, spans, block, track)
        vi, vo = boundary_volumes(fhx, fhy, f_pad, dx, dt)
        v_in += 0.5 * vi
        v_out += 0.5 * vo
    return v_in, v_out, speed


@njit(cache=True)
def add_moving_water(h, hu, hv, u, v, rows, cols, area, volume, h_dry):
    """Add ``volume`` m³ to each listed cell of open area ``area`` (m²), or take it where
    negative, at most what the cell holds: the water joins the cell's flow, keeping its velocity
    (so its discharge grows with its depth, as ANUGA's inlets do), and a cell left shallower than
    ``h_dry`` has none. Returns the volume added in all (m³), as the grid stores it."""
    total = 0.0
    for k in range(rows.shape[0]):
        r, c = rows[k], cols[k]
        before = np.float64(h[r, c])
        h[r, c] = before + max(volume / area[k], -before)
        after = np.float64(h[r, c])
        total += (after - before) * area[k]
        wet = after > h_dry
        hu[r, c] = u[r, c] * after if wet else 0.0
        hv[r, c] = v[r, c] * after if wet else 0.0
        u[r, c] = u[r, c] if wet else 0.0
        v[r, c] = v[r, c] if wet else 0.0
    return total


class GodunovSolver:
    """The full scheme's state (discharges, velocities, a second stage) and its step."""

    name = "full"

    reach = REACH
    # blocks of 16 cells: finer blocks follow a front more closely and a cell of this scheme costs
    # about 6 of the inertial one's, so they pay for their extra work items up to a point (the sample
    # city's breach, its first hour at 4 m on 2 threads, items cut to the water: 42.1 s with
    # blocks of 32, 37.4 s with 16, 42.8 s with 8)
    block = 16

    def __init__(self, raster: Raster, h: np.ndarray, limiter_theta: float, gravity: float) -> None:
        ny, nx = raster.shape
        dtype = h.dtype
        self.raster = raster
        self.h = h
        self.theta, self.g = limiter_theta, gravity
        self.hu = np.zeros((ny, nx), dtype)
        self.hv = np.zeros((ny, nx), dtype)
        self.u = np.zeros((ny, nx), dtype)
        self.v = np.zeros((ny, nx), dtype)
        self._stage = tuple(np.zeros((ny, nx), dtype) for _ in range(5))  # h, hu, hv, u, v of U¹
        self._fx = tuple(np.zeros((ny, nx + 1), dtype) for _ in range(4))  # mass, P_L, P_R, tangential
        self._fy = tuple(np.zeros((ny + 1, nx), dtype) for _ in range(4))
        self._src = (np.zeros((ny, nx), dtype), np.zeros((ny, nx), dtype))
        self._factors = np.ones((ny + 2, nx + 2), dtype)
        wet = h > DRY_DEPTH
        self._speed = float(np.sqrt(gravity * h[wet].max())) if wet.any() else 0.0

    @property
    def quiet_depth(self) -> float:
        """Water this shallow moves nowhere: every face around it carries nothing."""
        return DRY_DEPTH

    def stop(self, stopped: np.ndarray, block: int) -> None:
        """Leave the blocks ``stopped`` (block row, block col) out from now on: zero their faces,
        and give their first stage the state now, which a skipped stage would have left unchanged
        (the second stage reads it two cells into a neighbouring block)."""
        zero_faces(stopped, block, self._fx, self._fy)
        copy_blocks(stopped, block, (self.h, self.hu, self.hv, self.u, self.v), self._stage)

    def wave_speed(self) -> float:
        """The fastest max(|u|, |v|) + sqrt(g h) after the last step (the CFL condition's speed)."""
        return self._speed

    def add_inflow(self, rows: np.ndarray, cols: np.ndarray, area: np.ndarray, volume: float) -> float:
        """Add (or take) ``volume`` m³ in each listed cell of open area ``area``, moving with the
        water there; returns the volume added as stored."""
        return add_moving_water(self.h, self.hu, self.hv, self.u, self.v, rows, cols, area, volume, DRY_DEPTH)

    def step(self, dt: float, t_new: float, rain: float, rain_grid: np.ndarray, use_grid: bool,
             kinds: np.ndarray, values: np.ndarray, items: np.ndarray, wet: np.ndarray, block: int, track: bool,
             tracks: Tracks, spans: np.ndarray) -> tuple[float, float]:
        """Advance by ``dt`` (two stages); returns the volumes (in, out) through the grid's edges."""
        g = self.raster
        v_in, v_out, speed = advance(
            items, (self.h, self.hu, self.hv, self.u, self.v), self._stage, g.z, g.phi, g.wx, g.wy, g.inv_width,
            g.n2, self._fx, self._fy, self._src, self._factors, rain, rain_grid, use_grid, kinds, values, dt, g.dx,
            self.g, self.theta, DRY_DEPTH, t_new, tracks.max_depth, tracks.arrival, tracks.arrival_depth,
            tracks.max_speed2, tracks.velocity_depth, wet, spans, block, track)
        self._speed = float(speed)
        return v_in, v_out

    def state(self) -> tuple[dict[str, np.ndarray], float]:
        """Copies of the discharges and velocities, and the wave speed that sets the next step."""
        return {"hu": self.hu.copy(), "hv": self.hv.copy(), "u": self.u.copy(), "v": self.v.copy()}, self._speed

    def restore(self, arrays: dict[str, np.ndarray], wave_speed: float) -> None:
        """Take the discharges, velocities and wave speed of :meth:`state` (``h`` is the model's)."""
        for name in ("hu", "hv", "u", "v"):
            getattr(self, name)[...] = arrays[name]
        self._speed = wave_speed

    def cell_discharges(self) -> tuple[np.ndarray, np.ndarray]:
        """Discharges per unit width (eastward, southward), m²/s."""
        return self.hu.astype(np.float64), self.hv.astype(np.float64)

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self._speed)
