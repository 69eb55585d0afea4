"""A synthetic sensor feed for a city, sent over HTTP like real devices.

The devices, placed inside the city's bounding box:

- a rain gauge and a river gauge. The storm is a rain pulse (a Gaussian in time, peak
  ``STORM_PEAK_MM_H``) and the river answers through a linear reservoir (Nash-type
  unit-hydrograph response with time constant ``RIVER_LAG_H``), so the stage rises after
  the rain, crosses 氾濫注意 → 避難判断 → 氾濫危険 near its peak and falls back;
- people counters (Smart Data Models ``CrowdFlowObserved#peopleCount`` per 15 minutes) in
  three named areas, with daily rhythms (commuter peaks at the station, a midday peak in
  the shopping street, afternoons in the park), weekly rhythms (quiet station and busy
  park at weekends) and Poisson noise.

Things and Datastreams are created once by SensorThings deep insert (found again by name on
a re-run); history is back-filled with ``CreateObservations``; live values are posted one
observation per request, as a device would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from twin.errors import TwinInputError
from twin.sensors.footfall import LOCAL, PEOPLE_COUNT

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
COUNT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
#: River gauge thresholds (m): 水防団待機, 氾濫注意, 避難判断, 氾濫危険.
THRESHOLDS = {"standby": 1.5, "caution": 2.0, "evacuation": 2.6, "danger": 3.2}
BASE_STAGE_M = 0.8
PEAK_STAGE_M = 3.6
STORM_PEAK_MM_H = 60.0
STORM_CENTRE_H = 3.0
STORM_WIDTH_H = 1.0
RIVER_LAG_H = 1.5
STORM_HOURS = 8.0
COUNTER_INTERVAL = timedelta(minutes=15)
GAUGE_INTERVAL = timedelta(minutes=5)
PREFIX = "sim-"

#: Hourly weights (local hour 0–23) of each kind of place on a weekday and at weekends.
_STATION = [1, 0, 0, 0, 1, 4, 12, 30, 42, 22, 12, 11, 14, 12, 11, 13, 18, 32, 38, 24, 15, 10, 6, 3]
_SHOPS = [0, 0, 0, 0, 0, 0, 1, 3, 5, 9, 16, 24, 32, 28, 24, 22, 22, 24, 25, 20, 12, 6, 2, 1]
_PARK = [0, 0, 0, 0, 0, 1, 4, 6, 6, 8, 12, 16, 18, 20, 22, 22, 18, 12, 6, 3, 1, 0, 0, 0]
KINDS: dict[str, tuple[list[int], float]] = {  # profile, weekend factor
    "station": (_STATION, 0.55), "shops": (_SHOPS, 1.35), "park": (_PARK, 1.8)}
AREAS = [("station", "駅前", "Station front"), ("shops", "商店街", "Shopping street"), ("park", "公園", "Park")]


@dataclass(frozen=True)
class Device:
    """A simulated device's Thing name, kind, place and (once created) its Datastream id."""

    name: str
    kind: str
    lon: float
    lat: float
    datastream: int | None = None


def rain_mm_h(hours: float) -> float:
    """Rain intensity ``hours`` after the storm began."""
    return STORM_PEAK_MM_H * math.exp(-0.5 * ((hours - STORM_CENTRE_H) / STORM_WIDTH_H) ** 2)


def _response(hours: float) -> float:
    """Linear-reservoir response to the Gaussian rain pulse (unscaled), by quadrature."""
    if hours <= 0:
        return 0.0
    s = np.linspace(0.0, hours, 400)
    rain = np.exp(-0.5 * ((s - STORM_CENTRE_H) / STORM_WIDTH_H) ** 2)
    kernel = np.exp(-(hours - s) / RIVER_LAG_H) / RIVER_LAG_H
    return float(np.trapezoid(rain * kernel, s))


_PEAK_RESPONSE = max(_response(h) for h in np.linspace(0, STORM_HOURS, 321))


def river_stage_m(hours: float) -> float:
    """River stage ``hours`` after the storm began: base flow plus the scaled reservoir response."""
    return BASE_STAGE_M + (PEAK_STAGE_M - BASE_STAGE_M) * _response(hours) / _PEAK_RESPONSE


