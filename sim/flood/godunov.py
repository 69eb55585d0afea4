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
  and cells on the grid's edges are first order.
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

State: depth ``h`` (not level, so float32 keeps centimetre depths exact on high ground) and
discharges ``hu``, ``hv`` per unit width, cell-centred; ``u`` east, ``v`` south (row order).
Per stage: boundary faces, interior faces, outflow factors, cell update, each over the work
items of :mod:`sim.flood.blocks`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.flood.blocks import mark_row_wet
from sim.flood.friction import inv_pow_7_3
from sim.flood.inertial import CLOSED, EAST, NORTH, OPEN, SOUTH, STAGE, WEST
from sim.flood.raster import Raster, Tracks

DRY_DEPTH = 1e-6  # m: shallower water has no velocity and no flux (an absolute threshold)


@njit(cache=True)
def _limited(d_l, d_r, theta):
    """Generalised minmod of the one-sided differences: minmod(θ d_l, (d_l + d_r)/2, θ d_r)."""
    a = theta * d_l
    b = theta * d_r
    m = 0.5 * (d_l + d_r)
    return max(0.0, min(a, min(m, b))) + min(0.0, max(a, max(m, b)))


@njit(cache=True)
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
    return (keep * _limited(h0 - hw, he - h0, theta), keep * _limited(e0 - ew, ee - e0, theta),
            keep * _limited(n0 - nw, ne - n0, theta), keep * _limited(t0 - tw, te - t0, theta))


@njit(cache=True)
def _wall_push(h, w, g):
    """Momentum flux beyond h's own pressure g h²/2 that a wall exerts on water of depth ``h``
    moving towards it at ``w``: HLLC between the state and its mirror image, h w (w + s) with
    Toro's speed s = c + w/2 (towards) or c + |w| (away)."""
    s = np.sqrt(g * h) + (0.5 * w if w > 0 else -w)
    return h * w * (w + s)


@njit(cache=True)
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
    inv = 1.0 / span if span > 0 else 0.0
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


@njit(cache=True)
def _face(hw, hl, hr, he, ew, el, er, ee, nw, nl, nr, ne, tw, tl, tr, te, wall_lw, wall, wall_re,
          flat_l, flat_r, psi, g, theta, h_dry):
    """One face between cells L and R, given the depth h, surface e, normal velocity n and
    tangential velocity t of the cells W, L, R, E in a row. Returns the mass flux, the normal
    momentum flux minus L's and minus R's own face pressure, the tangential momentum flux (all
    times the open fraction ``psi``) and R's centred bed-slope term g h_R Δη_R."""
    sh, se, sn, st = _slopes(hl, el, nl, tl, hw, ew, nw, tw, hr, er, nr, tr, wall_lw, wall, flat_l, theta, h_dry)
    h_l = hl + 0.5 * sh
    e_l = el + 0.5 * se
    n_l = nl + 0.5 * sn
    t_l = tl + 0.5 * st
    sh, se, sn, st = _slopes(hr, er, nr, tr, hl, el, nl, tl, he, ee, ne, te, wall, wall_re, flat_r, theta, h_dry)
    h_r = hr - 0.5 * sh
    e_r = er - 0.5 * se
    n_r = nr - 0.5 * sn
    t_r = tr - 0.5 * st
    src_r = g * hr * se
    z_face = max(e_l - h_l, e_r - h_r)
    hs_l = max(0.0, e_l - z_face)
    hs_r = max(0.0, e_r - z_face)
    fh, fm, ft = _hllc(hs_l, n_l, t_l, hs_r, n_r, t_r, g, h_dry)
    moving = psi if (hs_l > h_dry or hs_r > h_dry) else 0.0
    pl = (fm - 0.5 * g * hs_l * hs_l) * moving
    pr = (fm - 0.5 * g * hs_r * hs_r) * moving
    if wall:
        return 0.0, _wall_push(h_l, n_l, g), _wall_push(h_r, -n_r, g), 0.0, src_r
    return fh * moving, pl, pr, ft * moving, src_r


@njit(cache=True)
def _x_face(r, c, cw, ce, h, z, u, v, wx, g, theta, h_dry):
    """The west face of cell (r, c); ``cw``/``ce`` index the cells two west and one east of it."""
    hw, hl, hr, he = h[r, cw], h[r, c - 1], h[r, c], h[r, ce]
    return _face(hw, hl, hr, he, z[r, cw] + hw, z[r, c - 1] + hl, z[r, c] + hr, z[r, ce] + he,
                 u[r, cw], u[r, c - 1], u[r, c], u[r, ce], v[r, cw], v[r, c - 1], v[r, c], v[r, ce],
                 wx[r, c - 1] == 0, wx[r, c] == 0, wx[r, c + 1] == 0, c - 1 == 0, c == h.shape[1] - 1,
                 wx[r, c], g, theta, h_dry)


