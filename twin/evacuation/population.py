"""People in a City's buildings by time of day, from floor area and an occupancy table.

A building's floor area is its footprint (local CRS) × its storeys above ground (or
height / 3 m, at least 1, when the storeys are unknown). Its people are that area × the
density of its PLATEAU usage code (建物利用現況 ``usage``) at night or by day. The default
table is a planning assumption, not a census; pass your own CSV with the same columns
(``usage_code,label,night_per_m2,day_per_m2``; code ``*`` is the fallback) to override it.

Sources of the defaults (persons per m² of gross floor area):

* Residents: about 35–40 m² of floor per person (総務省 住宅・土地統計調査 2018: 39.8 m² of
  dwelling per person in detached houses; about 30 m² in flats, whose gross area also holds
  corridors): houses 1/40, flats 1/35; mixed-use houses count half their floor as housing.
* Daytime: 40 % of residents at home (a planning assumption close to the daytime/night-time
  population ratio of residential wards, 国勢調査 2020 昼間人口); offices 1 person per 12 m²
  (10–15 m²), shops 1 per 10 m² of gross floor (1 per 5–10 m² of sales floor), schools and
  welfare facilities 1 per 8 m² (建築基準法 告示1441号 design densities scaled to gross floor).

Shares of elderly people (2020 census: 28.6 % aged 65 and over) and of people who need help
(about 5.4 %: 6.8 million people certified for long-term care, 介護保険事業状況報告 FY2020)
split the people into the evacuation profiles ``elderly`` and ``needs_help`` (disjoint:
the default elderly share is 28.6 % − 5.4 % = 23.2 %, the rest ``adult``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sim.evacuation import DEFAULT_PROFILES, Distribution
from twin.city.heights import STOREY_HEIGHT_M
from twin.errors import TwinInputError

TIMES_OF_DAY = ("day", "night")
TABLE_COLUMNS = ("usage_code", "label", "night_per_m2", "day_per_m2")
FALLBACK = "*"
ELDERLY_SHARE = 0.232
NEEDS_HELP_SHARE = 0.054
#: Night-time walking speeds are 0.8 × the daytime ones (Cabinet Office, Nankai Trough damage estimate).
NIGHT_SPEED_FACTOR = 0.8
#: Mean pre-evacuation delay (s) after the order: 5 min by day, 10 min at night (the same
#: estimate's "quick evacuees"); the spread is half the mean, truncated at zero.
DELAY_MEAN_S = {"day": 300.0, "night": 600.0}

_HOME_BY_DAY = 0.4
#: (usage code, label, night, day) in persons per m² of floor; see the module docstring.
DEFAULT_OCCUPANCY: tuple[tuple[str, str, float, float], ...] = (
    ("401", "業務施設 offices", 0.0, 1 / 12),
    ("402", "商業施設 shops", 0.0, 1 / 10),
    ("403", "宿泊施設 hotels", 1 / 25, 1 / 60),
    ("404", "商業系複合施設 commercial complexes", 0.0, 1 / 10),
    ("411", "住宅 houses", 1 / 40, _HOME_BY_DAY / 40),
    ("412", "共同住宅 flats", 1 / 35, _HOME_BY_DAY / 35),
    ("413", "店舗等併用住宅 houses with shops", 0.5 / 40, 0.5 * _HOME_BY_DAY / 40 + 0.5 / 10),
    ("414", "店舗等併用共同住宅 flats with shops", 0.5 / 35, 0.5 * _HOME_BY_DAY / 35 + 0.5 / 10),
    ("415", "作業所併用住宅 houses with workshops", 0.5 / 40, 0.5 * _HOME_BY_DAY / 40 + 0.5 / 30),
    ("421", "官公庁施設 public offices", 0.0, 1 / 12),
    ("422", "文教厚生施設 schools, hospitals, welfare", 1 / 100, 1 / 8),
    ("431", "運輸倉庫施設 transport and warehouses", 0.0, 1 / 100),
    ("441", "工場 factories", 0.0, 1 / 30),
    (FALLBACK, "その他・不明 other or unknown", 0.0, 1 / 50),
)


@dataclass(frozen=True, slots=True)
class Occupancy:
    """Persons per m² of floor by usage code, at night and by day."""

    table: pd.DataFrame  # index usage_code; columns label, night_per_m2, day_per_m2

    def density(self, usage_codes: pd.Series, time_of_day: str) -> np.ndarray:
        """Persons per m² for each usage code (the ``*`` row for codes not in the table)."""
        column = f"{_time_of_day(time_of_day)}_per_m2"
        codes = usage_codes.astype("string").fillna(FALLBACK).str.strip()
        known = codes.isin(self.table.index)
        return self.table[column].reindex(codes.where(known, FALLBACK)).to_numpy(float)

    def to_csv(self, path: Path) -> None:
        self.table.reset_index().to_csv(path, index=False, columns=list(TABLE_COLUMNS))


def default_occupancy() -> Occupancy:
    rows = pd.DataFrame(DEFAULT_OCCUPANCY, columns=list(TABLE_COLUMNS))
    return Occupancy(rows.set_index("usage_code"))


def read_occupancy(path: Path) -> Occupancy:
    """An occupancy table from a CSV ``usage_code,label,night_per_m2,day_per_m2``; it must have a
    ``*`` row (the fallback for codes it does not list)."""
    if not path.is_file():
        raise TwinInputError(f"{path}: no such occupancy table")
    try:
        table = pd.read_csv(path, dtype={"usage_code": str, "label": str}, skipinitialspace=True,
                            encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TwinInputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise TwinInputError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(TABLE_COLUMNS)})")
    table["usage_code"] = table["usage_code"].astype(str).str.strip()
    for col in ("night_per_m2", "day_per_m2"):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = ~(values >= 0)
        if bad.any():
            k = int(np.argmax(bad.to_numpy()))
            raise TwinInputError(f"{path}: line {k + 2}: {col} {table[col].iloc[k]!r} is not a density ≥ 0")
        table[col] = values
    if table["usage_code"].duplicated().any():
        k = int(np.argmax(table["usage_code"].duplicated().to_numpy()))
        raise TwinInputError(f"{path}: line {k + 2}: usage_code {table['usage_code'].iloc[k]} appears twice")
    if FALLBACK not in set(table["usage_code"]):
        raise TwinInputError(f"{path}: needs a row with usage_code {FALLBACK} (the fallback for other codes)")
    return Occupancy(table.set_index("usage_code")[["label", "night_per_m2", "day_per_m2"]])


def floor_area(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Footprint area (m², in the frame's metric CRS) × storeys above ground."""
    if buildings.crs is None or not buildings.crs.is_projected:
        raise TwinInputError("floor areas need buildings in a projected (metric) CRS")
    return buildings.geometry.area.to_numpy(float) * storeys(buildings)


