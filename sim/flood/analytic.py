"""Analytical solutions of the shallow water equations that the engine is checked against."""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad

G = 9.81


def ritter(x: np.ndarray, t: float, h0: float, g: float = G) -> tuple[np.ndarray, np.ndarray]:
    """Depth and velocity of Ritter's dry dam break, dam at x = 0, depth ``h0`` for x < 0.

    Ritter (1892); as in SWASHES (Delestre et al. 2013, Int. J. Numer. Meth. Fluids 72:269-300).
    """
    x = np.asarray(x, dtype=np.float64)
    c0 = np.sqrt(g * h0)
    if t <= 0:
        return np.where(x < 0, h0, 0.0), np.zeros_like(x)
    xi = x / t
    fan = (xi >= -c0) & (xi <= 2 * c0)
    h = np.where(xi < -c0, h0, np.where(fan, (2 * c0 - xi) ** 2 / (9 * g), 0.0))
    u = np.where(fan, 2.0 / 3.0 * (xi + c0), 0.0)
    return h, u


def thacker_planar(x: np.ndarray, t: float, d0: float = 4.0, length: float = 10.0, amplitude: float = 2.0,
                   g: float = G) -> tuple[np.ndarray, np.ndarray, float]:
    """Bed, depth and the (uniform) velocity of Thacker's planar surface in a parabolic bowl.

    Bed z = D0 x²/L²; the water is the lens D0/L²·(L² − (x − A cos ωt)²) with ω = sqrt(2 g D0)/L
    and u = −A ω sin ωt (Thacker 1981, J. Fluid Mech. 107:499-508; SWASHES section 4.2.2).
    """
    x = np.asarray(x, dtype=np.float64)
    omega = thacker_omega(d0, length, g)
    bed = d0 * x**2 / length**2
    centre = amplitude * np.cos(omega * t)
    depth = np.maximum(d0 / length**2 * (length**2 - (x - centre) ** 2), 0.0)
    return bed, depth, float(-amplitude * omega * np.sin(omega * t))


def thacker_omega(d0: float = 4.0, length: float = 10.0, g: float = G) -> float:
    """Angular frequency of Thacker's planar oscillation, ω = sqrt(2 g D0) / L."""
    return float(np.sqrt(2 * g * d0) / length)


MACDONALD_BASE = (4 / G) ** (1 / 3)  # SWASHES' base depth, critical for q = 2 m²/s


def macdonald_depth(x: np.ndarray, length: float = 1000.0, base: float = MACDONALD_BASE) -> np.ndarray:
    """Steady depth of SWASHES' long subcritical MacDonald channels:
    h(x) = a (1 + ½ exp(−16 (x/L − ½)²)) with a = (4/g)^(1/3) (Delestre et al. 2013, sections
    3.1.3-3.1.4); a larger base depth ``a`` gives the same profile at a lower Froude number."""
    x = np.asarray(x, dtype=np.float64)
    return base * (1 + 0.5 * np.exp(-16 * (x / length - 0.5) ** 2))


def _macdonald_slope(x: float, q0: float, rain: float, n: float, length: float, g: float, base: float) -> float:
    """dz/dx that makes ``macdonald_depth`` the steady solution of the full shallow water
    equations with Manning friction and rain ``rain`` (m/s) adding mass but no momentum:
    z' = (q²/(g h³) − 1) h' − n² q|q| / h^(10/3) − 2 q R / (g h²), with q = q0 + R x."""
    h = float(macdonald_depth(x, length, base))
    dh = base * 0.5 * np.exp(-16 * (x / length - 0.5) ** 2) * (-32 * (x / length - 0.5) / length)
    q = q0 + rain * x
    return (q * q / (g * h**3) - 1) * dh - n * n * q * abs(q) / h ** (10 / 3) - 2 * q * rain / (g * h * h)


