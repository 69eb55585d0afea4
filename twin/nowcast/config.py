"""A City's nowcast settings: which gauges drive it, how often it runs and how far it looks.

Rain gauges give the City's rain (their mean, uniform over the grid). A river gauge drives
either a stage held on one side of the grid (``side``) or a levee breach (``breach``: a line
of two lon/lat points where the river spills over a crest at ``crest_m`` T.P., as a
broad-crested weir, see :mod:`twin.nowcast.forcing`). A gauge reads metres above its zero;
``datum_m`` (T.P.) turns that into a water-surface elevation.

The settings live in ``nowcast/config.json`` of the City's nowcast folder
(:class:`twin.nowcast.folder.NowcastFolder`); ``origin`` is the moment the model's clock counts
from (seconds since then), set again at each cold start so that the clock's times stay small.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sim.flood.forcing import SIDES
from twin.errors import TwinInputError
from twin.flood.scenario import finite
from twin.sensors.times import iso, parse_moment
from twin.store.models import Datastream

SCHEMES = ("auto", "inertial", "full")


@dataclass(frozen=True)
class RiverGauge:
    """A river gauge and the boundary it drives: a ``side`` stage, or a ``breach`` line."""

    datastream: int
    datum_m: float = 0.0
    side: str | None = None
    breach: tuple[tuple[float, float], tuple[float, float]] | None = None  # (lon, lat) × 2
    width_m: float = 50.0  # breach width
    crest_m: float = 0.0  # breach crest, m T.P.

    def __post_init__(self) -> None:
        where = f"river gauge {self.datastream}"
        if (self.side is None) == (self.breach is None):
            raise TwinInputError(f"{where}: give a side ({', '.join(SIDES)}) or a breach line, one of them")
        if self.side is not None and self.side not in SIDES:
            raise TwinInputError(f"{where}: side {self.side!r} is not one of {', '.join(SIDES)}")
        if self.breach is not None:
            try:
                (a, b), (c, d) = self.breach
                line = ((float(a), float(b)), (float(c), float(d)))
            except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond a float's range
                raise TwinInputError(f"{where}: a breach is two [lon, lat] points") from None
            if not all(math.isfinite(v) for p in line for v in p):
                raise TwinInputError(f"{where}: the breach points must be finite")
            object.__setattr__(self, "breach", line)
            if not self.width_m > 0:
                raise TwinInputError(f"{where}: the breach width must be positive, got {self.width_m}")
        for name in ("datum_m", "crest_m", "width_m"):
            if not finite(getattr(self, name)):
                raise TwinInputError(f"{where}: {name} must be finite")


@dataclass(frozen=True)
class NowcastConfig:
    """One City's nowcast: gauges, cycle and horizon (s), scheme, cell size (m), alert lead time."""

    city: str
    origin: datetime
    rain_gauges: tuple[int, ...] = ()
    river_gauges: tuple[RiverGauge, ...] = ()
    cycle_s: float = 600.0
    horizon_s: float = 3 * 3600.0
    scheme: str = "auto"
    cell_size_m: float = 8.0
    alert_lead_s: float = 3600.0  # alert when buildings or shelters flood within this time
    alert_depth_m: float = 0.5  # the depth that counts as "flooded" for alerts and time to leave
    output_interval_s: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.rain_gauges and not self.river_gauges:
            raise TwinInputError("a nowcast needs at least one rain gauge or river gauge")
        if len(set(self.rain_gauges)) != len(self.rain_gauges):
            raise TwinInputError("a rain gauge is listed twice")
        for name, low, high in (("cycle_s", 60, 86400), ("horizon_s", 600, 2 * 86400),
                                ("cell_size_m", 1, 100), ("alert_lead_s", 0, 2 * 86400),
                                ("alert_depth_m", 0.01, 10), ("output_interval_s", 60, 3600)):
            value = getattr(self, name)
            # the range test also refuses NaN, infinities and integers beyond a float's range
            if not (isinstance(value, int | float) and low <= value <= high):
                raise TwinInputError(f"{name} must lie between {low:g} and {high:g}, got {value!r}")
        if self.scheme not in SCHEMES:
            raise TwinInputError(f"scheme {self.scheme!r}: one of {', '.join(SCHEMES)}")
        if self.origin.tzinfo is None:
            raise TwinInputError("the nowcast's origin needs a time zone")

    def seconds(self, moment: datetime) -> float:
        """``moment`` on the model's clock: seconds since ``origin``."""
        return (moment - self.origin).total_seconds()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        out["origin"] = iso(self.origin)
        out["river_gauges"] = [{k: v for k, v in asdict(g).items() if v is not None} for g in self.river_gauges]
        return out

    @classmethod
    def from_json(cls, data: Any, city: str, origin: datetime | None = None) -> NowcastConfig:
        """Settings from a JSON object (the API's body, ``config.json``); ``origin`` when new."""
        if not isinstance(data, dict):
            raise TwinInputError("the nowcast settings are a JSON object")
        known = {"rain_gauges", "river_gauges", "cycle_s", "horizon_s", "scheme", "cell_size_m", "alert_lead_s",
                 "alert_depth_m", "output_interval_s", "origin", "city"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TwinInputError(f"unknown nowcast settings: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if "origin" in data:
            origin = parse_moment(data["origin"], "origin")
        rivers = data.get("river_gauges", [])
        if not isinstance(rivers, list) or not all(isinstance(r, dict) for r in rivers):
            raise TwinInputError("river_gauges is a list of objects {datastream, datum_m, side | breach, ...}")
        gauges = []
        for r in rivers:
            extra = sorted(set(r) - {"datastream", "datum_m", "side", "breach", "width_m", "crest_m"})
            if extra:
                raise TwinInputError(f"river gauge: unknown keys {', '.join(extra)}")
            if not isinstance(r.get("datastream"), int):
                raise TwinInputError("river gauge: datastream must be an integer id")
            try:
                args: dict[str, Any] = {k: (float(v) if k in ("datum_m", "width_m", "crest_m") else v)
                                        for k, v in r.items()}
                gauges.append(RiverGauge(**args))
            except (TypeError, ValueError) as exc:
                if isinstance(exc, TwinInputError):
                    raise
                raise TwinInputError(f"river gauge {r.get('datastream')}: {exc}") from None
        rain = data.get("rain_gauges", [])
        if not isinstance(rain, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in rain):
            raise TwinInputError("rain_gauges is a list of datastream ids")
        numbers: dict[str, Any] = {k: data[k] for k in ("cycle_s", "horizon_s", "cell_size_m", "alert_lead_s", "alert_depth_m",
                                        "output_interval_s") if k in data}
        for k, v in numbers.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise TwinInputError(f"{k} must be a number, got {v!r}")
        scheme = data.get("scheme", "auto")
        return cls(city=city, origin=origin or _hour(datetime.now(UTC)), rain_gauges=tuple(rain),
                   river_gauges=tuple(gauges), scheme=scheme,
                   **{k: float(v) for k, v in numbers.items()})  # type: ignore[arg-type]

    def checked(self, session: Session) -> NowcastConfig:
        """This config after checking that every gauge is a datastream of the store."""
        for stream in (*self.rain_gauges, *(g.datastream for g in self.river_gauges)):
            if session.get(Datastream, stream) is None:
                raise TwinInputError(f"gauge {stream}: no such datastream in the sensor store")
        return self

    def with_origin(self, origin: datetime) -> NowcastConfig:
        return replace(self, origin=origin)


def _hour(moment: datetime) -> datetime:
    """The start of ``moment``'s hour (a round clock origin)."""
    return moment.replace(minute=0, second=0, microsecond=0)