def expected_people(kind: str, scale: float, moment: datetime) -> float:
    """Mean people in the 15 minutes from ``moment`` at a counter of ``kind``."""
    local = moment.astimezone(LOCAL)
    profile, weekend = KINDS[kind]
    factor = weekend if local.weekday() >= 5 else 1.0
    return scale * factor * profile[local.hour] / 4


def layout(bbox: list[float]) -> tuple[list[Device], list[Device], dict[str, Any]]:
    """The gauges, the counters (two per area) and the areas (three strips west to east) of ``bbox``."""
    lon0, lat0, lon1, lat1 = bbox
    width, height = lon1 - lon0, lat1 - lat0
    gauges = [Device(f"{PREFIX}river-gauge", "river", lon0 + 0.05 * width, lat0 + 0.5 * height),
              Device(f"{PREFIX}rain-gauge", "rain", lon0 + 0.5 * width, lat0 + 0.5 * height)]
    counters, features = [], []
    for n, (kind, name, name_en) in enumerate(AREAS):
        west, east = lon0 + n * width / 3, lon0 + (n + 1) * width / 3
        ring = [[west, lat0], [east, lat0], [east, lat1], [west, lat1], [west, lat0]]
        features.append({"type": "Feature", "properties": {"id": kind, "name": name, "name_en": name_en},
                         "geometry": {"type": "Polygon", "coordinates": [ring]}})
        for m, along in enumerate((0.3, 0.7)):
            counters.append(Device(f"{PREFIX}counter-{kind}-{m + 1}", kind, (west + east) / 2 + (m - 0.5) * width / 9,
                                   lat0 + along * height))
    return gauges, counters, {"type": "FeatureCollection", "features": features}


def _thing(device: Device) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [round(device.lon, 7), round(device.lat, 7)]}
    if device.kind == "river":
        stream = {"name": f"{device.name} water level", "unitOfMeasurement": {"name": "metre", "symbol": "m"},
                  "observationType": MEASUREMENT, "properties": {"thresholds": THRESHOLDS},
                  "ObservedProperty": {"name": "water level", "definition": "urn:machi-twin:river-stage",
                                       "properties": {"range": [-50, 100]}}}
    elif device.kind == "rain":
        stream = {"name": f"{device.name} rain", "unitOfMeasurement": {"name": "millimetre per hour", "symbol": "mm/h"},
                  "observationType": MEASUREMENT,
                  "ObservedProperty": {"name": "precipitation", "definition": "urn:machi-twin:rain-intensity",
                                       "properties": {"range": [0, 500]}}}
    else:
        stream = {"name": f"{device.name} people", "unitOfMeasurement": {"name": "people", "symbol": "{people}"},
                  "observationType": COUNT, "properties": {"public": False},
                  "ObservedProperty": {"name": "peopleCount", "definition": PEOPLE_COUNT,
                                       "properties": {"range": [0, 1e6]}}}
    stream["Sensor"] = {"name": f"{device.kind} sensor (simulated)", "encodingType": "text/plain", "metadata": "-"}
    return {"name": device.name, "description": f"simulated {device.kind} sensor", "properties": {"simulated": True},
            "Locations": [{"name": device.name, "encodingType": "application/geo+json", "location": point}],
            "Datastreams": [stream]}


