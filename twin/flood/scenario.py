"""Flood scenarios on a City: a small TOML format, parsed and checked into a ``Scenario``.

A scenario names its forcing in the city's terms (inflows at lon/lat or map x/y, rain in
mm/h, a boundary per side, Manning's n for open ground and roads, how buildings act);
``twin.flood.city_run`` puts it on the City's grid. Built-in scenarios live in
``twin/flood/builtin/*.toml`` and are found by name. The format is documented in docs/flood.md.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sim.flood import SchemeKind, Series
from sim.flood.forcing import SIDES
from twin.depth_classes import WET_DEPTH_M
from twin.errors import TwinInputError

BUILTIN_PACKAGE = "twin.flood.builtin"
BUILDING_MODES = ("walls", "raised", "none")
SCHEMES = ("inertial", "full", "auto")  # sim.flood's schemes; auto lets sim.flood.choose_scheme pick
_TOP_KEYS = {"name", "title", "description", "duration_s", "output_interval_s", "rain", "inflows",
             "boundaries", "manning", "buildings", "arrival_depth_m", "scheme"}


@dataclass(frozen=True)
class InflowSpec:
    """A point (one position) or a line (two) where water enters; ``crs`` says how to read them."""

    name: str
    positions: tuple[tuple[float, float], ...]
    crs: str  # "lonlat" (JGD2011 degrees, lon first) or "map" (the City's local CRS, x first)
    m3_per_s: Series


#: Manning's n of open ground where neither the scenario nor the City's land use gives one.
DEFAULT_MANNING = 0.03


@dataclass(frozen=True)
class Scenario:
    name: str
    title: dict[str, str]
    duration_s: float
    output_interval_s: float
    rain: Series | None = None
    # rain grids (times, rows, cols) in mm/h on the City's flood grid, each held from its time (s)
    # until the next, added to ``rain`` (made by the nowcast from a posted rain grid, not from TOML)
    rain_grids: np.ndarray | None = field(default=None, compare=False)
    rain_grid_times: np.ndarray | None = field(default=None, compare=False)
    inflows: tuple[InflowSpec, ...] = ()
    boundaries: tuple[tuple[str, str | float | Series], ...] = ()  # (side, "closed" | "open" | stage WSE m)
    manning: float | None = None  # None ("land-use"): the City's land-use roughness, else DEFAULT_MANNING
    manning_roads: float = 0.015
    buildings: str = "walls"
    building_height_m: float = 10.0
    arrival_depth_m: float = WET_DEPTH_M  # water this deep wets a cell or a building
    scheme: SchemeKind | Literal["auto"] = "auto"  # the flood scheme (sim.flood.Scheme.kind)
    description: str = ""
    source: str = "<scenario>"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for summaries and the API)."""
        def series(s: Series | None) -> list[list[float]] | None:
            return None if s is None else [[float(t), float(v)] for t, v in zip(s.times, s.values)]

        return {"name": self.name, "title": self.title, "description": self.description,
                "duration_s": self.duration_s, "output_interval_s": self.output_interval_s,
                "rain_mm_per_h": series(self.rain),
                "inflows": [{"name": i.name, "crs": i.crs, "positions": [list(p) for p in i.positions],
                             "m3_per_s": series(i.m3_per_s)} for i in self.inflows],
                "boundaries": {side: series(kind) if isinstance(kind, Series) else kind
                               for side, kind in self.boundaries},
                "manning": self.manning,
                "manning_roads": self.manning_roads, "buildings": self.buildings,
                "arrival_depth_m": self.arrival_depth_m, "scheme": self.scheme}


def builtin_names() -> list[str]:
    """Names of the scenarios shipped in ``twin/flood/builtin/``."""
    folder = resources.files(BUILTIN_PACKAGE)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(ref: str | Path) -> Scenario:
    """A scenario from a TOML file path, or a built-in one by name."""
    return parse_scenario(*scenario_table(ref))


def scenario_table(ref: str | Path) -> tuple[dict[str, Any], str]:
    """The raw table of a TOML file or a built-in scenario (to merge overrides into) and its source."""
    path = Path(ref)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise TwinInputError(f"{path}: no such scenario file")
        return _toml_table(path.read_text(encoding="utf-8"), str(path)), str(path)
    name = str(ref)
    if name not in builtin_names():
        raise TwinInputError(f"unknown scenario {name!r}: give a .toml file or one of {', '.join(builtin_names())}")
    text = resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return _toml_table(text, f"scenario {name}"), f"scenario {name}"


def parse_toml(text: str, source: str) -> Scenario:
    return parse_scenario(_toml_table(text, source), source)


