"""Designated emergency evacuation sites (指定緊急避難場所): schools and public buildings,
mostly on the terrace, written as GeoJSON and as the official CSV layout.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from citygml.samplecity.buildings import BuildingPlan

#: The official CSV's hazard columns, with the GeoJSON keys used for them.
HAZARD_COLUMNS = {
    "洪水": "flood",
    "崖崩れ、土石流及び地滑り": "landslide",
    "高潮": "storm_surge",
    "地震": "earthquake",
    "津波": "tsunami",
    "大規模な火事": "large_fire",
    "内水氾濫": "inland_flood",
    "火山現象": "volcano",
}
CSV_COLUMNS = ["共通ID", "施設・場所名", "住所", *HAZARD_COLUMNS, "緯度", "経度", "想定収容人数"]
DISTRICTS = [("本町", "Honcho"), ("元町", "Motomachi"), ("仙波", "Senba"), ("連雀", "Renjaku"),
             ("城北", "Johoku"), ("新富", "Shintomi"), ("松江", "Matsue"), ("菅原", "Sugawara"),
             ("野田", "Noda"), ("砂", "Suna"), ("岸", "Kishi"), ("寺尾", "Terao")]
KINDS = {"422": [("小学校", "Elementary School"), ("中学校", "Junior High School"), ("公民館", "Community Hall")],
         "421": [("市民センター", "Civic Centre"), ("地域会館", "Community Centre")]}
SQUARE_METRES_PER_PERSON = 2.0  # planning figure for evacuation space
USABLE_SHARE = 0.6
RESIDENTIAL_USAGES = frozenset({"411", "412", "413", "414", "415"})
#: Residential floor per resident, m² (REFERENCES: 35–40 m² per person, a planning assumption).
FLOOR_PER_RESIDENT = 37.5
#: Residents per designated site: a planning assumption of this sample. Big cities designate one
#: per roughly 900–2,100 residents (GSI's national list of 指定緊急避難場所: Osaka 3,088 sites,
#: Nagoya 1,732, Yokohama 1,796, for about 2.8, 2.3 and 3.8 million people).
RESIDENTS_PER_SHELTER = 1000
BUILDINGS_PER_SHELTER = 150  # and never more sites than one per this many buildings


@dataclass(frozen=True)
class Shelter:
    id: str
    name: str
    name_en: str
    address: str
    lat: float
    lon: float
    capacity: int
    hazards: dict[str, bool]
    building_id: str


def residents(plans: list[BuildingPlan]) -> float:
    """Residents of the town, from its residential floor area."""
    return sum(p.floor_area for p in plans if p.usage in RESIDENTIAL_USAGES) / FLOOR_PER_RESIDENT


def shelter_count(plans: list[BuildingPlan]) -> int:
    """Sites grow with the residents (one per ``RESIDENTS_PER_SHELTER``), at least three."""
    by_people = math.ceil(residents(plans) / RESIDENTS_PER_SHELTER)
    return max(3, min(len(plans) // BUILDINGS_PER_SHELTER, by_people))


def choose_shelters(plans: list[BuildingPlan], count: int, is_high: Callable[[BuildingPlan], bool]) -> list[BuildingPlan]:
    """Public buildings first (largest first), about four in five on high ground."""
    public = [p for p in plans if p.usage in KINDS]
    others = [p for p in plans if p.usage not in KINDS and p.measured_height > 0]
    pool = sorted(public, key=lambda p: -p.floor_area) + sorted(others, key=lambda p: -p.floor_area)
    high = [p for p in pool if is_high(p)]
    low = [p for p in pool if not is_high(p) and (p.storeys or 0) >= 3]
    n_low = min(len(low), count // 5)
    chosen = high[: count - n_low] + low[:n_low]
    return sorted(chosen, key=lambda p: p.number)


def make_shelter(k: int, plan: BuildingPlan, lat: float, lon: float, city_code: str, city: str,
                 river_depth: float, inland_depth: float, near_scarp: bool, building_id: str) -> Shelter:
    district, district_en = DISTRICTS[k % len(DISTRICTS)]
    kinds = KINDS.get(plan.usage, [("地区センター", "District Centre")])
    kind, kind_en = kinds[k % len(kinds)]
    storeys = plan.storeys or 1
    hazards = {
        "flood": river_depth < 0.5 or (storeys >= 3 and river_depth < 3.0 * (storeys - 1)),
        "landslide": not near_scarp,
        "storm_surge": False,
        "earthquake": True,
        "tsunami": False,
        "large_fire": plan.usage == "422",
        "inland_flood": inland_depth < 0.5 or storeys >= 2,
        "volcano": False,
    }
    return Shelter(
        id=f"{city_code}-{k + 1:04d}",
        name=f"{city}立{district}{kind}" if plan.usage == "422" and "学校" in kind else f"{district}{kind}",
        name_en=f"{district_en} {kind_en}",
        address=f"埼玉県{city}{district}{k % 4 + 1}丁目{plan.number % 30 + 1}-{k % 9 + 1}",
        lat=round(lat, 6),
        lon=round(lon, 6),
        capacity=int(plan.floor_area * USABLE_SHARE / SQUARE_METRES_PER_PERSON),
        hazards=hazards,
        building_id=building_id,
    )


def geojson_text(shelters: list[Shelter]) -> str:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
            "properties": {"id": s.id, "name": s.name, "name_en": s.name_en, "address": s.address,
                           "capacity": s.capacity, "hazards": s.hazards, "building_id": s.building_id},
        }
        for s in shelters
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1) + "\n"


def csv_text(shelters: list[Shelter]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for s in shelters:
        flags = ["1" if s.hazards[key] else "" for key in HAZARD_COLUMNS.values()]
        writer.writerow([s.id, s.name, s.address, *flags, f"{s.lat:.6f}", f"{s.lon:.6f}", s.capacity])
    return buffer.getvalue()


def write_shelters(out: Path, shelters: list[Shelter]) -> list[Path]:
    geo, table = out / "shelters.geojson", out / "shelters.csv"
    geo.write_text(geojson_text(shelters), encoding="utf-8")
    table.write_text(csv_text(shelters), encoding="utf-8")
    return [geo, table]

