"""A shelter list the user gives (official CSV layout or GeoJSON) as the City's ``shelters.geojson``.

The list is read and checked by ``twin.city.shelters.read_shelters`` (the one reader of shelter
lists); a GeoJSON is kept as given (its hazard flags and extra properties too), a CSV becomes
GeoJSON points of the sites it designates for floods.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from twin.city.shelters import read_shelters


def shelters_geojson(path: Path) -> bytes:
    """The City's shelters.geojson bytes for the shelter list at ``path`` (TwinInputError if unreadable)."""
    table = read_shelters(path)
    if path.suffix.lower() in (".geojson", ".json"):
        return path.read_bytes()
    features = [{"type": "Feature", "id": row.shelter_id,
                 "geometry": {"type": "Point", "coordinates": [float(row.lon), float(row.lat)]},
                 "properties": {"id": row.shelter_id, "name": row.name, "name_en": row.name_en,
                                "capacity": None if not np.isfinite(row.capacity) else float(row.capacity),
                                "hazards": {"flood": True}, "source": path.name}}
                for row in table.itertuples(index=False)]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode("utf-8")
