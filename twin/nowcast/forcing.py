"""A cycle's forcing from the sensor store: observed up to the issue time, then a forecast.

Observed: the rain gauges' mean (each gauge's reading held until its next one) and each river
gauge's stage (linear between readings) from the cycle's start to its issue time. Beyond the
issue time, in order of preference, each labelled in the forecast:

- rain: a rain grid posted by staff or a feed (``posted["rain_grid"]``,
  :mod:`twin.nowcast.rain_grid`): each band averaged onto the City's flood grid and held from
  its valid time until the next, the last to the horizon's end, the band in force at the issue
  time from the issue time on (before its first valid time, persistence as below). The gauges'
  uniform rain stops at the issue time and the grids take over. A grid whose valid times all
  lie at or before the issue time, or at or after the horizon's end, is not used. Else a
  series posted (``posted["rain"]``, valid times after the issue time), else
  **persistence**: the last hour's mean intensity held over the horizon;
- river stage: a series posted for that gauge (``posted["stage"][id]``), else the last
  hour's **trend** (least-squares slope) carried on, its change capped at ``TREND_CAP_M``.

A river gauge drives a stage on a side of the grid, or a levee breach whose discharge is
that of a broad-crested weir, Q = C·B·H^1.5 with H the water above the crest and
C = (2/3)^1.5·√g ≈ 1.705 m^½/s (critical flow over the crest; Henderson 1966, *Open Channel
Flow*, §6.4; Chow 1959, §14-7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from sim.flood import Series
from twin.errors import TwinInputError
from twin.files.rasters import Grid
from twin.nowcast.config import NowcastConfig, RiverGauge
from twin.nowcast.rain_grid import RESAMPLING, RainGrid
from twin.sensors.times import iso, parse_moment
from twin.store.models import Observation

PERSISTENCE = timedelta(hours=1)
TREND_CAP_M = 1.0
WEIR_C = (2 / 3) ** 1.5 * math.sqrt(9.81)
#: Spacing (s) of the points that sample a forecast stage and a breach discharge.
SAMPLE_S = 300.0


@dataclass
class CycleForcing:
    """The forcing of one cycle on the model's clock (s since the config's origin)."""

    start: datetime
    issue: datetime
    end: datetime
    rain: Series | None = None  # mm/h, held
    rain_grids: np.ndarray | None = None  # (times, rows, cols) mm/h on the flood grid, each held
    rain_grid_times: np.ndarray | None = None  # s on the model's clock
    stages: dict[str, Series] = field(default_factory=dict)  # side → water-surface elevation, m T.P.
    breaches: list[tuple[RiverGauge, Series]] = field(default_factory=list)  # gauge, m³/s
    labels: dict[str, str] = field(default_factory=dict)
    predicted_stage: dict[int, list[tuple[str, float]]] = field(default_factory=dict)  # id → (valid, m)


def readings(session: Session, stream: int, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """A datastream's numeric readings in [start, end], oldest first."""
    rows = session.execute(
        select(Observation.phenomenon_time, Observation.result_number)
        .where(Observation.datastream_id == stream, Observation.phenomenon_time >= start,
               Observation.phenomenon_time <= end, Observation.result_number.is_not(None))
        .order_by(Observation.phenomenon_time)).all()
    return [(t, float(v)) for t, v in rows if v is not None]


def _held(points: list[tuple[datetime, float]], moment: datetime) -> float:
    """The reading in force at ``moment``: the last at or before it (the first before any)."""
    value = points[0][1]
    for t, v in points:
        if t > moment:
            break
        value = v
    return value


def _held_mean(points: list[tuple[datetime, float]], start: datetime, end: datetime) -> float:
    """The time mean over [start, end] of readings each held until the next."""
    edges = [start, *[t for t, _ in points if start < t < end], end]
    total = sum((b - a).total_seconds() * _held(points, a) for a, b in zip(edges, edges[1:]))
    return total / (end - start).total_seconds()


