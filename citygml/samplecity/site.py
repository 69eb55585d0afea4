"""Where the sample city lies: a river plain below a terrace edge in Kawagoe, Saitama.

Everything is planned in metres on the JGD2011 plane-rectangular zone IX (EPSG:6677),
with ``x`` east and ``y`` north from the south-west corner, then written in EPSG:6697.
A larger town scales the whole frame by ``scale`` from the 3.6 km × 2.8 km it has at 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

from citygml.meshcode import mesh_bbox, mesh_code

#: Decimal places written for latitude/longitude and for heights (≈0.1 mm and 1 mm).
LATLON_DECIMALS = 9
HEIGHT_DECIMALS = 3
#: Extent of the town at scale 1, m; 20,000 buildings fill its plain.
BASE_WIDTH = 3600.0
BASE_HEIGHT = 2800.0


@dataclass(frozen=True)
class Site:
    """The planning frame: origin, extent and the municipality the data claims to be."""

    prefecture_code: str = "11"
    prefecture_name: str = "埼玉県"
    city_code: str = "11201"
    city_name: str = "川越市"
    plane_epsg: int = 6677  # zone IX, Saitama's zone
    origin_lat: float = 35.9180
    origin_lon: float = 139.4550
    scale: float = 1.0  # linear size relative to the 3.6 km × 2.8 km town

    @property
    def width(self) -> float:
        """East-west extent, m."""
        return BASE_WIDTH * self.scale

    @property
    def height(self) -> float:
        """North-south extent, m."""
        return BASE_HEIGHT * self.scale

    @cached_property
    def _origin_xy(self) -> tuple[float, float]:
        return self._to_plane.transform(self.origin_lon, self.origin_lat)

    @cached_property
    def _to_geographic(self) -> Transformer:
        # always_xy=True: plane (easting, northing) in, (lon, lat) out.
        return Transformer.from_crs(self.plane_epsg, 6668, always_xy=True)

    @cached_property
    def _to_plane(self) -> Transformer:
        return Transformer.from_crs(6668, self.plane_epsg, always_xy=True)  # (lon, lat) in

    def to_local(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lat, lon) in degrees → local metres (x east, y north of the south-west corner)."""
        ox, oy = self._origin_xy
        x, y = self._to_plane.transform(np.asarray(lon, float), np.asarray(lat, float))
        return x - ox, y - oy

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local metres → (lat, lon) in degrees, rounded to what the files hold."""
        ox, oy = self._origin_xy
        lon, lat = self._to_geographic.transform(np.asarray(x) + ox, np.asarray(y) + oy)
        return np.round(lat, LATLON_DECIMALS), np.round(lon, LATLON_DECIMALS)

    def meshes(self, level: int = 2) -> list[str]:
        """Codes of the meshes of ``level`` the site meets (DEM, water and land-use files go by 2nd order)."""
        x = np.array([0.0, self.width, self.width, 0.0])
        y = np.array([0.0, 0.0, self.height, self.height])
        lat, lon = self.to_latlon(x, y)
        west, south, east, north = mesh_bbox(mesh_code(float(lat.min()), float(lon.min()), level))
        dlat, dlon = north - south, east - west
        lats = np.arange(np.floor(lat.min() / dlat), np.ceil(lat.max() / dlat)) * dlat + dlat / 2
        lons = np.arange(np.floor(lon.min() / dlon), np.ceil(lon.max() / dlon)) * dlon + dlon / 2
        return sorted({mesh_code(float(a), float(o), level) for a in lats for o in lons})
