"""What people orient by on a map, from the City's own layers: roads (PLATEAU ``tran``), water bodies
(``wtr``: rivers, lakes, sea) and bridges, simplified for drawing in lon/lat, each water body with the
name it is shown by and where that name comes from (``twin.city.rivers``), and the rivers the hazard
layers name.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping

from twin.city.hazard_areas import SIMPLIFY_DEG
from twin.city.layout import CityFolder
from twin.city.rivers import hazard_rivers, named_water
from twin.lonlat import LONLAT

_KINDS = (("roads", "road"), ("water", "water"), ("bridges", "bridge"))


def map_layers(folder: CityFolder) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the City's roads, water bodies and bridges (``kind``; water
    bodies with ``name``, ``name_source`` and a ``label_point`` inside them), ``rivers`` named by
    its hazard layers, and ``layers``: which of the three the City has."""
    frames = {kind: _lonlat(gpd.read_parquet(folder.require(key))) for key, kind in _KINDS if folder.has(key)}
    hazards = _lonlat(folder.hazards()) if folder.has("hazards") else None
    features: list[dict[str, Any]] = []
    for kind, frame in frames.items():
        if kind == "water":
            frame = named_water(frame, hazards, folder)
        geometry = shapely.set_precision(shapely.simplify(frame.geometry.to_numpy(), SIMPLIFY_DEG,
                                                          preserve_topology=True), 1e-6)
        for row, shape in zip(frame.itertuples(index=False), geometry):
            if shape is None or shape.is_empty:
                continue
            features.append({"type": "Feature", "id": row.gml_id, "geometry": mapping(shape),
                             "properties": {"kind": kind, **_properties(kind, row)}})
    return {"type": "FeatureCollection", "features": features, "layers": list(frames),
            "rivers": hazard_rivers(hazards)}


def _lonlat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(LONLAT) if frame.crs is not None and frame.crs != LONLAT else frame


def _properties(kind: str, row: Any) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    if kind == "water":
        point = row.label_point
        return {"name": row.shown_name, "name_source": row.name_source, "class_label": text(row.class_label),
                "label_point": [round(point.x, 6), round(point.y, 6)]}
    return {"class_label": text(getattr(row, "class_label", None)),
            "function_label": text(getattr(row, "function_label", None))}
