"""The City's rivers: its water bodies (PLATEAU ``wtr``) with the names they are shown by, and the rivers
its official river-flood layers (``fld``) name.

A water body keeps its own ``gml:name``; one without a name takes the river of the official
river-flood areas (named by their ``source``: 荒川水系荒川 ...) that meet it within
``NAMING_REACH_M`` of its banks, marked ``name_source: "hazard-layer"``, when that river's areas
there outweigh every other river's ``CLEAR_LEAD`` times (several rivers' areas overlap on a plain:
then it stays unnamed rather than named by a guess).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from twin.city.layout import CityFolder

#: How far from a water body's outline an official river-flood area may lie and still name it (m):
#: inundation areas leave out the river's own ground (channel, levees and their berms, tens of metres).
NAMING_REACH_M = 50.0
#: The area of one river's inundation areas within reach must exceed the next river's this many times.
CLEAR_LEAD = 2.0


def named_water(water: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None, folder: CityFolder) -> gpd.GeoDataFrame:
    """``water`` with ``shown_name``, ``name_source`` (``water-body``, ``hazard-layer`` or None) and
    ``label_point``."""
    own = [n if isinstance(n, str) and n.strip() else None for n in water.get("name", [None] * len(water))]
    names: list[str | None] = list(own)
    sources: list[str | None] = ["water-body" if n else None for n in own]
    rivers = hazards[(hazards["layer"] == "fld") & hazards["source"].notna()] \
        if hazards is not None and "source" in hazards else None
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


def hazard_rivers(hazards: gpd.GeoDataFrame | None) -> list[dict[str, Any]]:
    """The rivers the official river-flood areas name, each with its layers and scales."""
    if hazards is None or "source" not in hazards:
        return []
    named = hazards[hazards["source"].notna() & (hazards["layer"] == "fld")]
    return [{"name": str(name), "scales": sorted({s for s in group["scale"] if isinstance(s, str)})}
            for name, group in named.groupby("source", sort=True)]
