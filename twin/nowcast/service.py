"""The server's nowcast: settings per City, posted forecasts, cycles on time, alerts.

A cycle of a City is due when it has none yet, when its cycle time has passed since the last
issue time, or at once when one of its river gauges has reached 避難判断水位 (alert level 3,
``twin.sensors.alerts``) since the last issue. :meth:`NowcastService.start` runs a thread that
checks every ``tick_s`` and runs due cycles one at a time; every cycle keeps its forecast and
warm state on disk, so a restarted server carries on from the last saved state.

A forecast naming buildings or shelters that reach the alert depth within the configured lead
time logs a ``forecast`` event in the sensor event log (``/api/stream``, staff only), and its
alerts are listed on ``/api/alerts`` (staff only) until it is superseded or expires.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from twin.city.grids import load_grids
from twin.city.layout import is_city
from twin.errors import TwinInputError
from twin.nowcast.config import NowcastConfig
from twin.nowcast.cycle import CityContext, run_cycle
from twin.nowcast.folder import NowcastFolder
from twin.nowcast.rain_grid import read_rain_grid
from twin.nowcast.verification import verification
from twin.sensors import events
from twin.sensors.alerts import LEVELS
from twin.sensors.times import iso, parse_moment
from twin.store import Store
from twin.store.models import AlertState

log = logging.getLogger(__name__)


class NowcastService:
    """Every City's nowcast under ``data_dir``, with the sensor ``store`` it reads."""

    def __init__(self, data_dir: Path, store: Store, tick_s: float = 5.0) -> None:
        self.data_dir = data_dir
        self.store = store
        self.tick_s = tick_s
        self._contexts: dict[tuple[str, float], CityContext] = {}
        self._lock = threading.Lock()  # one cycle at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._requested: set[str] = set()
        self._posting = threading.Lock()  # one change of posted forecasts at a time
        # what a killed server left behind goes now, before any request: a partial file found later
        # is a request thread's write in flight (posted.json, published.json), not a leftover
        for city in self.cities():
            NowcastFolder(data_dir, city).clean()

    def folder(self, city: str) -> NowcastFolder:
        if not is_city(self.data_dir / city):
            raise TwinInputError(f"no city {city!r} in this server's data folder")
        return NowcastFolder(self.data_dir, city)

    def cities(self) -> list[str]:
        root = self.data_dir / "nowcast"
        return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []

    # -- settings and posted forecasts ---------------------------------------------------

    def configure(self, city: str, body: Any) -> NowcastConfig:
        """Check and keep a City's settings (its clock's origin stays when it had one)."""
        folder = self.folder(city)
        old = folder.config()
        config = NowcastConfig.from_json(body, city, origin=old.origin if old is not None else None)
        with self.store.session() as session:
            config.checked(session)
        folder.save_config(config)
        return config

    def config(self, city: str) -> NowcastConfig:
        config = self.folder(city).config()
        if config is None:
            raise TwinInputError(f"city {city!r} has no nowcast; configure one first")
        return config

    def post_forecast(self, city: str, body: Any, now: datetime | None = None) -> dict[str, Any]:
        """Keep a posted rain forecast ``{"rain": {"valid": [...], "mm_per_h": [...]}}`` (in place of
        a posted rain grid) and/or river stage forecasts ``{"stage": {"<datastream>": {"valid":
        [...], "stage_m": [...]}}}``; valid times must all lie ahead of ``now``. Nothing is kept
        unless all of it is good."""
        config = self.config(city)
        now = now or datetime.now(UTC)
        if not isinstance(body, dict) or not body or set(body) - {"rain", "stage"}:
            raise TwinInputError("a posted forecast is {\"rain\": {...}} and/or {\"stage\": {...}}")
        folder = self.folder(city)
        with self._posting:
            return self._post_forecast(config, folder, body, now)

    def _post_forecast(self, config: NowcastConfig, folder: NowcastFolder, body: dict[str, Any],
                       now: datetime) -> dict[str, Any]:
        posted = folder.posted()
        if "rain" in body:  # in place of a posted rain grid
            posted["rain"] = _series(body["rain"], "mm_per_h", "rain", now, minimum=0.0)
            posted.pop("rain_grid", None)
        if "stage" in body:
            stages = body["stage"]
            if not isinstance(stages, dict) or not stages:
                raise TwinInputError("stage: an object {datastream id: {valid, stage_m}}")
            known = {str(g.datastream) for g in config.river_gauges}
            kept = dict(posted.get("stage") or {})
            for key, value in stages.items():
                if key not in known:
                    raise TwinInputError(f"stage[{key}]: not a river gauge of this nowcast ({', '.join(sorted(known))})")
                kept[key] = _series(value, "stage_m", f"stage[{key}]", now)
            posted["stage"] = kept
        folder.save_posted(posted)
        return posted

    def post_rain_grid(self, city: str, data: bytes, valid: list[str] | None = None,
                       now: datetime | None = None) -> dict[str, Any]:
        """Keep a posted rain grid forecast (GeoTIFF or CF-NetCDF, ``twin.nowcast.rain_grid``)
        in place of a posted rain series, after checking it against the City's flood grid;
        ``valid``: a GeoTIFF's valid times, one per band. Nothing is kept unless all of it is good."""
        config = self.config(city)
        now = now or datetime.now(UTC)
        grid = read_rain_grid(data, valid)
        key = (config.city, config.cell_size_m)  # the flood grid, without the cycles' context when it is not loaded
        terrain = self._contexts[key].grids.terrain if key in self._contexts else \
            load_grids(self.data_dir / city, config.cell_size_m).terrain
        share = grid.checked_for(terrain, now)
        folder = self.folder(city)
        with self._posting:
            return folder.save_rain_grid(grid, folder.posted(), now, {
                "crs": grid.crs.to_string(), "bands": len(grid.valid), "city_share": round(share, 4)})

    # -- cycles --------------------------------------------------------------------------

    def context(self, config: NowcastConfig) -> CityContext:
        key = (config.city, config.cell_size_m)
        if key not in self._contexts:
            self._contexts[key] = CityContext.of(load_grids(self.data_dir / config.city, config.cell_size_m))
        return self._contexts[key]

    def run(self, city: str, issue: datetime | None = None) -> dict[str, Any]:
        """Run the City's cycle issued at ``issue`` (default now, to the second) and log its alert."""
        config = self.config(city)
        issue = (issue or datetime.now(UTC)).replace(microsecond=0)
        folder = self.folder(city)
        with self._lock:
            with self.store.session() as session:
                forecast = run_cycle(self.context(config), config, folder, session, issue)
            alerts = forecast["alerts"]
            if alerts["buildings"] or alerts["shelters"]:
                with self.store.session.begin() as session:
                    events.append(session, "forecast", {"city": city, "issued": forecast["issued"], **alerts},
                                  public=False)
        return forecast

    def alerts(self, now: datetime) -> list[dict[str, Any]]:
        """Per City, the alerts of its latest forecast while that forecast is valid (to its
        ``valid_to``), when it names buildings or shelters."""
        current = []
        for city in self.cities():
            forecast = NowcastFolder(self.data_dir, city).latest()
            if forecast is None:
                continue
            alerts = forecast["alerts"]
            if parse_moment(forecast["valid_to"], "valid_to") > now and (alerts["buildings"] or alerts["shelters"]):
                current.append({"city": city, "issued": forecast["issued"], "valid_to": forecast["valid_to"], **alerts})
        return current

    def last_issue(self, city: str) -> datetime | None:
        latest = self.folder(city).latest()
        return parse_moment(latest["issued"], "issued") if latest is not None else None

    def due(self, city: str, now: datetime) -> str | None:
        """Why the City's cycle is due at ``now`` (None when it is not)."""
        config = self.config(city)
        if city in self._requested:
            return "asked for by staff"
        last = self.last_issue(city)
        if last is None:
            return "first cycle"
        if now - last >= timedelta(seconds=config.cycle_s):
            return "cycle time"
        streams = [g.datastream for g in config.river_gauges]
        if streams:
            with self.store.session() as session:
                raised = session.scalars(select(AlertState).where(
                    AlertState.datastream_id.in_(streams), AlertState.level >= LEVELS["evacuation"],
                    AlertState.since > last)).first()
            if raised is not None:
                return f"river gauge {raised.datastream_id} reached 避難判断水位"
        return None

    def request(self, city: str) -> None:
        """Have the thread run the City's cycle at its next check."""
        self._requested.add(city)

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run every due cycle now; the cities run."""
        now = now or datetime.now(UTC)
        ran = []
        for city in self.cities():
            try:
                reason = self.due(city, now)
                if reason is not None:
                    log.info("nowcast %s: %s", city, reason)
                    self._requested.discard(city)
                    self.run(city, now)
                    ran.append(city)
            except TwinInputError as exc:  # a gauge without readings, a City removed: say so, go on
                log.warning("nowcast %s: cycle not run: %s", city, exc)
        return ran

    def verification(self, city: str) -> dict[str, Any]:
        with self.store.session() as session:
            return verification(session, self.folder(city))

    # -- the background thread -----------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="nowcast", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.run_due()
            except Exception:  # keep the server's cycles going after an unexpected failure
                log.exception("nowcast: a cycle failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None


def _series(value: Any, key: str, where: str, now: datetime, minimum: float | None = None) -> dict[str, Any]:
    """A posted series ``{"valid": [ISO...], key: [numbers]}``, checked, with the time it was posted."""
    if not isinstance(value, dict) or not isinstance(value.get("valid"), list) or not isinstance(value.get(key), list):
        raise TwinInputError(f"{where}: an object {{\"valid\": [ISO 8601 times], \"{key}\": [numbers]}}")
    times = [parse_moment(t, f"{where}.valid") for t in value["valid"]]
    numbers = value[key]
    if not times or len(times) != len(numbers):
        raise TwinInputError(f"{where}: as many values as valid times, at least one")
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v != v for v in numbers):
        raise TwinInputError(f"{where}: {key} must be numbers")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise TwinInputError(f"{where}: valid times must increase")
    if times[0] <= now:
        raise TwinInputError(f"{where}: valid time {iso(times[0])} is in the past (now {iso(now)})")
    if minimum is not None and min(numbers) < minimum:
        raise TwinInputError(f"{where}: {key} must not be below {minimum:g}")
    return {"valid": [iso(t) for t in times], key: [float(v) for v in numbers], "posted": iso(now)}
