"""What people orient by on a map, from the City's own layers: roads (PLATEAU ``tran``), water bodies
(``wtr``: rivers, lakes, sea) and bridges, simplified for drawing in lon/lat, each water body with the
name it is shown by and where that name comes from.

A water body keeps its own ``gml:name``; one without a name takes the river of the official
river-flood areas (``fld``, named by their ``source``: 荒川水系荒川 ...) that meet it within
``NAMING_REACH_M`` of its banks, marked ``name_source: "hazard-layer"``, when that river's areas
there outweigh every other river's ``CLEAR_LEAD`` times (several rivers' areas overlap on a plain:
then it stays unnamed rather than named by a guess).
The rivers the hazard layers name are listed apart, with their layers and scales, since a river's
inundation areas say nothing of where its channel runs when the City has no ``wtr``.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import mapping

from twin.city.hazard_areas import SIMPLIFY_DEG
from twin.city.layout import CityFolder
from twin.lonlat import LONLAT

#: How far from a water body's outline an official river-flood area may lie and still name it (m):
#: inundation areas leave out the river's own ground (channel, levees and their berms, tens of metres).
NAMING_REACH_M = 50.0
#: The area of one river's inundation areas within reach must exceed the next river's this many times.
CLEAR_LEAD = 2.0
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
            frame = _named_water(frame, hazards, folder)
        geometry = shapely.set_precision(shapely.simplify(frame.geometry.to_numpy(), SIMPLIFY_DEG,
                                                          preserve_topology=True), 1e-6)
        for row, shape in zip(frame.itertuples(index=False), geometry):
            if shape is None or shape.is_empty:
                continue
            features.append({"type": "Feature", "id": row.gml_id, "geometry": mapping(shape),
                             "properties": {"kind": kind, **_properties(kind, row)}})
    return {"type": "FeatureCollection", "features": features, "layers": list(frames),
            "rivers": _rivers(hazards)}


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


def _named_water(water: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None, folder: CityFolder) -> gpd.GeoDataFrame:
    """``water`` with ``shown_name``, ``name_source`` (``water-body``, ``hazard-layer`` or None) and
    ``label_point``."""
    own = [n if isinstance(n, str) and n.strip() else None for n in water.get("name", [None] * len(water))]
    names: list[str | None] = list(own)
    sources: list[str | None] = ["water-body" if n else None for n in own]
    rivers = hazards[(hazards["layer"] == "fld") & hazards["source"].notna()] if hazards is not None else None
    if rivers is not None and len(rivers) and any(n is None for n in own):
        local = folder.local_crs
        reach = water.to_crs(local).geometry.buffer(NAMING_REACH_M)
        by_river = rivers.to_crs(local).dissolve(by="source")
        for k in np.flatnonzero([n is None for n in own]):
            overlap = by_river.geometry.intersection(reach.iloc[k]).area.sort_values(ascending=False)
            runner_up = float(overlap.iloc[1]) if len(overlap) > 1 else 0.0
            if len(overlap) and overlap.iloc[0] > 0 and overlap.iloc[0] > CLEAR_LEAD * runner_up:
                names[k], sources[k] = str(overlap.index[0]), "hazard-layer"
    points = shapely.point_on_surface(water.geometry.to_numpy())
    return water.assign(shown_name=names, name_source=sources, label_point=points)


def _rivers(hazards: gpd.GeoDataFrame | None) -> list[dict[str, Any]]:
    """The rivers the official river-flood areas name, each with its layers and scales."""
    if hazards is None or "source" not in hazards:
        return []
    named = hazards[hazards["source"].notna() & (hazards["layer"] == "fld")]
    return [{"name": str(name), "scales": sorted({s for s in group["scale"] if isinstance(s, str)})}
            for name, group in named.groupby("source", sort=True)]
