"""Flood-depth rank schemes: the code list a rank belongs to, and the depths its labels state.

A rank code means nothing without its list. PLATEAU's standard rank lists
(``RiverFloodingRiskAttribute_rank.xml`` and its tsunami, high-tide and inland siblings,
3D都市モデル標準製品仕様書 第5.0版 4.9.4.2) number the six MLIT depth classes 1–6, the
reservoir list (``ReservoirFloodingRiskAttribute_rank.xml``) has six classes of its own
(0.5/1/2/3/5 m), and ``rankOrg`` lists are a municipality's own classes (e.g. nine classes
0.01–0.3 m … ≥ 20 m). Some datasets even ship a local list under a standard name. So a rank
is kept with its :class:`RankScheme`, two ranks are compared only within one scheme, and a
rank's depth range comes from its own label (``0.5m以上3m未満`` → 0.5–3 m).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: ``0.5m以上`` (from, inclusive) and ``3m未満`` (below, exclusive), as PLATEAU's labels write them.
_FROM = re.compile(r"(\d+(?:\.\d+)?)\s*(?:m|ｍ|メートル)\s*以上")
_BELOW = re.compile(r"(\d+(?:\.\d+)?)\s*(?:m|ｍ|メートル)\s*未満")
#: Generation-specific prefixes of the same list (i-UR 2.0 ``BuildingRiverFloodingRiskAttribute_rank``).
_PREFIXES = ("Building", "WaterBody")


def depth_range_of_label(label: str | None) -> tuple[float, float] | None:
    """Depth range (m) a rank label states: ``0.5m以上3m未満`` → (0.5, 3.0), ``20m以上`` → (20, inf).

    ``0.5m未満`` → (0.0, 0.5). None when the label states no depth.
    """
    if not label:
        return None
    low, high = _FROM.search(label), _BELOW.search(label)
    if low is None and high is None:
        return None
    start = float(low.group(1)) if low else 0.0
    end = float(high.group(1)) if high else math.inf
    return (start, end) if start < end else None


@dataclass(frozen=True, slots=True)
class RankScheme:
    """The code list a rank was read with.

    ``name`` is the list's name (``RiverFloodingRiskAttribute_rank``,
    ``WaterBodyTsunamiRiskAttribute_rankOrg``, or ``浸水ランク`` for the 2020 generation's
    generic attribute, which has no list); ``classes`` its (code, label) pairs, empty when
    the list was not found; ``origin`` where the list came from: ``dataset``,
    ``bundled i-UR 3.2`` (the standard lists shipped with this package) or ``missing``.
    """

    name: str
    classes: tuple[tuple[str, str], ...] = ()
    origin: str = "missing"

    @property
    def family(self) -> str:
        """The list's name without its generation's prefix
        (``BuildingTsunamiRiskAttribute_rank`` → ``TsunamiRiskAttribute_rank``)."""
        name = self.name.replace("InlandFloodRisk", "InlandFloodingRisk")
        for prefix in _PREFIXES:
            if name.startswith(prefix) and "RiskAttribute" in name[len(prefix):]:
                return name[len(prefix):]
        return name

    def label(self, code: str) -> str | None:
        return next((label for c, label in self.classes if c == code), None)

    def depth_range(self, code: str) -> tuple[float, float] | None:
        """Depth range (m) of ``code`` in this list, from its label; None if the list or label says none."""
        return depth_range_of_label(self.label(code))

    def comparable(self, other: RankScheme | None) -> bool:
        """True when ranks of both schemes are the same classes of the same hazard's list."""
        return other is not None and bool(self.classes) and self.family == other.family and self.classes == other.classes
