"""River alert levels from a gauge's thresholds (警戒レベル, see REFERENCES.md "Rivers").

``Datastream.properties["thresholds"]`` holds water levels in the stream's unit:
``standby`` (水防団待機水位, level 1), ``caution`` (氾濫注意水位, level 2),
``evacuation`` (避難判断水位, level 3) and ``danger`` (氾濫危険水位, level 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from twin.store.models import AlertState

#: Threshold name → the alert level reached at or above it, lowest first.
LEVELS: dict[str, int] = {"standby": 1, "caution": 2, "evacuation": 3, "danger": 4}
LABELS: dict[int, dict[str, str]] = {
    0: {"ja": "平常", "en": "normal"},
    1: {"ja": "水防団待機水位", "en": "standby"},
    2: {"ja": "氾濫注意水位", "en": "flood caution"},
    3: {"ja": "避難判断水位", "en": "evacuation decision"},
    4: {"ja": "氾濫危険水位", "en": "flood danger"},
}


@dataclass(frozen=True)
class AlertChange:
    """A gauge crossing a threshold, up or down."""

    datastream_id: int
    previous: int
    level: int
    value: float
    phenomenon_time: datetime

    def to_json(self) -> dict:
        from twin.sensors.times import iso

        return {"datastream": self.datastream_id, "previousLevel": self.previous, "level": self.level,
                "label": LABELS[self.level], "value": self.value, "phenomenonTime": iso(self.phenomenon_time)}


def thresholds_of(properties: dict | None) -> dict[str, float]:
    """The known, numeric thresholds in ``properties`` (empty when the stream has none)."""
    given = (properties or {}).get("thresholds") or {}
    return {name: float(v) for name, v in given.items() if name in LEVELS and isinstance(v, int | float)}


def level_of(value: float, thresholds: dict[str, float]) -> int:
    """The highest level whose threshold ``value`` reaches (0 below all of them)."""
    return max((LEVELS[name] for name, limit in thresholds.items() if value >= limit), default=0)


def advance(session: Session, datastream_id: int, thresholds: dict[str, float],
            values: list[tuple[datetime, float]]) -> list[AlertChange]:
    """Walk new ``(time, value)`` pairs newer than the stored state; record and return each change."""
    state = session.get(AlertState, datastream_id)
    changes: list[AlertChange] = []
    for moment, value in sorted(values):
        if state is not None and moment <= state.phenomenon_time:
            continue  # late data does not rewrite the present
        level = level_of(value, thresholds)
        previous = state.level if state is not None else 0
        if state is None:
            state = AlertState(datastream_id=datastream_id, level=level, value=value,
                               phenomenon_time=moment, since=datetime.now(UTC))
            session.add(state)
        elif level != state.level:
            state.since = datetime.now(UTC)
        state.level, state.value, state.phenomenon_time = level, value, moment
        if level != previous:
            changes.append(AlertChange(datastream_id, previous, level, value, moment))
    return changes