@njit(cache=True, parallel=True)
def interior_faces(items, h, z, u, v, wx, wy, fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, g, theta, h_dry):
    """Fluxes through the west and north faces of the items' cells (not the grid's edges),
    and the cells' bed-slope terms."""
    ny, nx = h.shape
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        lo = max(c0, 1)
        a = max(c0, 2)
        b = min(c1, nx - 1)
        for c in range(lo, min(a, c1)):  # next to the west edge: indices clamped
            fhx[r, c], plx[r, c], prx[r, c], ftx[r, c], srcx[r, c] = _x_face(
                r, c, max(c - 2, 0), min(c + 1, nx - 1), h, z, u, v, wx, g, theta, h_dry)
        for c in range(a, b):
            fhx[r, c], plx[r, c], prx[r, c], ftx[r, c], srcx[r, c] = _x_face(
                r, c, c - 2, c + 1, h, z, u, v, wx, g, theta, h_dry)
        for c in range(max(a, b, lo), c1):  # the last column
            fhx[r, c], plx[r, c], prx[r, c], ftx[r, c], srcx[r, c] = _x_face(
                r, c, max(c - 2, 0), min(c + 1, nx - 1), h, z, u, v, wx, g, theta, h_dry)
        if r > 0:
            rn = max(r - 2, 0)
            rs = min(r + 1, ny - 1)
            flat_l = r - 1 == 0
            flat_r = r == ny - 1
            for c in range(c0, c1):
                hw, hl, hr, he = h[rn, c], h[r - 1, c], h[r, c], h[rs, c]
                fhy[r, c], ply[r, c], pry[r, c], fty[r, c], srcy[r, c] = _face(
                    hw, hl, hr, he, z[rn, c] + hw, z[r - 1, c] + hl, z[r, c] + hr, z[rs, c] + he,
                    v[rn, c], v[r - 1, c], v[r, c], v[rs, c], u[rn, c], u[r - 1, c], u[r, c], u[rs, c],
                    wy[r - 1, c] == 0, wy[r, c] == 0, wy[r + 1, c] == 0, flat_l, flat_r, wy[r, c], g, theta, h_dry)


@njit(cache=True)
def _edge(kind, stage, h_b, z_b, n_b, t_b, psi, outward, g, h_dry):
    """Flux through a grid edge from its cell (depth, bed, normal and tangential velocity, the
    normal taken positive along the grid axis); ``outward`` is +1 on the east/south edges,
    -1 on the west/north ones. Closed: a wall; open: the cell's state continued outside,
    outflow only; stage: a ghost of the given water-surface elevation over the same bed, with
    the cell's velocity. Returns (mass, momentum minus the cell's pressure, tangential)."""
    if kind == CLOSED or psi == 0:
        return 0.0, _wall_push(h_b, outward * n_b, g), 0.0
    h_g = max(stage - z_b, 0.0) if kind == STAGE else h_b
    if outward > 0:
        fh, fm, ft = _hllc(h_b, n_b, t_b, h_g, n_b, t_b, g, h_dry)
    else:
        fh, fm, ft = _hllc(h_g, n_b, t_b, h_b, n_b, t_b, g, h_dry)
    if kind == OPEN and fh * outward < 0:
        return 0.0, _wall_push(h_b, outward * n_b, g), 0.0
    if not (h_b > h_dry or h_g > h_dry):
        return 0.0, 0.0, 0.0
    return fh * psi, (fm - 0.5 * g * h_b * h_b) * psi, ft * psi


