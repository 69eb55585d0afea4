"""Public footfall as features: one per named area and local day, k-anonymised.

The day totals are ``twin.sensors.footfall.summary``'s under the public rules whatever the
caller's role: cells counting fewer than ``k`` people and areas with fewer than
``min_counters`` counters are withheld and add to no total, so a device's own series never
leaves through OGC API, the exports or the catalogue (docs/data-policy.md).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from twin.lonlat import LONLAT
from twin.sensors import footfall
from twin.sensors.footfall_areas import Area

#: Columns and their JSON Schema types (the collection's queryables).
TYPES = {"id": "string", "area": "string", "name": "string", "name_en": "string", "date": "string",
         "people": "number", "partial": "boolean", "withheld": "boolean", "counters": "integer", "k": "integer"}
COLUMNS = tuple(TYPES)


def daily_aggregates(session: Session, bbox: tuple[float, float, float, float], areas: list[Area],
                     period: footfall.Period, k: int, min_counters: int) -> gpd.GeoDataFrame:
    """Per area and day: people counted in published hours (None if none), ``partial``, ``withheld``."""
    rules = footfall.Rules(public=True, k=k, min_counters=min_counters)
    found = footfall.counters(session, bbox)
    groups = footfall.members(areas, found)
    cells = footfall.hourly_cells(session, [c.datastream_id for c in found], period)
    rows, geometries = [], []
    for area in areas:
        members = groups[area.id]
        result = footfall.summary(footfall.area_cells(cells, [c.datastream_id for c in members]), period, rules,
                                  len(members))
        for day in result["daily"]:
            rows.append({"id": f"{area.id}-{day['date']}", "area": area.id, "name": area.name,
                         "name_en": area.name_en, "date": day["date"], "people": day["count"],
                         "partial": day["partial"], "withheld": result["suppressed"], "counters": len(members),
                         "k": rules.k})
            geometries.append(area.geometry)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["people"] = pd.to_numeric(frame["people"], errors="coerce")
    return gpd.GeoDataFrame(frame, geometry=geometries, crs=LONLAT)
