"""Weidmann's fundamental diagram: walking speed and specific flow from crowd density.

Weidmann, U. (1993). Transporttechnik der Fussgänger. Schriftenreihe des IVT Nr. 90,
ETH Zürich: v(ρ) = v₀·(1 − exp(−γ·(1/ρ − 1/ρ_max))), v₀ = 1.34 m/s, γ = 1.913 m⁻²,
ρ_max = 5.4 m⁻²; the specific flow ρ·v(ρ) peaks at about 1.2 persons/(m·s) near 1.8 m⁻².
"""

from __future__ import annotations

import numba
import numpy as np

WEIDMANN_V0 = 1.34
WEIDMANN_GAMMA = 1.913
WEIDMANN_RHO_MAX = 5.4


@numba.njit(cache=True, inline="always")
def weidmann_factor(rho: float) -> float:
    """Fraction of the free speed kept at density ``rho`` (persons/m²), 1 when alone, 0 at ρ_max."""
    if rho <= 1e-6:
        return 1.0
    if rho >= WEIDMANN_RHO_MAX:
        return 0.0
    return 1.0 - np.exp(-WEIDMANN_GAMMA * (1.0 / rho - 1.0 / WEIDMANN_RHO_MAX))


def weidmann_speed(rho: np.ndarray, v0: float = WEIDMANN_V0) -> np.ndarray:
    """Weidmann walking speed (m/s) at densities ``rho`` (persons/m²)."""
    rho = np.asarray(rho, dtype=float)
    with np.errstate(divide="ignore"):
        f = 1.0 - np.exp(-WEIDMANN_GAMMA * (1.0 / rho - 1.0 / WEIDMANN_RHO_MAX))
    return v0 * np.clip(np.where(rho > 0, f, 1.0), 0.0, 1.0)


def weidmann_flow(rho: np.ndarray, v0: float = WEIDMANN_V0) -> np.ndarray:
    """Weidmann specific flow (persons/(m·s)) at densities ``rho``."""
    return np.asarray(rho, dtype=float) * weidmann_speed(rho, v0)
