"""Walking in water: speed factor from depth, zero at a profile's depth limit.

The default law is linear, f(d) = 1 − d/d_lim: an adult with the 0.5 m limit walks at half
speed in 0.25 m. The limits follow Japanese guidance: Tokyo's disaster guidance takes knee
depth (about 0.5 m) as the limit for walking, and the Isewan typhoon survey found adults
found walking hard above about 0.3 m, which we use for the elderly and people needing help.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def water_factor(depth: float, limit: float) -> float:
    """Fraction of the free speed kept in water of ``depth`` (m); 0 at or beyond ``limit``."""
    if depth <= 0.0:
        return 1.0
    if depth >= limit:
        return 0.0
    return 1.0 - depth / limit


def water_factor_grid(depth: np.ndarray, limit: float) -> np.ndarray:
    """``water_factor`` over a depth grid; NaN counts as dry."""
    d = np.nan_to_num(np.asarray(depth, dtype=np.float32), nan=0.0)
    return np.clip(1.0 - d / np.float32(limit), 0.0, 1.0).astype(np.float32)