def storeys(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Storeys above ground; from height / 3 m (at least 1) where unknown."""
    n = len(buildings)
    given = pd.to_numeric(buildings["storeys"], errors="coerce").to_numpy(float) \
        if "storeys" in buildings else np.full(n, np.nan)
    height = pd.to_numeric(buildings["height"], errors="coerce").to_numpy(float) \
        if "height" in buildings else np.full(n, np.nan)
    guess = np.maximum(1.0, np.round(np.nan_to_num(height, nan=STOREY_HEIGHT_M) / STOREY_HEIGHT_M))
    return np.where(np.isfinite(given) & (given > 0), given, guess)


def building_people(buildings: gpd.GeoDataFrame, occupancy: Occupancy, time_of_day: str) -> np.ndarray:
    """People in each building at ``time_of_day`` (fractional: expected values)."""
    codes = buildings["usage_code"] if "usage_code" in buildings else pd.Series(pd.NA, index=buildings.index)
    return floor_area(buildings) * occupancy.density(codes, time_of_day)


def profile_shares(elderly: float, needs_help: float) -> dict[str, float]:
    """Share of each evacuation profile; the two given shares are of the whole population."""
    for name, value in (("elderly share", elderly), ("needs-help share", needs_help)):
        if not 0 <= value <= 1:
            raise TwinInputError(f"{name} must lie in 0..1, got {value:g}")
    if elderly + needs_help > 1:
        raise TwinInputError(f"elderly ({elderly:g}) and needs-help ({needs_help:g}) shares add up to more than 1")
    return {"adult": 1.0 - elderly - needs_help, "elderly": elderly, "needs_help": needs_help}


def sample_agents(people: np.ndarray, people_per_agent: float, shares: dict[str, float],
                  rng: np.random.Generator) -> pd.DataFrame:
    """Agents per building: ``people / k`` rounded stochastically (expected value exact); each
    carries ``weight`` = its building's people / its building's agents, so weights add up to the
    people of every building that has an agent. Profiles are drawn with ``shares``."""
    if not people_per_agent >= 1:
        raise TwinInputError(f"people per agent must be ≥ 1, got {people_per_agent:g}")
    expected = people / people_per_agent
    count = np.floor(expected + rng.random(len(people))).astype(np.int64)
    building = np.repeat(np.arange(len(people)), count)
    weight = np.repeat(np.divide(people, count, out=np.zeros_like(people), where=count > 0), count)
    names = np.array(list(shares))
    profile = names[rng.choice(len(names), size=len(building), p=np.array(list(shares.values())))]
    return pd.DataFrame({"building": building, "weight": weight, "profile": profile})



def speeds_and_delays(profile: np.ndarray, time_of_day: str,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Walking speed (m/s) by each agent's profile, slower at night, and its delay (s) before leaving."""
    speed = np.empty(len(profile))
    for name in np.unique(profile):
        sel = profile == name
        speed[sel] = DEFAULT_PROFILES[name].speed.sample(rng, int(sel.sum()))
    if time_of_day == "night":
        speed *= NIGHT_SPEED_FACTOR
    mean = DELAY_MEAN_S[time_of_day]
    delay = Distribution(mean, mean / 2, 0.0, 4 * mean).sample(rng, len(profile))
    return speed, delay

def _time_of_day(value: str) -> str:
    if value not in TIMES_OF_DAY:
        raise TwinInputError(f"time of day must be 'day' or 'night', got {value!r}")
    return value
