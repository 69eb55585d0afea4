"""ISO 8601 moments and intervals as sensors send them: a time zone is required."""

from __future__ import annotations

from datetime import UTC, datetime

from twin.sensors.errors import SensorInputError


def parse_moment(text: object, field: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text; a moment without a zone is refused."""
    if not isinstance(text, str):
        raise SensorInputError(f"{field}: expected an ISO 8601 time string, got {type(text).__name__}")
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise SensorInputError(f"{field}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SensorInputError(f"{field}: {text!r} has no time zone (add 'Z' or '+09:00')")
    return moment.astimezone(UTC)


def parse_period(text: object, field: str) -> tuple[datetime, datetime | None]:
    """A moment, or an interval ``start/end`` (end after start)."""
    if isinstance(text, str) and "/" in text:
        start_text, end_text = text.split("/", 1)
        start, end = parse_moment(start_text, field), parse_moment(end_text, field)
        if end < start:
            raise SensorInputError(f"{field}: interval {text!r} ends before it starts")
        return start, end
    return parse_moment(text, field), None


def iso(moment: datetime | None) -> str | None:
    """``2024-06-01T03:00:00Z`` (UTC, Z suffix), or None."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def period(start: datetime, end: datetime | None) -> str:
    """The STA text of a phenomenonTime: a moment or ``start/end``."""
    return f"{iso(start)}/{iso(end)}" if end is not None else iso(start)  # type: ignore[return-value]
