"""The local inertial scheme on a raster: numba kernels over work items of active cells.

Fluxes per unit width live on faces: ``qx[r, c]`` crosses the west face of cell (r, c),
positive eastward (towards larger c); ``qy[r, c]`` crosses its north face, positive
southward (towards larger r). The momentum update is Bates, Horritt & Fewtrell (2010,
J. Hydrol. 387:33-45, eq. 7) with the θ-weighted flux of de Almeida, Bates, Freer &
Souvignet (2012, Water Resour. Res. 48, W05528, eq. 13). Manning friction acts on the
discharge's magnitude at the face, the face's own discharge combined with the mean of the
four crossing it (as itzi does: Courty, Pedrozo-Acuña & Bates 2017, Geosci. Model Dev.
10:1835-1847), so that flow along a diagonal meets the resistance it should.

Work items are ``(row, c0, c1)``: a kernel computes the cells c0 <= c < c1 of that row, their
west and north faces (see :mod:`sim.flood.blocks`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from sim.flood.blocks import BLOCK, add_water, largest, mark_row_spans, zero_faces
from sim.flood.friction import inv_pow_7_3
from sim.flood.raster import Raster, Tracks

CLOSED, OPEN, STAGE, DISCHARGE = 0, 1, 2, 3
REACH = 1  # cells water may cross in a step: a face carries flow only if one of its cells holds water
NORTH, SOUTH, EAST, WEST = 0, 1, 2, 3


@njit(cache=True, inline="always")
def _flux(q0, q_sides, q_norm, d_eta, hf, n2, g, dt, dx, theta, half_rest, h_min, fr_max):
    """New flux at one face from its old flux, its neighbours' sum, the old discharge magnitude
    there and the surface jump; zero where the face is shallower than ``h_min``. Branch-free, in
    the precision of ``q0`` where every argument has it."""
    real = type(q0)
    hs = max(hf, h_min)
    friction = g * dt * n2 * q_norm * inv_pow_7_3(hs)  # g Δt n² |q| / h^(7/3)
    q = (theta * q0 + half_rest * q_sides - g * dt / dx * hs * d_eta) / (real(1.0) + friction)
    if fr_max > 0:
        q_max = fr_max * hs * np.sqrt(g * hs)
        q = min(max(q, -q_max), q_max)
    return q if hf > h_min else real(0.0)


@njit(cache=True, parallel=True)
def face_fluxes(items, h, z, n2, wx, wy, qx, qy, qx_new, qy_new, dt, dx, g, theta, h_min, fr_max):
    """Interior face fluxes at the new time level into ``qx_new``/``qy_new``, computed in the
    grid's precision (float32 rounding is far below the model's error, and a float32 grid's
    faces then take 16 vector lanes, not 8).

    A neighbour face that is a wall (width 0) takes the face's own flux in the θ-average,
    so walls do not drag the flow beside them.
    """
    real = qx_new.dtype.type
    dt_, dx_, g_, theta_, h_min_, fr_max_ = real(dt), real(dx), real(g), real(theta), real(h_min), real(fr_max)
    half_rest = real((1 - theta) / 2)
    zero, quarter, half = real(0.0), real(0.25), real(0.5)
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        for c in range(max(c0, np.uint32(1)), c1):
            zl = z[r, c - 1]
            zr = z[r, c]
            el = zl + h[r, c - 1]
            er = zr + h[r, c]
            hf = max(el, er) - max(zl, zr)
            hf = hf if wx[r, c] > 0 else zero
            q0 = qx[r, c]
            ql = qx[r, c - 1]  # loads kept out of the selects below, so that the loop vectorises
            qr = qx[r, c + 1]
            q_sides = (ql if wx[r, c - 1] > 0 else q0) + (qr if wx[r, c + 1] > 0 else q0)
            q_cross = quarter * (qy[r, c - 1] + qy[r + 1, c - 1] + qy[r, c] + qy[r + 1, c])
            qx_new[r, c] = _flux(q0, q_sides, np.sqrt(q0 * q0 + q_cross * q_cross), er - el, hf,
                                 half * (n2[r, c - 1] + n2[r, c]), g_, dt_, dx_, theta_, half_rest, h_min_, fr_max_)
        if r > 0:
            for c in range(c0, c1):
                zn = z[r - 1, c]
                zs = z[r, c]
                en = zn + h[r - 1, c]
                es = zs + h[r, c]
                hf = max(en, es) - max(zn, zs)
                hf = hf if wy[r, c] > 0 else zero
                q0 = qy[r, c]
                qn = qy[r - 1, c]
                qs = qy[r + 1, c]
                q_sides = (qn if wy[r - 1, c] > 0 else q0) + (qs if wy[r + 1, c] > 0 else q0)
                q_cross = quarter * (qx[r - 1, c] + qx[r - 1, c + 1] + qx[r, c] + qx[r, c + 1])
                qy_new[r, c] = _flux(q0, q_sides, np.sqrt(q0 * q0 + q_cross * q_cross), es - en, hf,
                                     half * (n2[r - 1, c] + n2[r, c]), g_, dt_, dx_, theta_, half_rest, h_min_,
                                     fr_max_)


@njit(cache=True)
def _edge_flux(kind, value, q_out0, h_b, z_b, eta_in, has_in, n2, dt, dx, g, h_min, fr_max):
    """Outward flux at a grid edge: 0 when closed, surface slope extrapolated when open
    (outflow only), driven by a water-surface elevation ``value`` in a ghost cell one cell
    outside (stage; half a cell would double the face's stiffness and ring against the CFL
    step), or the given inward unit discharge ``value`` (discharge)."""
    if kind == DISCHARGE:
        return -value
    eta_b = z_b + h_b
    if kind == STAGE:
        hf = max(eta_b, value) - z_b
        d_eta = value - eta_b
    elif kind == OPEN:
        hf = h_b
        d_eta = eta_b - eta_in if has_in else 0.0
    else:
        return 0.0
    if hf <= h_min:
        return 0.0
    q = _flux(q_out0, 0.0, abs(q_out0), d_eta, hf, n2, g, dt, dx, 1.0, 0.0, h_min, fr_max)
    if kind == OPEN and q < 0:
        return 0.0
    return q


@njit(cache=True)
def boundary_fluxes(h, z, n2, phi, qx, qy, qx_new, qy_new, kinds, values, dt, dx, g, h_min, fr_max):
    """Fluxes through the four edges of the grid (serial: the perimeter is small); ``values``
    holds each side's stage (m) or inward unit discharge (m²/s)."""
    ny, nx = h.shape
    for c in range(nx):
        for side, r, r_in, sign in ((NORTH, 0, 1, -1), (SOUTH, ny - 1, ny - 2, 1)):
            face = 0 if side == NORTH else ny
            q = 0.0
            if phi[r, c] > 0 and kinds[side] != CLOSED:
                has_in = 0 <= r_in < ny and phi[r_in, c] > 0
                eta_in = z[r_in, c] + h[r_in, c] if has_in else 0.0
                q = sign * _edge_flux(kinds[side], values[side], sign * qy[face, c], h[r, c], z[r, c],
                                      eta_in, has_in, n2[r, c], dt, dx, g, h_min, fr_max)
            qy_new[face, c] = q
    for r in range(ny):
        for side, c, c_in, sign in ((WEST, 0, 1, -1), (EAST, nx - 1, nx - 2, 1)):
            face = 0 if side == WEST else nx
            q = 0.0
            if phi[r, c] > 0 and kinds[side] != CLOSED:
                has_in = 0 <= c_in < nx and phi[r, c_in] > 0
                eta_in = z[r, c_in] + h[r, c_in] if has_in else 0.0
                q = sign * _edge_flux(kinds[side], values[side], sign * qx[r, face], h[r, c], z[r, c],
                                      eta_in, has_in, n2[r, c], dt, dx, g, h_min, fr_max)
            qx_new[r, face] = q


