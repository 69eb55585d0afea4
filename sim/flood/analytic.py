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
