"""Building footprints as a compact block for flat (2.5D) maps: one ring and one height per building.

The public hazard map draws the city from this instead of 3D Tiles, so a phone draws it at
once without WebGL. Rings are the outer boundary of each footprint polygon (every part of a
multi-polygon), without the closing vertex, as integer decimetres east and north of the
city's centre (an equirectangular plane about it: within centimetres over a city).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from twin.city.heights import drawn_heights

#: Metres per degree of latitude on the GRS80 ellipsoid's mean meridian (close enough for drawing).
METRES_PER_DEGREE = 111_320.0
_DECIMETRES = 10.0


@dataclass(frozen=True)
class Footprints:
    """Rings in decimetres about ``centre``; ring ``i`` is ``xy[starts[i]:starts[i + 1]]``."""

    centre: tuple[float, float]
    metres_per_degree: tuple[float, float]
    starts: np.ndarray  # (n + 1,) int
    xy: np.ndarray  # (m, 2) int decimetres, east and north
    heights: np.ndarray  # (n,) int decimetres

    @classmethod
    def of_table(cls, frame: gpd.GeoDataFrame, centre: tuple[float, float] | None = None) -> Footprints:
        """From a City's ``buildings.parquet`` (lon/lat footprints, ``height``, ``storeys``)."""
        polygons, building = shapely.get_parts(frame.geometry.values.to_numpy(), return_index=True)
        keep = shapely.get_type_id(polygons) == shapely.GeometryType.POLYGON
        polygons, building = polygons[keep], building[keep]
        rings = shapely.get_exterior_ring(polygons)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(ring_of, minlength=len(rings))
        closing = np.cumsum(counts) - 1  # each ring's repeated first vertex
        keep_vertex = np.ones(len(coords), bool)
        keep_vertex[closing[counts > 0]] = False
        coords, ring_of = coords[keep_vertex], ring_of[keep_vertex]
        if centre is None:
            lon0, lat0 = (float(np.mean(coords[:, 0])), float(np.mean(coords[:, 1]))) if len(coords) else (0.0, 0.0)
        else:
            lon0, lat0 = centre
        scale = (METRES_PER_DEGREE * math.cos(math.radians(lat0)), METRES_PER_DEGREE)
        xy = np.rint((coords - (lon0, lat0)) * scale * _DECIMETRES).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(np.bincount(ring_of, minlength=len(rings)))])
        return cls((lon0, lat0), scale, starts, xy, np.rint(drawn_heights(frame)[building] * _DECIMETRES).astype(np.int64))

    def as_json(self) -> dict:
        """The JSON body: flat integer lists, each ring's vertices after its first as steps from the
        one before (half the digits); decoded by ``viewer/src/flatmap.js``."""
        steps = self.xy.copy()
        steps[1:] -= self.xy[:-1]
        firsts = self.starts[:-1][self.starts[:-1] < len(self.xy)]
        steps[firsts] = self.xy[firsts]
        return {"centre": list(self.centre), "metres_per_degree": list(self.metres_per_degree),
                "unit_m": 1 / _DECIMETRES, "count": len(self.heights), "starts": self.starts.tolist(),
                "steps": steps.ravel().tolist(), "heights": self.heights.tolist()}