@njit(cache=True, parallel=True)
def outflow_factors(items, h, phi, wx, wy, qx, qy, dt, dx, f_pad):
    """The share of its outgoing fluxes each cell can deliver this step without running dry:
    1, or held volume / outgoing volume. ``f_pad`` has a border of ones (the outside)."""
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        for c in range(c0, c1):
            qw = qx[r, c]
            qe = qx[r, c + 1]
            qn = qy[r, c]
            qs = qy[r + 1, c]
            out = (max(-qw, 0.0) * wx[r, c] + max(qe, 0.0) * wx[r, c + 1]
                   + max(-qn, 0.0) * wy[r, c] + max(qs, 0.0) * wy[r + 1, c]) * dt
            held = h[r, c] * phi[r, c] * dx
            f_pad[r + 1, c + 1] = min(1.0, held / max(out, 1e-300))


@njit(cache=True)
def boundary_volumes(wx, wy, qx, qy, dx, dt):
    """Volumes (in, out) in m³ that crossed the grid edges during one step."""
    ny = wx.shape[0]
    nx = wy.shape[1]
    v_in = 0.0
    v_out = 0.0
    for r in range(ny):
        west = qx[r, 0] * wx[r, 0]
        east = -qx[r, nx] * wx[r, nx]
        for v in (west, east):
            if v > 0:
                v_in += v
            else:
                v_out -= v
    for c in range(nx):
        north = qy[0, c] * wy[0, c]
        south = -qy[ny, c] * wy[ny, c]
        for v in (north, south):
            if v > 0:
                v_in += v
            else:
                v_out -= v
    return v_in * dx * dt, v_out * dx * dt


