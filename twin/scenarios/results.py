"""Where a scenario job keeps its state and results: ``DATA_DIR/scenarios/<id>/``.

``job.json`` is its state; ``result/`` the city flood folder (``twin.flood.city_run``);
``frames/`` a PNG per output time and ``frames.json``; ``evacuation/`` the evacuation folder
when one ran after the flood; ``report/map.png`` the report's picture, drawn on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
