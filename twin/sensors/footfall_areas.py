"""Named areas for footfall: a GeoJSON FeatureCollection of polygons per city.

Kept at ``DATA_DIR/areas/<city>.geojson`` — beside, not inside, the converted city, so a
re-conversion keeps them. Each feature has ``properties.id`` (letters, digits, ``-_``),
``name`` (Japanese) and optionally ``name_en``; geometry is a Polygon or MultiPolygon in
lon/lat (WGS84/JGD2011).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from twin.files.atomic import write_atomic
from twin.sensors.errors import SensorInputError

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_AREAS = 500


@dataclass(frozen=True)
class Area:
    """A named polygon counters are grouped by."""

    id: str
    name: str
    name_en: str
    geometry: BaseGeometry

    def feature(self, **extra: Any) -> dict[str, Any]:
        """The area as a GeoJSON Feature (``extra`` joins its properties)."""
        return {"type": "Feature", "geometry": self.geometry.__geo_interface__,
                "properties": {"id": self.id, "name": self.name, "name_en": self.name_en, **extra}}


def areas_path(data_dir: Path, city_id: str) -> Path:
    return data_dir / "areas" / f"{city_id}.geojson"


def parse_areas(document: Any) -> list[Area]:
    """Areas of a FeatureCollection; a clear :class:`SensorInputError` for anything else."""
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise SensorInputError("areas: expected a GeoJSON FeatureCollection")
    if len(document["features"]) > MAX_AREAS:
        raise SensorInputError(f"areas: at most {MAX_AREAS} features")
    areas: dict[str, Area] = {}
    for n, feature in enumerate(document["features"]):
        where = f"areas: feature {n}"
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise SensorInputError(f"{where}: expected a Feature with properties")
        area_id, name = props.get("id"), props.get("name")
        if not isinstance(area_id, str) or not _ID.match(area_id):
            raise SensorInputError(f"{where}: properties.id must be 1–64 letters, digits, '-' or '_'")
        if area_id in areas:
            raise SensorInputError(f"{where}: id {area_id!r} is used twice")
        if not isinstance(name, str) or not name.strip():
            raise SensorInputError(f"{where}: properties.name must be a non-empty string")
        geometry = _polygon(feature.get("geometry"), where)
        areas[area_id] = Area(area_id, name, str(props.get("name_en") or name), geometry)
    return list(areas.values())


def _polygon(geometry: Any, where: str) -> BaseGeometry:
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise SensorInputError(f"{where}: geometry must be a Polygon or MultiPolygon")
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise SensorInputError(f"{where}: unreadable geometry ({exc})") from None
    if polygon.is_empty or not polygon.is_valid:
        raise SensorInputError(f"{where}: the polygon is empty or self-intersecting")
    lon0, lat0, lon1, lat1 = polygon.bounds
    if not (-180 <= lon0 <= lon1 <= 180 and -90 <= lat0 <= lat1 <= 90):
        raise SensorInputError(f"{where}: coordinates must be longitude, latitude in degrees")
    return polygon


def load_areas(data_dir: Path, city_id: str) -> list[Area]:
    """The city's areas (none when it has no areas file)."""
    path = areas_path(data_dir, city_id)
    if not path.is_file():
        return []
    return parse_areas(json.loads(path.read_text(encoding="utf-8")))


def save_areas(data_dir: Path, city_id: str, areas: list[Area]) -> None:
    """Replace the city's areas atomically."""
    path = areas_path(data_dir, city_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"type": "FeatureCollection", "features": [a.feature() for a in areas]}, ensure_ascii=False)
    write_atomic(path, text.encode("utf-8"))