@njit(cache=True, parallel=True)
def update_depth(items, h, inv_width, wx, wy, qx, qy, f_pad, qx_out, qy_out, rain, rain_grid, use_grid, dt,
                 t_new, max_depth, arrival, arrival_depth, max_speed2, speed_depth, wet, spans, wet_depth, block, track):
    """Depth from the flux divergence and rain, with each face's flux scaled by its upstream
    cell's outflow factor (so no cell goes below zero); the scaled fluxes go to
    ``qx_out``/``qy_out``. Tracks the maximum depth and speed² and the first time deeper
    than ``arrival_depth`` (``arrival`` holds +inf until then), and flags in ``wet`` (if
    ``track``) the blocks left with water deeper than ``wet_depth``, writing where it lies in
    each row into ``spans`` (:func:`sim.flood.blocks.mark_row_spans`).

    ``inv_width`` is 1 / (open fraction · Δx), zero on walls. Returns the largest depth.
    """
    ny, nx = h.shape
    item_max = np.zeros(items.shape[0])
    for it in prange(items.shape[0]):
        r, c0, c1 = items[it, 0], items[it, 1], items[it, 2]
        for c in range(c0, c1):
            f = f_pad[r + 1, c + 1]
            f_w = f_pad[r + 1, c]
            f_e = f_pad[r + 1, c + 2]
            f_n = f_pad[r, c + 1]
            f_s = f_pad[r + 2, c + 1]
            qw = qx[r, c]
            qe = qx[r, c + 1]
            qn = qy[r, c]
            qs = qy[r + 1, c]
            qw = qw * (f_w if qw > 0 else f)
            qe = qe * (f if qe > 0 else f_e)
            qn = qn * (f_n if qn > 0 else f)
            qs = qs * (f if qs > 0 else f_s)
            qx_out[r, c] = qw
            qy_out[r, c] = qn
            iw = inv_width[r, c]
            src = rain + rain_grid[r, c] if use_grid else rain
            div = (qw * wx[r, c] - qe * wx[r, c + 1] + qn * wy[r, c] - qs * wy[r + 1, c]) * iw
            hn = max(h[r, c] + dt * (div + src), 0.0)
            hn = hn if iw > 0 else 0.0
            h[r, c] = hn
            max_depth[r, c] = max(max_depth[r, c], hn)
            a = arrival[r, c]
            arrival[r, c] = t_new if (hn > arrival_depth and a > t_new) else a
            inv_h = 1.0 / max(hn, speed_depth)
            s2 = ((qw + qe) * (qw + qe) + (qn + qs) * (qn + qs)) * (0.25 * inv_h * inv_h)
            m2 = max_speed2[r, c]
            max_speed2[r, c] = max(m2, s2) if hn > speed_depth else m2
        if c1 == nx:
            qe = qx[r, nx]
            qx_out[r, nx] = qe * (f_pad[r + 1, nx] if qe > 0 else 1.0)
        if r == ny - 1:
            for c in range(c0, c1):
                qs = qy[ny, c]
                qy_out[ny, c] = qs * (f_pad[ny, c + 1] if qs > 0 else 1.0)
        item_max[it] = mark_row_spans(h, r, c0, c1, wet_depth, block, REACH, wet, spans, track)
    return largest(item_max)


@njit(cache=True)
def advance(items, h, z, n2, phi, wx, wy, inv_width, qx, qy, qx_new, qy_new, f_pad, rain, rain_grid, use_grid,
            kinds, values, dt, dx, g, theta, h_min, fr_max, t_new, max_depth, arrival, arrival_depth, max_speed2,
            speed_depth, wet, spans, block, track):
    """One step: new face fluxes (interior and edges), outflow limits, depths. The limited fluxes
    overwrite the old ones in ``qx``/``qy``. Returns the volumes (in, out) through the grid's
    edges and the largest depth."""
    face_fluxes(items, h, z, n2, wx, wy, qx, qy, qx_new, qy_new, dt, dx, g, theta, h_min, fr_max)
    boundary_fluxes(h, z, n2, phi, qx, qy, qx_new, qy_new, kinds, values, dt, dx, g, h_min, fr_max)
    outflow_factors(items, h, phi, wx, wy, qx_new, qy_new, dt, dx, f_pad)
    h_max = update_depth(items, h, inv_width, wx, wy, qx_new, qy_new, f_pad, qx, qy, rain, rain_grid, use_grid, dt,
                         t_new, max_depth, arrival, arrival_depth, max_speed2, speed_depth, wet, spans, 0.5 * h_min,
                         block, track)
    v_in, v_out = boundary_volumes(wx, wy, qx, qy, dx, dt)
    return v_in, v_out, h_max