@njit(cache=True)
def boundary_faces(h, z, u, v, phi, wx, wy, kinds, stages, fhx, plx, prx, ftx, fhy, ply, pry, fty, g, h_dry):
    """Fluxes through the four edges of the grid (serial: the perimeter is small)."""
    ny, nx = h.shape
    for r in range(ny):
        for side, c, face, outward in ((WEST, 0, 0, -1.0), (EAST, nx - 1, nx, 1.0)):
            fh, p, ft = 0.0, 0.0, 0.0
            if phi[r, c] > 0:
                fh, p, ft = _edge(kinds[side], stages[side], h[r, c], z[r, c], u[r, c], v[r, c], wx[r, face],
                                  outward, g, h_dry)
            fhx[r, face], plx[r, face], prx[r, face], ftx[r, face] = fh, p, p, ft
    for c in range(nx):
        for side, r, face, outward in ((NORTH, 0, 0, -1.0), (SOUTH, ny - 1, ny, 1.0)):
            fh, p, ft = 0.0, 0.0, 0.0
            if phi[r, c] > 0:
                fh, p, ft = _edge(kinds[side], stages[side], h[r, c], z[r, c], v[r, c], u[r, c], wy[face, c],
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


@njit(cache=True, parallel=True)
def update(items, h, hu, hv, h0, hu0, hv0, weight, h_out, hu_out, hv_out, u_out, v_out, inv_width, n2,
           fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, f_pad, rain, rain_grid, use_grid, dt, dx, g,
           h_dry, final, t_new, max_depth, arrival, arrival_depth, max_speed2, speed_depth, wet, block):
    """One stage: U_out = w U0 + (1 - w) F(U + Δt L(U)), F the implicit friction, with the
    limited fluxes, rain, and velocities u = hu/h (0 where dry). In the ``final`` stage also
    tracks the maxima and first wetting, and flags the wet blocks. Returns the fastest
    max(|u|, |v|) + sqrt(g h) over the items' cells."""
    item_max = np.zeros(items.shape[0])
    rest = 1.0 - weight
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        speed = 0.0
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
            hun = hun if wet_cell else 0.0
            hvn = hvn if wet_cell else 0.0
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
                speed = max(speed, max(abs(un), abs(vn)) + np.sqrt(g * hn) if wet_cell else 0.0)
        if final:
            item_max[it] = speed
            mark_row_wet(h_out, r, c0, c1, h_dry, block, wet)
    return item_max.max() if items.shape[0] > 0 else 0.0


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


class GodunovSolver:
    """The full scheme's state (discharges, velocities, a second stage) and its step."""

    name = "full"

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

    @property
    def face_arrays(self) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """The x-face and y-face arrays that blocks leaving the computation must zero."""
        return self._fx, self._fy

    def wave_speed(self) -> float:
        """The fastest max(|u|, |v|) + sqrt(g h) after the last step (the CFL condition's speed)."""
        return self._speed

    def sources_added(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Recompute velocities where water was added or taken outside the step (inflows)."""
        h = self.h[rows, cols].astype(np.float64)
        wet = h > DRY_DEPTH
        for q, vel in ((self.hu, self.u), (self.hv, self.v)):
            q[rows, cols] = np.where(wet, q[rows, cols], 0)
            vel[rows, cols] = np.where(wet, q[rows, cols] / np.maximum(h, DRY_DEPTH), 0)

    def step(self, dt: float, t_new: float, rain: float, rain_grid: np.ndarray, use_grid: bool,
             kinds: np.ndarray, stages: np.ndarray, items: np.ndarray, wet: np.ndarray, block: int,
             tracks: Tracks) -> tuple[float, float]:
        """Advance by ``dt`` (two stages); returns the volumes (in, out) through the grid's edges."""
        g = self.raster
        fhx, plx, prx, ftx = self._fx
        fhy, ply, pry, fty = self._fy
        srcx, srcy = self._src
        now = (self.h, self.hu, self.hv, self.u, self.v)
        v_in = v_out = 0.0
        for final, (h, hu, hv, u, v), out in ((False, now, self._stage), (True, self._stage, now)):
            boundary_faces(h, g.z, u, v, g.phi, g.wx, g.wy, kinds, stages, fhx, plx, prx, ftx,
                           fhy, ply, pry, fty, self.g, DRY_DEPTH)
            interior_faces(items, h, g.z, u, v, g.wx, g.wy, fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy,
                           self.g, self.theta, DRY_DEPTH)
            outflow_factors(items, h, g.phi, fhx, fhy, dt, g.dx, self._factors)
            speed = update(items, h, hu, hv, *now[:3], 0.5 if final else 0.0, *out, g.inv_width, g.n2,
                           fhx, plx, prx, ftx, fhy, ply, pry, fty, srcx, srcy, self._factors, rain, rain_grid,
                           use_grid, dt, g.dx, self.g, DRY_DEPTH, final, t_new, tracks.max_depth, tracks.arrival,
                           tracks.arrival_depth, tracks.max_speed2, tracks.velocity_depth, wet, block)
            vi, vo = boundary_volumes(fhx, fhy, self._factors, g.dx, dt)
            v_in += 0.5 * vi
            v_out += 0.5 * vo
        self._speed = float(speed)
        return v_in, v_out

    def cell_discharges(self) -> tuple[np.ndarray, np.ndarray]:
        """Discharges per unit width (eastward, southward), m²/s."""
        return self.hu.astype(np.float64), self.hv.astype(np.float64)

    @property
    def diverged(self) -> bool:
        return not np.isfinite(self._speed)
