"""Pedestrian profiles: free-speed and pre-evacuation delay distributions, water limits.

Free speeds: Weidmann (1993) gives 1.34 ± 0.26 m/s for adults; Japanese planning uses
1.0 m/s for walking evacuees (Miyagi tsunami guideline; the FDMA manual gives 1.1 m/s for
elderly people walking alone) and 0.5 m/s for people who need assistance. Each default is
truncated to its RiMEA 3.0 test-7 age-group range (Weidmann's data): adults 0.58–1.61 m/s
(under 50; Weidmann's N(1.34, 0.26) so truncated has mean 1.27 m/s), elderly 0.68–1.41 m/s
(over 50; mean 1.0 m/s), limited mobility 0.46–0.76 m/s (drawn for a mean of 0.50 m/s).
Pre-evacuation delays default to zero: scenarios set them (``start_s`` or a profile's
``delay``) from their own warning assumptions. Water limits (depth, and depth × velocity in
flowing water) are cited in ``sim.evacuation.water``; override them per profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Distribution:
    """A normal distribution truncated to ``[low, high]`` (sd 0 gives the mean)."""

    mean: float
    sd: float = 0.0
    low: float = 0.0
    high: float = np.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws; values outside the bounds are redrawn, then clipped after a few tries."""
        x = rng.normal(self.mean, self.sd, n) if self.sd > 0 else np.full(n, float(self.mean))
        for _ in range(20):
            bad = (x < self.low) | (x > self.high)
            if not bad.any():
                break
            x[bad] = rng.normal(self.mean, self.sd, int(bad.sum()))
        return np.clip(x, self.low, self.high)


@dataclass(frozen=True, slots=True)
class Profile:
    """What sets one group of pedestrians apart: free speed, start delay, and the water they
    cannot walk through: deeper than ``depth_limit_m`` or faster than ``dv_limit_m2s`` / depth."""

    name: str
    speed: Distribution
    delay: Distribution = field(default_factory=lambda: Distribution(0.0))
    depth_limit_m: float = 0.5
    dv_limit_m2s: float = 0.6


DEFAULT_PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("adult", Distribution(1.34, 0.26, 0.58, 1.61), depth_limit_m=0.5, dv_limit_m2s=0.6),  # mean 1.27
        Profile("elderly", Distribution(1.0, 0.15, 0.68, 1.41), depth_limit_m=0.3, dv_limit_m2s=0.4),
        Profile("needs_help", Distribution(0.47, 0.05, 0.46, 0.76), depth_limit_m=0.3, dv_limit_m2s=0.4),  # mean 0.50
    )
}
