"""Flood scenarios of the sample city: two rivers at planned (L1) and maximum (L2) scale, and
an inland (pluvial) flood; depth ranks use the standard six classes of the MLIT guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citygml.samplecity.site import HEIGHT_DECIMALS

#: Upper bounds (m) of depth ranks 1–5; rank 6 is 20 m and more (RiverFloodingRiskAttribute_rank).
RANK_BOUNDS = (0.5, 3.0, 5.0, 10.0, 20.0)


def depth_rank(depth: np.ndarray | float) -> np.ndarray:
    """Rank code 1–6 of depths in metres (0.5 m未満, 0.5–3 m, 3–5 m, 5–10 m, 10–20 m, 20 m以上)."""
    return np.searchsorted(np.asarray(RANK_BOUNDS), np.asarray(depth), side="right") + 1


@dataclass(frozen=True)
class River:
    """A river with a flood inundation assumption: codes and where its fld files go."""

    code: str  # RiverFloodingRiskAttribute_description code
    name: str  # 水系 + 河川, the codelist label
    admin_type: str  # 1 国, 2 都道府県
    folder: str  # udx/fld/<natl|pref>/<folder>/


@dataclass(frozen=True)
class FloodScenario:
    """One river at one scale: the water surface falls linearly downstream (eastward)."""

    river: River
    scale: str  # "L1" planned scale, "L2" maximum assumed scale
    surface_west: float  # water surface at x = 0, m
    slope: float  # fall per metre eastward
    duration_base: float  # hours of inundation at zero depth (L2 only)
    duration_per_m: float

    def surface(self, x: np.ndarray) -> np.ndarray:
        """Water-surface height (T.P. m) at easting ``x``, rounded as written."""
        return np.round(self.surface_west - self.slope * np.asarray(x, float), HEIGHT_DECIMALS)

    def duration(self, depth: np.ndarray) -> np.ndarray | None:
        if self.scale != "L2":
            return None
        return np.round(self.duration_base + self.duration_per_m * np.asarray(depth), 2)


ARAKAWA = River("1", "荒川水系荒川", "1", "natl/arakawa_arakawa")
SHINGASHI = River("2", "荒川水系新河岸川", "2", "pref/arakawa_shingashigawa")

SCENARIOS = (
    FloodScenario(ARAKAWA, "L1", 8.9, 0.0004, 0.0, 0.0),
    FloodScenario(ARAKAWA, "L2", 12.9, 0.0004, 30.0, 24.0),
    FloodScenario(SHINGASHI, "L1", 10.1, 0.0006, 0.0, 0.0),
    FloodScenario(SHINGASHI, "L2", 11.7, 0.0006, 6.0, 9.0),
)

#: The inland-flood assumption's description label (InlandFloodingRiskAttribute_description 1).
INLAND_NAME = "川越市内水ハザードマップ"


@dataclass(frozen=True)
class InlandFlood:
    """Ponding in hollows after heavy rain: a few Gaussian pools of given peak depth."""

    cx: np.ndarray
    cy: np.ndarray
    peak: np.ndarray
    radius: np.ndarray

    def depth(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.asarray(x, float)[..., None], np.asarray(y, float)[..., None]
        pools = self.peak * np.exp(-((x - self.cx) ** 2 + (y - self.cy) ** 2) / self.radius**2)
        return np.round(pools.max(axis=-1), HEIGHT_DECIMALS)


def make_inland_flood(width: float, height: float, rng: np.random.Generator, pools: int = 7) -> InlandFlood:
    """``pools`` hollows spread over the site (seven on the 3.6 km × 2.8 km town)."""
    return InlandFlood(
        cx=rng.uniform(0.1, 0.9, pools) * width,
        cy=rng.uniform(0.1, 0.9, pools) * height,
        peak=rng.uniform(0.3, 1.1, pools),
        radius=rng.uniform(120.0, 260.0, pools),
    )
