"""MLIT standard inundation-depth classes: one definition for the whole twin and its viewer.

水害ハザードマップ作成の手引き (MLIT, 2016) colours six classes of depth: < 0.5, 0.5–3, 3–5,
5–10, 10–20 and ≥ 20 m. PLATEAU's standard rank code lists number the same classes 1–6, so
the *rank* (1–6, 0 for "dry") is the one index used here, in ``buildings.parquet``
(``simulated_rank``) and in the viewer. The public API's ``depth_class`` is ``rank − 1``
(a contract older than this module), converted in ``api_class``.

A place counts as *wet* from ``WET_DEPTH_M`` (10 cm) of water, where Japanese inland-flood maps
start (東京都 浸水予想区域図: lowest class 0.1–0.2 m, 床下浸水) and thinner films of rain water
are not drawn or counted; depths are compared with a tolerance of ``WET_TOLERANCE_M`` so that
float32 round-off (100 mm of rain giving 0.09999992 m) never flips a building or a cell between
dry and wet.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from citygml.ranks import depth_range_of_label

#: Water this deep (m) or deeper wets a cell or a building (the flood scenarios' arrival depth).
WET_DEPTH_M = 0.1
#: Depths within this (m) of a threshold count as reaching it: float32 round-off, not water.
WET_TOLERANCE_M = 1e-4


@dataclass(frozen=True)
class DepthClass:
    """One MLIT class: PLATEAU rank code, depth range [lower, upper) in metres, colour and labels."""

    rank: int
    lower_m: float
    upper_m: float  # inf for the deepest class
    colour: str
    key: str  # ASCII key of the class in JSON tables (summary.json, report figures)
    label_ja: str
    label_en: str

    @property
    def middle_m(self) -> float:
        """The depth that stands for the class where only the rank is known (the deepest: its lower bound)."""
        return self.lower_m if np.isinf(self.upper_m) else (self.lower_m + self.upper_m) / 2


CLASSES: tuple[DepthClass, ...] = (
    DepthClass(1, 0.0, 0.5, "#F7F5A9", "<0.5 m", "0.5m未満", "< 0.5 m"),
    DepthClass(2, 0.5, 3.0, "#FFD8C0", "0.5-3 m", "0.5m以上3m未満", "0.5–3 m"),
    DepthClass(3, 3.0, 5.0, "#FFB7B7", "3-5 m", "3m以上5m未満", "3–5 m"),
    DepthClass(4, 5.0, 10.0, "#FF9191", "5-10 m", "5m以上10m未満", "5–10 m"),
    DepthClass(5, 10.0, 20.0, "#F285C9", "10-20 m", "10m以上20m未満", "10–20 m"),
    DepthClass(6, 20.0, float("inf"), "#DC7ADC", ">=20 m", "20m以上", "≥ 20 m"),
)
RANKS = tuple(c.rank for c in CLASSES)
#: The key of rank 0 (no water at the wet depth) in JSON tables.
DRY_KEY = "dry"
_UPPER = np.array([c.upper_m for c in CLASSES[:-1]])


def of_rank(rank: int) -> DepthClass:
    """The class of PLATEAU rank code 1–6."""
    return CLASSES[rank - 1]


def key(rank: int) -> str:
    """JSON key of rank 0–6."""
    return DRY_KEY if rank == 0 else of_rank(rank).key


def is_wet(depth: np.ndarray | float, threshold_m: float = WET_DEPTH_M) -> np.ndarray:
    """Where ``depth`` reaches ``threshold_m`` (within ``WET_TOLERANCE_M``); NaN is dry."""
    return np.nan_to_num(np.asarray(depth, dtype=float), nan=-np.inf) >= threshold_m - WET_TOLERANCE_M


def rank_of_depth(depth: np.ndarray | float, wet_m: float = WET_DEPTH_M) -> np.ndarray:
    """Rank 1–6 of depths in metres; 0 where not wet (see ``is_wet``) or unknown."""
    depth = np.asarray(depth, dtype=float)
    rank = np.searchsorted(_UPPER, np.nan_to_num(depth), side="right") + 1
    return np.where(is_wet(depth, wet_m), rank, 0)


def rank_of_any_depth(depth_m: float) -> int:
    """Rank 1–6 of a depth already known to be water (an official depth, however shallow)."""
    return int(np.searchsorted(_UPPER, depth_m, side="right")) + 1


def rank_of_range(low_m: float, high_m: float) -> int:
    """The deepest class a stated depth range reaches (0.3–1 m → rank 2, 0.5–3 m: a hazard map
    errs on the deep side); ``high_m`` is exclusive, inf for "and deeper"."""
    return rank_of_any_depth(low_m if math.isinf(high_m) else max(high_m - 1e-6, low_m, 0.0))


def official_rank(depth_m: float | None, depth_range: tuple[float, float] | None) -> int | None:
    """The MLIT rank of an official risk: from its depth in metres, else from the depth range its
    rank's own code list states (``citygml.ranks``); None when neither is known."""
    if depth_m is not None and math.isfinite(depth_m) and depth_m >= 0:
        return rank_of_any_depth(depth_m)
    if depth_range is not None:
        return rank_of_range(*depth_range)
    return None


def rank_of_label(rank_label: str | None) -> int | None:
    """The MLIT rank of a rank label that states its depths (``0.3m以上1.0m未満`` → 2), else None."""
    stated = depth_range_of_label(rank_label)
    return rank_of_range(*stated) if stated else None


def api_class(rank: int | None) -> int | None:
    """The public API's ``depth_class`` (0–5) of a rank, None for none."""
    return None if not rank else rank - 1


def as_json() -> dict:
    """The classes for the viewer (``/depth-classes.js``) and for legends in API answers."""
    return {"wet_depth_m": WET_DEPTH_M, "wet_tolerance_m": WET_TOLERANCE_M,
            "classes": [{**asdict(c), "upper_m": None if np.isinf(c.upper_m) else c.upper_m} for c in CLASSES]}