def _linear(points: list[tuple[datetime, float]], moment: datetime) -> float:
    times = np.array([t.timestamp() for t, _ in points])
    return float(np.interp(moment.timestamp(), times, [v for _, v in points]))


def _posted_series(posted: Any, key: str, issue: datetime, where: str) -> list[tuple[datetime, float]] | None:
    """A posted forecast's (valid time, value) pairs after ``issue``, or None when none is posted."""
    if not posted:
        return None
    pairs = [(parse_moment(t, f"{where}.valid"), float(v)) for t, v in zip(posted["valid"], posted[key], strict=True)]
    ahead = [(t, v) for t, v in pairs if t > issue]
    return ahead or None


def cycle_forcing(session: Session, config: NowcastConfig, posted: dict[str, Any], start: datetime,
                  issue: datetime, rain_grid: RainGrid | None = None, terrain: Grid | None = None) -> CycleForcing:
    """The forcing from ``start`` to ``issue`` + horizon (see the module's description);
    ``rain_grid``: the posted rain grid (``posted["rain_grid"]``), put on ``terrain``'s cells."""
    end = issue + timedelta(seconds=config.horizon_s)
    out = CycleForcing(start, issue, end)
    since = min(start, issue - PERSISTENCE)
    after = issue + timedelta(microseconds=1)
    grid = _grid_ahead(rain_grid, terrain, issue, end) if rain_grid is not None and terrain is not None else None
    if config.rain_gauges or grid is not None:
        gauges = []
        for stream in config.rain_gauges:
            points = readings(session, stream, since, issue)
            if not points:
                raise TwinInputError(f"rain gauge {stream}: no readings between {iso(since)} and {iso(issue)}")
            gauges.append(points)
        moments = sorted({start, *[t for points in gauges for t, _ in points if start < t <= issue]})
        observed = [(t, float(np.mean([_held(p, t) for p in gauges])) if gauges else 0.0) for t in moments]
        head = f"observed to {iso(issue)}" if gauges else f"no rain gauge, so no rain to {iso(issue)}"
        mean = float(np.mean([_held_mean(p, issue - PERSISTENCE, issue) for p in gauges])) if gauges else 0.0
        persistence = f"persistence of the last hour's mean ({mean:.1f} mm/h)" if gauges else "no rain"
        ahead = _posted_series(posted.get("rain"), "mm_per_h", issue, "rain")
        if grid is not None:
            first, times, bands, label = grid
            ahead = [(after, mean)] if first > after else []
            ahead.append((first, 0.0))
            gap = f", {persistence} to {iso(first)}" if first > after else ""
            out.labels["rain"] = f"{head}{gap}, then the rain grid posted at {posted['rain_grid']['posted']} ({label})"
            out.rain_grids, out.rain_grid_times = bands, np.array([config.seconds(t) for t in times])
        elif ahead is not None:
            out.labels["rain"] = f"{head}, then the forecast posted at {posted['rain']['posted']}"
        else:
            ahead = [(after, mean)]
            out.labels["rain"] = f"{head}, then {persistence}"
        points = [p for p in observed if p[0] <= issue] + ahead
        out.rain = Series(np.array([config.seconds(t) for t, _ in points]),
                          np.array([max(v, 0.0) for _, v in points]), hold=True)
    for gauge in config.river_gauges:
        series, label, predicted = _stage(session, config, gauge, posted, start, issue, end)
        out.labels[f"river gauge {gauge.datastream}"] = label
        out.predicted_stage[gauge.datastream] = predicted
        if gauge.side is not None:
            out.stages[gauge.side] = Series(series.times, gauge.datum_m + series.values)
        else:
            t = np.arange(series.times[0], series.times[-1] + SAMPLE_S, SAMPLE_S)
            head = np.maximum(gauge.datum_m + np.interp(t, series.times, series.values) - gauge.crest_m, 0.0)
            out.breaches.append((gauge, Series(t, WEIR_C * gauge.width_m * head ** 1.5)))
    return out


