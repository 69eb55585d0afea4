"""Scoring past forecasts against the observations that arrived after them.

Each forecast keeps, per river gauge, the stage it predicted at its output times. Once
readings cover a valid time, the forecast is scored there: the error (predicted − observed,
m) by lead time; and for each threshold of the gauge (``twin.sensors.alerts``: 避難判断水位
and the others), whether the forecast predicted a crossing within its horizon and whether
the observations crossed (a hit, a miss, a false alarm or a correct negative; the standard
2×2 contingency table, Jolliffe & Stephenson 2012, *Forecast Verification*, ch. 3). A
threshold is scored only when the observations cover the whole horizon.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from twin.nowcast.folder import NowcastFolder
from twin.nowcast.forcing import readings
from twin.sensors.alerts import thresholds_of
from twin.sensors.times import iso, parse_moment
from twin.store.models import Datastream

#: A valid time is scored when a reading lies this close to it on each side (or on it).
COVER = timedelta(minutes=15)


def _observed_at(points: list[tuple[datetime, float]], moment: datetime) -> float | None:
    """The reading at ``moment``, linear between the readings around it when both are within ``COVER``."""
    before = [(t, v) for t, v in points if t <= moment]
    after = [(t, v) for t, v in points if t >= moment]
    if not before or not after or moment - before[-1][0] > COVER or after[0][0] - moment > COVER:
        return None
    (t0, v0), (t1, v1) = before[-1], after[0]
    if t1 == t0:
        return v0
    return v0 + (v1 - v0) * (moment - t0).total_seconds() / (t1 - t0).total_seconds()


def score_forecast(session: Session, forecast: dict[str, Any]) -> dict[str, Any]:
    """One forecast's scores per river gauge: errors by lead time and threshold outcomes."""
    issued = parse_moment(forecast["issued"], "issued")
    valid_to = parse_moment(forecast["valid_to"], "valid_to")
    gauges = {}
    for stream_id, predicted in (forecast.get("gauges") or {}).items():
        points = readings(session, int(stream_id), issued - COVER, valid_to + COVER)
        errors = []
        for valid, value in predicted:
            moment = parse_moment(valid, "valid")
            seen = _observed_at(points, moment)
            if seen is not None:
                errors.append({"valid": valid, "lead_s": (moment - issued).total_seconds(),
                               "predicted_m": value, "observed_m": round(seen, 4), "error_m": round(value - seen, 4)})
        stream = session.get(Datastream, int(stream_id))
        covered = bool(points) and points[-1][0] >= valid_to and len(errors) == len(predicted)
        crossings = {}
        for name, level in thresholds_of(stream.properties if stream is not None else None).items():
            if not covered:
                crossings[name] = {"threshold_m": level, "outcome": "pending"}
                continue
            inside = [v for t, v in points if issued < t <= valid_to]
            will = any(v >= level for _, v in predicted)
            did = any(v >= level for v in inside)
            outcome = {(True, True): "hit", (False, True): "miss", (True, False): "false alarm",
                       (False, False): "correct negative"}[(will, did)]
            crossings[name] = {"threshold_m": level, "predicted": will, "observed": did, "outcome": outcome}
        gauges[stream_id] = {"errors": errors, "thresholds": crossings,
                             "mean_abs_error_m": round(float(np.mean([abs(e["error_m"]) for e in errors])), 4)
                             if errors else None}
    return {"issued": forecast["issued"], "valid_to": forecast["valid_to"], "gauges": gauges}


def verification(session: Session, folder: NowcastFolder) -> dict[str, Any]:
    """Every kept forecast scored, and per gauge the mean absolute error by lead time and the
    threshold outcomes counted over all forecasts."""
    scored = [score_forecast(session, folder.forecast(stamp)) for stamp in folder.issued()]
    summary: dict[str, Any] = {}
    for item in scored:
        for stream_id, g in item["gauges"].items():
            s = summary.setdefault(stream_id, {"by_lead": {}, "outcomes": {}})
            for e in g["errors"]:
                s["by_lead"].setdefault(str(int(e["lead_s"])), []).append(abs(e["error_m"]))
            for name, c in g["thresholds"].items():
                counts = s["outcomes"].setdefault(name, {})
                counts[c["outcome"]] = counts.get(c["outcome"], 0) + 1
    for s in summary.values():
        s["by_lead"] = [{"lead_s": int(lead), "mean_abs_error_m": round(float(np.mean(v)), 4), "forecasts": len(v)}
                        for lead, v in sorted(s["by_lead"].items(), key=lambda kv: int(kv[0]))]
    return {"city": folder.city, "computed": iso(datetime.now().astimezone()), "forecasts": scored,
            "gauges": summary}
