"""Numba kernels of the local inertial scheme on a raster, parallel over rows.

Fluxes per unit width live on faces: ``qx[r, c]`` crosses the west face of cell (r, c),
positive eastward (towards larger c); ``qy[r, c]`` crosses its north face, positive
southward (towards larger r). ``wx``/``wy`` are the open fractions of the faces and ``phi``
the open fraction of the cells (0 for a wall). The momentum update is Bates, Horritt &
Fewtrell (2010, J. Hydrol. 387:33-45, eq. 7) with the θ-weighted flux of de Almeida,
Bates, Freer & Souvignet (2012, Water Resour. Res. 48, W05528, eq. 13).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

CLOSED, OPEN, STAGE = 0, 1, 2
NORTH, SOUTH, EAST, WEST = 0, 1, 2, 3
_INV_CBRT_MAGIC = np.int64(0x553EF0FF289DD796)  # first guess of x^(-1/3) from x's bits


@intrinsic
def _bits(typingctx, x):
    """The IEEE bits of a float64 as int64 (an LLVM bitcast)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, i):
    """The float64 with the given IEEE bits."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, inline="always")
def _inv_cbrt(x):
    """x^(-1/3) of a positive float64 to 3e-10 relative (friction needs far less): a guess
    from the bits and three Newton steps without division, so that the face loops vectorise
    (libm's cbrt does not, and cost more than all the rest of the kernel)."""
    y = _from_bits(_INV_CBRT_MAGIC - np.int64(np.float64(_bits(x)) * (1 / 3)))
    for _ in range(3):
        y = y * (4.0 - x * y * y * y) * (1 / 3)
    return y


@njit(cache=True, inline="always")
def _flux(q0, q_sides, d_eta, hf, n2, g, dt, dx, theta, half_rest, h_min, fr_max):
    """New flux at one face from its old flux, its neighbours' sum and the surface jump;
    zero where the face is shallower than ``h_min``. Written without branches."""
    hs = max(np.float64(hf), h_min)
    y = _inv_cbrt(hs)
    y2 = y * y
    friction = g * dt * n2 * abs(q0) * (y2 * y2 * y2 * y)  # g Δt n² |q| / h^(7/3)
    q = (theta * q0 + half_rest * q_sides - g * dt / dx * hs * d_eta) / (1.0 + friction)
    if fr_max > 0:
        q_max = fr_max * hs * np.sqrt(g * hs)
        q = min(max(q, -q_max), q_max)
    return q if hf > h_min else 0.0


@njit(cache=True, parallel=True)
def face_fluxes(h, z, n2, wx, wy, qx, qy, qx_new, qy_new, dt, dx, g, theta, h_min, fr_max):
    """Interior face fluxes at the new time level into ``qx_new``/``qy_new``.

    A neighbour face that is a wall (width 0) takes the face's own flux in the θ-average,
    so walls do not drag the flow beside them.
    """
    ny, nx = h.shape
    half_rest = (1 - theta) / 2
    for r in prange(ny):
        for c in range(1, nx):
            zl = z[r, c - 1]
            zr = z[r, c]
            el = zl + h[r, c - 1]
            er = zr + h[r, c]
            hf = max(el, er) - max(zl, zr)
            hf = hf if wx[r, c] > 0 else 0.0
            q0 = qx[r, c]
            ql = qx[r, c - 1]  # loads kept out of the selects below, so that the loop vectorises
            qr = qx[r, c + 1]
            q_sides = (ql if wx[r, c - 1] > 0 else q0) + (qr if wx[r, c + 1] > 0 else q0)
            qx_new[r, c] = _flux(q0, q_sides, er - el, hf,
                                 0.5 * (n2[r, c - 1] + n2[r, c]), g, dt, dx, theta, half_rest,
                                 h_min, fr_max)
        if r > 0:
            for c in range(nx):
                zn = z[r - 1, c]
                zs = z[r, c]
                en = zn + h[r - 1, c]
                es = zs + h[r, c]
                hf = max(en, es) - max(zn, zs)
                hf = hf if wy[r, c] > 0 else 0.0
                q0 = qy[r, c]
                qn = qy[r - 1, c]
                qs = qy[r + 1, c]
                q_sides = (qn if wy[r - 1, c] > 0 else q0) + (qs if wy[r + 1, c] > 0 else q0)
                qy_new[r, c] = _flux(q0, q_sides, es - en, hf,
                                     0.5 * (n2[r - 1, c] + n2[r, c]), g, dt, dx, theta, half_rest,
                                     h_min, fr_max)


@njit(cache=True)
def _edge_flux(kind, stage, q_out0, h_b, z_b, eta_in, has_in, n2, dt, dx, g, h_min, fr_max):
    """Outward flux at a grid edge: 0 when closed, surface slope extrapolated when open
    (outflow only), or driven by a water-surface elevation in a ghost cell one cell outside
    (stage; half a cell would double the face's stiffness and ring against the CFL step)."""
    eta_b = z_b + h_b
    if kind == STAGE:
        hf = max(eta_b, stage) - z_b
        d_eta = stage - eta_b
    elif kind == OPEN:
        hf = h_b
        d_eta = eta_b - eta_in if has_in else 0.0
    else:
        return 0.0
    if hf <= h_min:
        return 0.0
    q = _flux(q_out0, 0.0, d_eta, hf, n2, g, dt, dx, 1.0, 0.0, h_min, fr_max)
    if kind == OPEN and q < 0:
        return 0.0
    return q


@njit(cache=True)
def boundary_fluxes(h, z, n2, phi, qx, qy, qx_new, qy_new, kinds, stages, dt, dx, g, h_min, fr_max):
    """Fluxes through the four edges of the grid (serial: the perimeter is small)."""
    ny, nx = h.shape
    for c in range(nx):
        for side, r, r_in, sign in ((NORTH, 0, 1, -1), (SOUTH, ny - 1, ny - 2, 1)):
            face = 0 if side == NORTH else ny
            q = 0.0
            if phi[r, c] > 0 and kinds[side] != CLOSED:
                has_in = 0 <= r_in < ny and phi[r_in, c] > 0
                eta_in = z[r_in, c] + h[r_in, c] if has_in else 0.0
                q = sign * _edge_flux(kinds[side], stages[side], sign * qy[face, c], h[r, c], z[r, c],
                                      eta_in, has_in, n2[r, c], dt, dx, g, h_min, fr_max)
            qy_new[face, c] = q
    for r in range(ny):
        for side, c, c_in, sign in ((WEST, 0, 1, -1), (EAST, nx - 1, nx - 2, 1)):
            face = 0 if side == WEST else nx
            q = 0.0
            if phi[r, c] > 0 and kinds[side] != CLOSED:
                has_in = 0 <= c_in < nx and phi[r, c_in] > 0
                eta_in = z[r, c_in] + h[r, c_in] if has_in else 0.0
                q = sign * _edge_flux(kinds[side], stages[side], sign * qx[r, face], h[r, c], z[r, c],
                                      eta_in, has_in, n2[r, c], dt, dx, g, h_min, fr_max)
            qx_new[r, face] = q


@njit(cache=True, parallel=True)
def outflow_factors(h, phi, wx, wy, qx, qy, dt, dx, f_pad):
    """The share of its outgoing fluxes each cell can deliver this step without running dry:
    1, or held volume / outgoing volume. ``f_pad`` has a border of ones (the outside)."""
    ny, nx = h.shape
    for r in prange(ny):
        for c in range(nx):
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
def update_depth(h, inv_width, wx, wy, qx, qy, f_pad, qx_out, qy_out, rain, rain_grid, use_grid, dt,
                 t_new, max_depth, arrival, arrival_depth, max_speed2, speed_depth, row_max):
    """Depth from the flux divergence and rain, with each face's flux scaled by its upstream
    cell's outflow factor (so no cell goes below zero); the scaled fluxes go to
    ``qx_out``/``qy_out``. Tracks the maximum depth and speed² and the first time deeper
    than ``arrival_depth`` (``arrival`` holds +inf until then).

    ``inv_width`` is 1 / (open fraction · Δx), zero on walls. Returns the largest depth.
    """
    ny, nx = h.shape
    for r in prange(ny):
        for c in range(nx):
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
        qe = qx[r, nx]
        qx_out[r, nx] = qe * (f_pad[r + 1, nx] if qe > 0 else 1.0)
        if r == ny - 1:
            for c in range(nx):
                qs = qy[ny, c]
                qy_out[ny, c] = qs * (f_pad[ny, c + 1] if qs > 0 else 1.0)
        m = h[r, 0]
        for c in range(1, nx):
            m = max(m, h[r, c])
        row_max[r] = m
    return row_max.max()