class InertialSolver:
    """The local inertial scheme's state (the face discharges) and its step."""

    name = "inertial"
    reach = REACH
    block = BLOCK

    def __init__(self, raster: Raster, h: np.ndarray, theta: float, h_min: float, froude_max: float | None,
                 gravity: float) -> None:
        ny, nx = raster.shape
        dtype = h.dtype
        self.raster = raster
        self.h = h
        self.theta, self.h_min, self.fr_max, self.g = theta, h_min, froude_max or 0.0, gravity
        self.qx = np.zeros((ny, nx + 1), dtype)
        self.qy = np.zeros((ny + 1, nx), dtype)
        self._qx_new = np.zeros_like(self.qx)
        self._qy_new = np.zeros_like(self.qy)
        self._factors = np.ones((ny + 2, nx + 2), dtype)
        self._h_max = float(h.max())

    @property
    def quiet_depth(self) -> float:
        """Water this shallow moves nowhere: every face around it carries nothing. Half of
        ``h_min``, since a face's depth max(η_L, η_R) - max(z_L, z_R) is computed from rounded
        levels and may exceed its cells' depths by an ulp of the level (2e-6 m at 20 m in float32)."""
        return 0.5 * self.h_min

    def stop(self, stopped: np.ndarray, block: int) -> None:
        """Leave the blocks ``stopped`` (block row, block col) out from now on: zero their faces."""
        zero_faces(stopped, block, (self.qx, self._qx_new), (self.qy, self._qy_new))

    def add_inflow(self, rows: np.ndarray, cols: np.ndarray, area: np.ndarray, volume: float) -> float:
        """Add (or take) ``volume`` m³ in each listed cell of open area ``area`` (the face
        discharges, the rest of the state, stay); returns the volume added as stored."""
        return add_water(self.h, rows, cols, area, volume)

    def wave_speed(self) -> float:
        """The fastest gravity wave, sqrt(g h_max), that sets the step (Bates et al. 2010, eq. 12)."""
        return float(np.sqrt(self.g * self._h_max))

    def step(self, dt: float, t_new: float, rain: float, rain_grid: np.ndarray, use_grid: bool,
             kinds: np.ndarray, values: np.ndarray, items: np.ndarray, wet: np.ndarray, block: int, track: bool,
             tracks: Tracks, spans: np.ndarray) -> tuple[float, float]:
        """Advance the depths by ``dt``; returns the volumes (in, out) through the grid's edges. The
        depth update records in ``spans`` where the water lies (:class:`sim.flood.blocks.ActiveBlocks`)."""
        g = self.raster
        v_in, v_out, h_max = advance(
            items, self.h, g.z, g.n2, g.phi, g.wx, g.wy, g.inv_width, self.qx, self.qy, self._qx_new, self._qy_new,
            self._factors, rain, rain_grid, use_grid, kinds, values, dt, g.dx, self.g, self.theta, self.h_min,
            self.fr_max, t_new, tracks.max_depth, tracks.arrival, tracks.arrival_depth, tracks.max_speed2,
            tracks.velocity_depth, wet, spans, block, track)
        self._h_max = float(h_max)
        return v_in, v_out

    def state(self) -> tuple[dict[str, np.ndarray], float]:
        """Copies of the face discharges, and the largest depth that sets the next step."""
        return {"qx": self.qx.copy(), "qy": self.qy.copy()}, self._h_max

    def restore(self, arrays: dict[str, np.ndarray], wave_depth: float) -> None:
        """Take the face discharges and largest depth of :meth:`state` (``h`` is the model's)."""
        self.qx[...] = arrays["qx"]
        self.qy[...] = arrays["qy"]
        self._qx_new[...] = 0
        self._qy_new[...] = 0
        self._h_max = wave_depth

    def cell_discharges(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centred discharges per unit width (eastward, southward), m²/s: the mean of the
        two faces' in each direction."""
        qx = self.qx.astype(np.float64)
        qy = self.qy.astype(np.float64)
        return 0.5 * (qx[:, :-1] + qx[:, 1:]), 0.5 * (qy[:-1] + qy[1:])

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self._h_max)