def macdonald_bed(x: np.ndarray, q0: float, rain: float = 0.0, n: float = 0.033, length: float = 1000.0,
                  g: float = G, base: float = MACDONALD_BASE) -> np.ndarray:
    """Bed elevation (zero at x = L) of the MacDonald long channel with inflow ``q0`` m²/s and
    rain ``rain`` m/s (SWASHES: q0 = 2, no rain; q0 = 1, rain 0.001 m/s)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    return np.array([-quad(_macdonald_slope, xi, length, args=(q0, rain, n, length, g, base),
                           epsabs=1e-12, epsrel=1e-12)[0] for xi in x])


def stoker(x: np.ndarray, t: float, h_left: float, h_right: float, g: float = G) -> tuple[np.ndarray, np.ndarray]:
    """Depth and velocity of Stoker's wet dam break (dam at x = 0, depths ``h_left`` > ``h_right``
    > 0, flat frictionless bed): a rarefaction, a plateau of depth c_m²/g and a shock (Stoker
    1957, *Water Waves*; SWASHES section 4.1.1, Delestre et al. 2013)."""
    x = np.asarray(x, dtype=np.float64)
    cl = np.sqrt(g * h_left)
    cm = stoker_plateau_celerity(h_left, h_right, g)
    if t <= 0:
        return np.where(x < 0, h_left, h_right), np.zeros_like(x)
    xi = x / t
    fan = (xi >= -cl) & (xi <= 2 * cl - 3 * cm)
    plateau = (xi > 2 * cl - 3 * cm) & (xi <= stoker_shock_speed(h_left, h_right, g))
    h = np.where(xi < -cl, h_left, np.where(fan, 4 / (9 * g) * (cl - xi / 2) ** 2,
                                             np.where(plateau, cm * cm / g, h_right)))
    u = np.where(fan, 2 / 3 * (xi + cl), np.where(plateau, 2 * (cl - cm), 0.0))
    return h, u


def stoker_plateau_celerity(h_left: float, h_right: float, g: float = G) -> float:
    """c_m = sqrt(g h_m) of the plateau behind Stoker's shock, the root in (c_right, c_left) of
    −8 g h_r c_m² (c_l − c_m)² + (c_m² − g h_r)² (c_m² + g h_r) = 0: the rarefaction's
    u_m = 2 (c_l − c_m) equal to the shock's (h_m − h_r) sqrt(g (h_m + h_r) / (2 h_m h_r))."""
    from scipy.optimize import brentq

    cl = np.sqrt(g * h_left)

    def residual(cm: float) -> float:
        return -8 * g * h_right * cm**2 * (cl - cm) ** 2 + (cm**2 - g * h_right) ** 2 * (cm**2 + g * h_right)

    return float(brentq(residual, np.sqrt(g * h_right), np.sqrt(g * h_left), xtol=1e-14))


def stoker_shock_speed(h_left: float, h_right: float, g: float = G) -> float:
    """Speed of Stoker's shock, 2 c_m² (c_l − c_m) / (c_m² − g h_r) (mass conservation across it)."""
    cm = stoker_plateau_celerity(h_left, h_right, g)
    return float(2 * cm**2 * (np.sqrt(g * h_left) - cm) / (cm**2 - g * h_right))


BUMP_LENGTH = 25.0  # m, SWASHES' channel over a parabolic bump


def bump_bed(x: np.ndarray) -> np.ndarray:
    """SWASHES' bump (Goutal & Maurel 1997): z = 0.2 − 0.05 (x − 10)² for 8 < x < 12, else 0."""
    x = np.asarray(x, dtype=np.float64)
    return np.where((x > 8) & (x < 12), 0.2 - 0.05 * (x - 10) ** 2, 0.0)


def _bernoulli_roots(z: float, q: float, energy: float, g: float) -> np.ndarray:
    """Positive real depths h with h + q²/(2 g h²) + z = ``energy``: roots of
    h³ + (z − E) h² + q²/(2g) = 0, ascending (supercritical first)."""
    roots = np.roots([1.0, z - energy, 0.0, q * q / (2 * g)])
    real = np.sort(roots[(np.abs(roots.imag) < 1e-9) & (roots.real > 0)].real)
    return real