def _grid_ahead(rain_grid: RainGrid, terrain: Grid, issue: datetime,
                end: datetime) -> tuple[datetime, list[datetime], np.ndarray, str] | None:
    """The posted grid's bands in force between ``issue`` and ``end`` on ``terrain``'s cells
    (no data → no rain), when each takes over (the one in force at ``issue`` just after it),
    the first of these times and a description; None when no band falls in that window."""
    valid = rain_grid.valid
    keep = [k for k, v in enumerate(valid) if v < end and (k + 1 == len(valid) or valid[k + 1] > issue)]
    if not keep or valid[-1] <= issue:
        return None
    bands = rain_grid.on(terrain, keep)
    share = float(np.mean(np.isfinite(bands[0])))
    times = [max(valid[k], issue + timedelta(microseconds=1)) for k in keep]
    label = (f"{len(keep)} grid(s) valid from {iso(valid[keep[0]])}, {RESAMPLING.name}-resampled onto the flood grid, "
             f"covering {share:.0%} of the City, no rain from it elsewhere")
    return times[0], times, np.nan_to_num(bands, nan=0.0), label


def _stage(session: Session, config: NowcastConfig, gauge: RiverGauge, posted: dict[str, Any], start: datetime,
           issue: datetime, end: datetime) -> tuple[Series, str, list[tuple[str, float]]]:
    """The gauge's stage (m above its zero) from ``start`` to ``end``, its label, and its
    predicted values at the forecast's output times."""
    since = min(start, issue - PERSISTENCE)
    points = readings(session, gauge.datastream, since, issue)
    if not points:
        raise TwinInputError(f"river gauge {gauge.datastream}: no readings between {iso(since)} and {iso(issue)}")
    observed = [(start, _linear(points, start))] + [(t, v) for t, v in points if start < t <= issue]
    if observed[-1][0] < issue:
        observed.append((issue, points[-1][1]))
    ahead = _posted_series((posted.get("stage") or {}).get(str(gauge.datastream)), "stage_m", issue,
                           f"stage[{gauge.datastream}]")
    if ahead is not None:
        label = f"observed to {iso(issue)}, then the forecast posted at {posted['stage'][str(gauge.datastream)]['posted']}"
    else:
        recent = [(t, v) for t, v in points if t >= issue - PERSISTENCE]
        slope = 0.0  # m/s
        if len(recent) >= 2:
            x = np.array([(t - issue).total_seconds() for t, _ in recent])
            slope = float(np.polyfit(x, [v for _, v in recent], 1)[0])
        last = points[-1][1]
        grid = np.arange(SAMPLE_S, config.horizon_s + SAMPLE_S / 2, SAMPLE_S)
        values = last + np.clip(slope * grid, -TREND_CAP_M, TREND_CAP_M)
        ahead = [(issue + timedelta(seconds=float(s)), float(max(v, 0.0))) for s, v in zip(grid, values)]
        label = (f"observed to {iso(issue)}, then the last hour's trend ({slope * 3600:+.2f} m/h) "
                 f"capped at ±{TREND_CAP_M:g} m")
    pairs = observed + [(t, v) for t, v in ahead if t > issue]
    times = np.array([config.seconds(t) for t, _ in pairs])
    values = np.array([v for _, v in pairs])
    if pairs[-1][0] < end:
        times = np.append(times, config.seconds(end))
        values = np.append(values, values[-1])
    series = Series(times, values)
    steps = np.arange(config.output_interval_s, config.horizon_s + 1e-6, config.output_interval_s)
    predicted = [(iso(issue + timedelta(seconds=float(s))), round(float(series(config.seconds(issue) + s)), 4))
                 for s in steps]
    return series, label, predicted  # type: ignore[return-value]
