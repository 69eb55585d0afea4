"""Where a City's nowcast keeps its files, under ``<data dir>/nowcast/<city>/``.

- ``config.json``: the settings (:class:`twin.nowcast.config.NowcastConfig`);
- ``state.npz`` + ``state.json``: the warm start, the engine's state at the last issue time;
- ``posted.json``: forecasts posted by staff or a feed (rain series, river stage series, and the
  description of a posted rain grid: its file, valid times and when it was posted);
- ``rain_grid-<posted>.tif``: the posted rain grid (``twin.nowcast.rain_grid``), one band per
  valid time, written before ``posted.json`` names it; the one named is the one in force;
- ``published.json``: the forecast staff published to the public map (its stamp, issue and
  valid times, who published it and when); absent when none is;
- ``forecasts/<issue>/``: one folder per cycle (``forecast.json``, ``buildings.parquet``,
  ``building_depths.parquet`` (each building's depth at each output time), ``areas.json``
  (time left to leave per area, ``twin.nowcast.areas``), ``roads.parquet`` (per road feature:
  when it is cut, its maximum depth and area cut, lon/lat, ``twin.nowcast.roads``), ``max_depth.tif``,
  ``arrival_time.tif``), written to a staging folder and moved in whole.

Every file goes through :mod:`twin.files.atomic`, so a server killed mid-cycle leaves the last
complete state and forecasts, which the next start resumes from.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sim.flood import FloodState
from twin.errors import TwinInputError
from twin.files.atomic import fsync_folder, remove_leftovers, write_json, write_with
from twin.nowcast.config import NowcastConfig
from twin.nowcast.rain_grid import RainGrid, load_rain_grid
from twin.sensors.times import iso, parse_moment


def issue_stamp(moment: datetime) -> str:
    """A forecast folder's name: its issue time, ``20260701T093000Z``."""
    return iso(moment).replace("-", "").replace(":", "")  # type: ignore[union-attr]


class NowcastFolder:
    """One City's nowcast files."""

    def __init__(self, data_dir: Path, city: str) -> None:
        self.data_dir = data_dir
        self.city = city
        self.path = data_dir / "nowcast" / city
        self.forecasts = self.path / "forecasts"

    # -- settings ------------------------------------------------------------------------

    def config(self) -> NowcastConfig | None:
        """The settings, or None when the City has no nowcast."""
        path = self.path / "config.json"
        if not path.is_file():
            return None
        return NowcastConfig.from_json(json.loads(path.read_text(encoding="utf-8")), self.city)

    def save_config(self, config: NowcastConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "config.json", config.to_json())

    # -- warm start ----------------------------------------------------------------------

    def state(self) -> tuple[FloodState, datetime, dict[str, Any]] | None:
        """The saved engine state, its valid time and its description, or None."""
        meta_path, data = self.path / "state.json", self.path / "state.npz"
        if not (meta_path.is_file() and data.is_file()):
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return FloodState.load(data), parse_moment(meta["valid"], "valid"), meta

    def save_state(self, state: FloodState, valid: datetime, meta: dict[str, Any]) -> None:
        """The warm start: the state file first, then its description (which names it valid)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_with(self.path / "state.npz", state.save)
        write_json(self.path / "state.json", {**meta, "valid": iso(valid)})

    # -- posted forecasts ----------------------------------------------------------------

    def posted(self) -> dict[str, Any]:
        path = self.path / "posted.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def save_posted(self, posted: dict[str, Any]) -> None:
        """Keep ``posted``; a rain grid file it no longer names goes."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / "posted.json", posted)
        named = (posted.get("rain_grid") or {}).get("file")
        for old in self.path.glob("rain_grid-*.tif"):
            if old.name != named:
                old.unlink(missing_ok=True)

    def save_rain_grid(self, grid: RainGrid, posted: dict[str, Any], moment: datetime,
                       described: dict[str, Any]) -> dict[str, Any]:
        """Keep a rain grid posted at ``moment``: its file first, then ``posted`` naming it (in
        place of a posted rain series); the new ``posted``."""
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"rain_grid-{moment.strftime('%Y%m%dT%H%M%S%fZ')}.tif"
        grid.save(self.path / name)
        kept = {k: v for k, v in posted.items() if k != "rain"}
        kept["rain_grid"] = {"file": name, "valid": [iso(t) for t in grid.valid], "posted": iso(moment), **described}
        self.save_posted(kept)
        return kept

    def rain_grid(self, posted: dict[str, Any]) -> RainGrid | None:
        """The rain grid that ``posted`` (:meth:`posted`) names, or None."""
        described = posted.get("rain_grid")
        return load_rain_grid(self.path / described["file"]) if described else None

    # -- forecasts -----------------------------------------------------------------------

    def issued(self) -> list[str]:
        """Stamps of the kept forecasts, oldest first."""
        if not self.forecasts.is_dir():
            return []
        return sorted(p.name for p in self.forecasts.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and (p / "forecast.json").is_file())

    def forecast(self, stamp: str) -> dict[str, Any]:
        """A kept forecast's ``forecast.json``."""
        path = self.forecasts / stamp / "forecast.json"
        if "/" in stamp or stamp.startswith(".") or not path.is_file():
            raise TwinInputError(f"no forecast {stamp!r} for city {self.city!r}")
        return json.loads(path.read_text(encoding="utf-8"))

    def latest(self) -> dict[str, Any] | None:
        """The newest kept forecast's ``forecast.json``, None before the first."""
        issued = self.issued()
        return self.forecast(issued[-1]) if issued else None

    def forecast_file(self, stamp: str, name: str) -> Path:
        """A file of a kept forecast (``buildings.parquet``, ``areas.json``, ``max_depth.tif`` …)."""
        self.forecast(stamp)
        return self.forecasts / stamp / name

    # -- the published forecast ----------------------------------------------------------

    def published(self) -> dict[str, Any] | None:
        """What ``published.json`` says (``stamp``, ``issued``, ``valid_to``, ``by``, ``at``), or
        None when nothing is published or the published forecast is no longer kept."""
        path = self.path / "published.json"
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        return record if record.get("stamp") in self.issued() else None

    def publish(self, stamp: str, by: str, at: datetime) -> dict[str, Any]:
        """Make the kept forecast ``stamp`` the City's published one (replacing any other)."""
        forecast = self.forecast(stamp)
        record = {"stamp": stamp, "issued": forecast["issued"], "valid_to": forecast["valid_to"],
                  "by": by, "at": iso(at)}
        write_json(self.path / "published.json", record)
        return record

    def withdraw(self) -> bool:
        """Take the published forecast off the public map; whether one was published."""
        path = self.path / "published.json"
        if not path.is_file():
            return False
        path.unlink()
        fsync_folder(self.path)
        return True

    def clean(self) -> None:
        """Remove what a crash mid-write left behind (staging folders, partial files)."""
        for folder in (self.path, self.forecasts):
            if folder.is_dir():
                remove_leftovers(folder)