def bump_depth(x: np.ndarray, q: float, h_out: float | None, g: float = G) -> np.ndarray:
    """Steady depth over SWASHES' bump (Delestre et al. 2013, sections 3.1.1-3.1.3) for
    discharge ``q`` m²/s and downstream depth ``h_out``:

    - subcritical throughout when ``h_out`` makes the flow subcritical over the crest
      (SWASHES: q = 4.42, h_out = 2);
    - transcritical, critical at the crest (x = 10), without shock when ``h_out`` is None
      (free supercritical outflow; SWASHES: q = 1.53);
    - transcritical with a hydraulic jump where the supercritical branch's momentum flux
      q²/h + g h²/2 equals the downstream subcritical one's (SWASHES: q = 0.18, h_out = 0.33).
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    z = bump_bed(x)
    h_crit = (q * q / g) ** (1 / 3)
    sub_energy = None if h_out is None else h_out + q * q / (2 * g * h_out**2)
    crit_energy = 1.5 * h_crit + 0.2  # critical depth at the crest, z_M = 0.2
    if sub_energy is not None and sub_energy >= crit_energy:
        return np.array([_bernoulli_roots(zi, q, sub_energy, g)[-1] for zi in z])
    upstream = np.array([_bernoulli_roots(zi, q, crit_energy, g)[-1] for zi in z])
    downstream = np.array([_bernoulli_roots(zi, q, crit_energy, g)[0] if zi < 0.2 else h_crit for zi in z])
    trans = np.where(x <= 10, upstream, downstream)
    if sub_energy is None:
        return trans
    jump = bump_jump(q, h_out, g)
    after = np.array([_bernoulli_roots(zi, q, sub_energy, g)[-1] if xi >= jump else np.nan for xi, zi in zip(x, z)])
    return np.where(x < jump, trans, after)


def bump_jump(q: float, h_out: float, g: float = G) -> float:
    """Position of the hydraulic jump over SWASHES' bump (x > 10, where the supercritical
    branch's momentum flux q²/h + g h²/2 meets the subcritical one's)."""
    from scipy.optimize import brentq

    h_crit = (q * q / g) ** (1 / 3)
    crit_energy = 1.5 * h_crit + 0.2
    sub_energy = h_out + q * q / (2 * g * h_out**2)

    def momentum_gap(x: float) -> float:
        zi = float(bump_bed(x))
        h1 = _bernoulli_roots(zi, q, crit_energy, g)[0]
        h2 = _bernoulli_roots(zi, q, sub_energy, g)[-1]
        return (q * q / h1 + g * h1 * h1 / 2) - (q * q / h2 + g * h2 * h2 / 2)

    # the subcritical branch exists only where the bed is below E_sub − 3/2 h_c
    lowest = 10 + np.sqrt(max(0.0, 0.2 - (sub_energy - 1.5 * h_crit)) / 0.05) + 1e-9
    return float(brentq(momentum_gap, lowest, BUMP_LENGTH))


def thacker_planar_2d(x: np.ndarray, y: np.ndarray, t: float, h0: float = 0.1, a: float = 1.0,
                      eta: float = 0.5, heading: float = np.pi / 4, centre: tuple[float, float] = (2.0, 2.0),
                      g: float = G) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Bed, depth and (uniform) velocity (u, v) of Thacker's planar surface in a paraboloid,
    released from rest: bed z = −h0 (1 − r²/a²); the water is the cap h0/a² (a² − |P − d(t)|²)
    whose centre d(t) = η cos(ωt) (cos φ, sin φ) swings through the bowl's centre along the
    heading φ, ω = sqrt(2 g h0)/a; u = −η ω sin(ωt) cos φ, v = −η ω sin(ωt) sin φ (Thacker 1981,
    J. Fluid Mech. 107:499-508; the paraboloid of SWASHES section 4.2.2, h0 = 0.1, a = 1, η = 0.5
    on [0, 4]², whose rotating member needs an initial velocity; this member starts at rest)."""
    x = np.asarray(x, dtype=np.float64) - centre[0]
    y = np.asarray(y, dtype=np.float64) - centre[1]
    omega = np.sqrt(2 * g * h0) / a
    bed = -h0 * (1 - (x * x + y * y) / a**2)
    swing = eta * np.cos(omega * t)
    dx_, dy_ = swing * np.cos(heading), swing * np.sin(heading)
    depth = np.maximum(h0 / a**2 * (a**2 - (x - dx_) ** 2 - (y - dy_) ** 2), 0.0)
    speed = -eta * omega * np.sin(omega * t)
    return bed, depth, float(speed * np.cos(heading)), float(speed * np.sin(heading))