class Feed:
    """The simulated devices of one city on one server."""

    def __init__(self, url: str, key: str, city: str, *, seed: int = 1, scale: float = 40.0,
                 client: httpx.Client | None = None) -> None:
        self.http = client or httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"},
                                           timeout=60)
        self.city = city
        self.scale = scale
        self.random = np.random.default_rng(seed)
        manifest = self._call("GET", f"/api/cities/{city}")
        self.gauges, self.counters, self.areas = layout(manifest["bbox"])

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TwinInputError(f"{self.http.base_url}: cannot reach the server ({exc})") from None
        if answer.status_code >= 400:
            detail = answer.json().get("detail", answer.text) if answer.headers.get("content-type", "").endswith(
                "json") else answer.text
            raise TwinInputError(f"{method} {path}: {answer.status_code} {detail}")
        return answer.json() if answer.content else None

    def install(self) -> list[str]:
        """Create (or find again) every device's Thing and Datastream; upload the areas. Warnings."""
        warnings = []
        self.gauges = [self._device(d) for d in self.gauges]
        self.counters = [self._device(d) for d in self.counters]
        answer = self.http.put(f"/api/footfall/{self.city}/areas", json=self.areas)
        if answer.status_code in (401, 403):
            warnings.append("the areas were not uploaded: that needs an admin key")
        elif answer.status_code >= 400:
            warnings.append(f"the areas were not uploaded: {answer.status_code} {answer.text[:200]}")
        return warnings

    def _device(self, device: Device) -> Device:
        found = self._call("GET", "/sta/v1.1/Things", params={
            "$filter": f"name eq '{device.name}'", "$expand": "Datastreams($select=id)", "$top": 1})["value"]
        thing = found[0] if found else self._call("POST", "/sta/v1.1/Things", json=_thing(device))
        if "Datastreams" not in thing:
            thing = self._call("GET", f"/sta/v1.1/Things({thing['@iot.id']})",
                               params={"$expand": "Datastreams($select=id)"})
        return Device(device.name, device.kind, device.lon, device.lat, thing["Datastreams"][0]["@iot.id"])

    def people(self, device: Device, moment: datetime) -> int:
        return int(self.random.poisson(expected_people(device.kind, self.scale, moment)))

    def backfill(self, start: datetime, end: datetime, progress: Callable[[int], None] = lambda n: None) -> int:
        """Counter history from ``start`` to ``end`` in CreateObservations batches (a day a request)."""
        sent = 0
        for day_start in _steps(_floor(start, COUNTER_INTERVAL), end, timedelta(days=1)):
            day_end = min(day_start + timedelta(days=1), end)
            moments = list(_steps(day_start, day_end, COUNTER_INTERVAL))
            batch = [{"Datastream": {"@iot.id": device.datastream}, "components": ["phenomenonTime", "result"],
                      "dataArray": [[_interval(t), self.people(device, t)] for t in moments]}
                     for device in self.counters]
            if moments:
                self._call("POST", "/sta/v1.1/CreateObservations", json=batch)
                sent += len(moments) * len(self.counters)
                progress(sent)
        return sent

    def live(self, storm_start: datetime, moment: datetime) -> int:
        """Post the gauges' values at ``moment`` (and the counters' on their quarter-hours); how many."""
        hours = (moment - storm_start).total_seconds() / 3600
        values = {"river": round(river_stage_m(hours) + float(self.random.normal(0, 0.01)), 3),
                  "rain": round(max(0.0, rain_mm_h(hours) * float(self.random.uniform(0.85, 1.15))), 1)}
        sent = 0
        for device in self.gauges:
            self._observe(device, _iso(moment), values[device.kind])
            sent += 1
        if moment == _floor(moment, COUNTER_INTERVAL) and moment > storm_start:
            interval_start = moment - COUNTER_INTERVAL
            for device in self.counters:
                self._observe(device, _interval(interval_start), self.people(device, interval_start))
                sent += 1
        return sent

    def _observe(self, device: Device, phenomenon_time: str, result: float) -> None:
        self._call("POST", "/sta/v1.1/Observations", json={"Datastream": {"@iot.id": device.datastream},
                                                           "phenomenonTime": phenomenon_time, "result": result})


def run_live(feed: Feed, start: datetime, duration: timedelta, speed: float,
             progress: Callable[[datetime, int], None] = lambda t, n: None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> int:
    """Stream from simulated time ``start`` for ``duration``, ``speed`` simulated seconds per second."""
    began, sent = clock(), 0
    for moment in _steps(_floor(start, GAUGE_INTERVAL), start + duration + GAUGE_INTERVAL / 2, GAUGE_INTERVAL):
        due = began + (moment - start).total_seconds() / speed
        if (wait := due - clock()) > 0:
            sleep(wait)
        sent += feed.live(start, moment)
        progress(moment, sent)
    return sent


def _steps(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += step


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    return datetime.fromtimestamp(math.floor(moment.timestamp() / seconds) * seconds, UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _interval(start: datetime) -> str:
    return f"{_iso(start)}/{_iso(start + COUNTER_INTERVAL)}"