def _toml_table(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TwinInputError(f"{source}: not valid TOML ({exc})") from None


def with_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``data`` with top-level keys replaced by ``overrides`` (tables merged one level deep)."""
    merged = dict(data)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def builtin_data(name: str) -> dict[str, Any]:
    """The raw table of a built-in scenario (to merge overrides into before parsing)."""
    if name not in builtin_names():
        raise TwinInputError(f"unknown scenario {name!r}: one of {', '.join(builtin_names())}")
    return tomllib.loads(resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.toml").read_text(encoding="utf-8"))


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Check a scenario table (from TOML or JSON); errors name ``source`` and the key."""
    p = _Parser(source)
    if not isinstance(data, dict):
        raise p.error("", "a scenario is a table of keys")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise p.error(unknown[0], f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    name = p.text(data, "name")
    title = data.get("title", {"en": name, "ja": name})
    if isinstance(title, str):
        title = {"en": title, "ja": title}
    if not isinstance(title, dict) or not all(isinstance(v, str) for v in title.values()):
        raise p.error("title", "expected a string or a table {ja = \"…\", en = \"…\"}")
    duration = p.number(data, "duration_s", minimum=0.0)
    interval = p.number(data, "output_interval_s", default=max(duration / 10, 1.0), positive=True)
    manning = data.get("manning", {})
    if not isinstance(manning, dict):
        raise p.error("manning", "expected a table {default = 0.03 (or \"land-use\"), roads = 0.015}")
    buildings = data.get("buildings", {})
    if isinstance(buildings, str):
        buildings = {"mode": buildings}
    if not isinstance(buildings, dict):
        raise p.error("buildings", "expected \"walls\", \"raised\", \"none\" or a table {mode, height_m}")
    mode = buildings.get("mode", "walls")
    if mode not in BUILDING_MODES:
        raise p.error("buildings.mode", f"one of {', '.join(BUILDING_MODES)}, got {_shown(mode)}")
    scheme = data.get("scheme", "auto")
    if scheme not in SCHEMES:
        raise p.error("scheme", f"one of {', '.join(SCHEMES)}, got {_shown(scheme)}")
    return Scenario(
        name=name, title={str(k): v for k, v in title.items()},
        description=str(data.get("description", "")),
        duration_s=duration, output_interval_s=interval,
        rain=p.rain(data.get("rain")),
        inflows=tuple(p.inflow(spec, i) for i, spec in enumerate(p.array(data, "inflows"))),
        boundaries=p.boundaries(data.get("boundaries", {})),
        manning=(None if manning.get("default", "land-use") == "land-use"
                 else p.number(manning, "default", minimum=0.0, prefix="manning.")),
        manning_roads=p.number(manning, "roads", default=0.015, minimum=0.0, prefix="manning."),
        buildings=mode,
        building_height_m=p.number(buildings, "height_m", default=10.0, minimum=0.0, prefix="buildings."),
        arrival_depth_m=p.number(data, "arrival_depth_m", default=WET_DEPTH_M, positive=True),
        scheme=scheme,
        source=source,
    )


def scale_rain(scenario: Scenario, mm_per_h: float) -> Scenario:
    """The scenario with its rain's peak set to ``mm_per_h`` (its shape kept)."""
    if scenario.rain is None or scenario.rain.values.max() <= 0:
        return replace(scenario, rain=Series.constant(mm_per_h))
    factor = mm_per_h / scenario.rain.values.max()
    return replace(scenario, rain=Series(scenario.rain.times, scenario.rain.values * factor, hold=True))


def finite(value: int | float) -> bool:
    """True for a finite number that a float holds (JSON and TOML integers may have any size)."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond a float's range
        return False


def _shown(value: Any, limit: int = 60) -> str:
    """``value`` as the error shows it, cut short (with …) if long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, what: str) -> TwinInputError:
        return TwinInputError(f"{self.source}: {key}: {what}" if key else f"{self.source}: {what}")

    def text(self, table: dict, key: str) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "required, a non-empty string")
        return value.strip()

    def number(self, table: dict, key: str, default: float | None = None, minimum: float | None = None,
               positive: bool = False, prefix: str = "") -> float:
        value = table.get(key, default)
        if value is None:
            raise self.error(prefix + key, "required, a number")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not finite(value):
            raise self.error(prefix + key, f"expected a number, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise self.error(prefix + key, f"must be at least {minimum:g}, got {value:g}")
        if positive and value <= 0:
            raise self.error(prefix + key, f"must be positive, got {value:g}")
        return float(value)

    def array(self, table: dict, key: str) -> list:
        value = table.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, "expected an array of tables ([[inflows]])")
        return value

    def series(self, value: Any, key: str, hold: bool, minimum: float | None = 0.0) -> Series:
        """A number (constant) or [[time_s, value], ...] with increasing times."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not finite(value) or (minimum is not None and value < minimum):
                raise self.error(key, f"must be a finite number ≥ {minimum:g}, got {_shown(value)}")
            return Series.constant(float(value))
        ok = isinstance(value, list) and value and all(
            isinstance(r, list) and len(r) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in r) for r in value)
        if not ok:
            raise self.error(key, f"expected a number or [[time_s, value], ...], got {_shown(value)}")
        if not all(finite(v) for r in value for v in r):
            raise self.error(key, "holds NaN, infinite or out-of-range values")
        arr = np.array(value, dtype=float)
        if np.any(np.diff(arr[:, 0]) <= 0):
            raise self.error(key, "times must increase from row to row")
        if minimum is not None and arr[:, 1].min() < minimum:
            raise self.error(key, f"values must be ≥ {minimum:g}")
        return Series(arr[:, 0], arr[:, 1], hold=hold)

    def rain(self, value: Any) -> Series | None:
        if value is None:
            return None
        if isinstance(value, dict):
            keys = set(value) & {"mm_per_h", "series"}
            if len(keys) != 1 or set(value) - {"mm_per_h", "series"}:
                raise self.error("rain", "give exactly one of mm_per_h = N or series = [[time_s, mm_per_h], ...]")
            key = keys.pop()
            return self.series(value[key], f"rain.{key}", hold=True)
        return self.series(value, "rain", hold=True)

    def inflow(self, spec: Any, index: int) -> InflowSpec:
        where = f"inflows[{index}]"
        if not isinstance(spec, dict):
            raise self.error(where, "expected a table")
        unknown = set(spec) - {"name", "lonlat", "xy", "m3_per_s"}
        if unknown:
            raise self.error(f"{where}.{sorted(unknown)[0]}", "unknown key (known: name, lonlat, xy, m3_per_s)")
        keys = [k for k in ("lonlat", "xy") if k in spec]
        if len(keys) != 1:
            raise self.error(where, "give exactly one of lonlat = [lon, lat] or xy = [x, y] "
                                    "(a line: [[lon1, lat1], [lon2, lat2]])")
        key = keys[0]
        positions = self.positions(spec[key], f"{where}.{key}")
        if key == "lonlat":
            for lon, lat in positions:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise self.error(f"{where}.lonlat", f"({lon:g}, {lat:g}) is not a lon/lat in degrees")
        if "m3_per_s" not in spec:
            raise self.error(f"{where}.m3_per_s", "required: a number or [[time_s, m3_per_s], ...]")
        return InflowSpec(name=str(spec.get("name", f"inflow{index + 1}")), positions=positions,
                          crs="lonlat" if key == "lonlat" else "map",
                          m3_per_s=self.series(spec["m3_per_s"], f"{where}.m3_per_s", hold=False))

    def positions(self, value: Any, key: str) -> tuple[tuple[float, float], ...]:
        def pair(v: Any) -> bool:
            return (isinstance(v, list) and len(v) == 2
                    and all(isinstance(c, (int, float)) and not isinstance(c, bool) and finite(c) for c in v))

        if pair(value):
            return ((float(value[0]), float(value[1])),)
        if isinstance(value, list) and len(value) == 2 and all(pair(v) for v in value):
            return tuple((float(v[0]), float(v[1])) for v in value)
        raise self.error(key, f"expected [a, b] (a point) or [[a1, b1], [a2, b2]] (a line), got {_shown(value)}")

    def boundaries(self, value: Any) -> tuple[tuple[str, str | float | Series], ...]:
        if not isinstance(value, dict):
            raise self.error("boundaries", "expected a table such as {east = \"open\", north = 12.5}")
        out = []
        for side, kind in value.items():
            if side not in SIDES:
                raise self.error(f"boundaries.{side}", f"unknown side (one of {', '.join(SIDES)})")
            if kind in ("closed", "open"):
                out.append((side, kind))
            elif isinstance(kind, (int, float)) and not isinstance(kind, bool) and finite(kind):
                out.append((side, float(kind)))
            elif isinstance(kind, list):  # a stage hydrograph, e.g. from a river gauge
                out.append((side, self.series(kind, f"boundaries.{side}", hold=False, minimum=None)))
            else:
                raise self.error(f"boundaries.{side}", f"\"closed\", \"open\", a stage (WSE, m) or "
                                                       f"[[time_s, WSE m], ...], got {_shown(kind)}")
        return tuple(out)
