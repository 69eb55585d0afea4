"""The nowcast forecast staff published, as the public map shows it: labelled 「予測」 /
"forecast" with its issue time and the time it is valid until, never mixed with the official
hazard areas or a simulated scenario.

A published forecast is current until its valid-until time (its issue time plus its horizon);
after that it is ``expired``: the map says so and shows no depths from it. Only this module
decides what the public sees of a forecast: no staff names, gauges or forcing details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from twin import depth_classes
from twin.depth_classes import WET_DEPTH_M
from twin.hazardmap.simulated_depth import max_depth_at
from twin.nowcast.folder import NowcastFolder
from twin.sensors.times import parse_moment

LABEL = {"ja": "予測", "en": "forecast"}


@dataclass(frozen=True)
class PublishedForecast:
    """The City's published forecast and whether it is still current at ``now``."""

    city: str
    stamp: str
    issued: str
    valid_to: str
    published: str
    current: bool
    max_depth_tif: Path

    def public(self) -> dict[str, Any]:
        """The forecast as the public map gets it: label, times, status and (while current) its picture."""
        return {"kind": "forecast", "label": LABEL, "issued": self.issued, "valid_until": self.valid_to,
                "published": self.published, "status": "current" if self.current else "expired",
                "image": f"/api/cities/{self.city}/hazard-forecast/{self.stamp}.png" if self.current else None}

    def at(self, lon: float, lat: float) -> dict[str, Any]:
        """The forecast at a place: its predicted maximum depth there, labelled (none once expired)."""
        depth = max_depth_at(self.max_depth_tif, lon, lat) if self.current else None
        rank = int(depth_classes.rank_of_depth(depth, WET_DEPTH_M)) if depth is not None else 0
        return {**{k: v for k, v in self.public().items() if k != "image"},
                "max_depth_m": None if depth is None else round(depth, 3),
                "depth_class": depth_classes.api_class(rank),
                "colour": depth_classes.of_rank(rank).colour if rank else None}


def is_current(valid_to: str, now: datetime) -> bool:
    """Whether a forecast valid until ``valid_to`` (ISO 8601) is still current at ``now``."""
    return now <= parse_moment(valid_to, "valid_to")


def published_forecast(folder: NowcastFolder, now: datetime) -> PublishedForecast | None:
    """The City's published forecast (current or expired at ``now``), or None when none is."""
    record = folder.published()
    if record is None:
        return None
    return PublishedForecast(folder.city, record["stamp"], record["issued"], record["valid_to"], record["at"],
                             is_current(record["valid_to"], now),
                             folder.forecast_file(record["stamp"], "max_depth.tif"))
