"""Where a scenario job keeps its state and results: ``DATA_DIR/scenarios/<id>/``.

``job.json`` is its state; ``result/`` the city flood folder (``twin.flood.city_run``);
``frames/`` a PNG per output time and ``frames.json``; ``evacuation/`` the evacuation folder
when one ran after the flood; ``report/map.png`` the report's picture, drawn on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from twin.depth_classes import WET_DEPTH_M


@dataclass(frozen=True)
class JobFiles:
    """The paths of one job's folder."""

    folder: Path

    @property
    def state(self) -> Path:
        return self.folder / "job.json"

    @property
    def result(self) -> Path:
        return self.folder / "result"

    @property
    def frames(self) -> Path:
        return self.folder / "frames"

    @property
    def evacuation(self) -> Path:
        return self.folder / "evacuation"

    @property
    def report_map(self) -> Path:
        return self.folder / "report" / "map.png"

    def has_evacuation(self) -> bool:
        return (self.evacuation / "summary.json").is_file()

    def wet_depth(self) -> float:
        """The depth (m) from which the job's flood counts a cell or a building as wet."""
        try:
            summary = json.loads((self.result / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return WET_DEPTH_M
        return float(summary.get("arrival_depth_m", WET_DEPTH_M))
