"""Where the sample city lies: a river plain below a terrace edge in Kawagoe, Saitama.

Everything is planned in metres on the JGD2011 plane-rectangular zone IX (EPSG:6677),
with ``x`` east and ``y`` north from the south-west corner, then written in EPSG:6697.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

from citygml.meshcode import mesh_code

#: Decimal places written for latitude/longitude and for heights (≈0.1 mm and 1 mm).
LATLON_DECIMALS = 9
HEIGHT_DECIMALS = 3


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
    width: float = 3600.0  # east-west extent, m
    height: float = 2800.0  # north-south extent, m

    @cached_property
    def _origin_xy(self) -> tuple[float, float]:
        to_plane = Transformer.from_crs(6668, self.plane_epsg, always_xy=True)
        return to_plane.transform(self.origin_lon, self.origin_lat)

    @cached_property
    def _to_geographic(self) -> Transformer:
        # always_xy=True: plane (easting, northing) in, (lon, lat) out.
        return Transformer.from_crs(self.plane_epsg, 6668, always_xy=True)

    def to_latlon(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local metres → (lat, lon) in degrees, rounded to what the files hold."""
        ox, oy = self._origin_xy
        lon, lat = self._to_geographic.transform(np.asarray(x) + ox, np.asarray(y) + oy)
        return np.round(lat, LATLON_DECIMALS), np.round(lon, LATLON_DECIMALS)

    def mesh2(self) -> str:
        """The 2nd-order mesh (≈10 km) that holds the whole site; the DEM file is named after it."""
        lat, lon = self.to_latlon(np.array([0.0, self.width]), np.array([0.0, self.height]))
        codes = {mesh_code(a, o, 2) for a, o in zip(lat, lon)}
        if len(codes) != 1:
            raise ValueError(f"site straddles 2nd-order meshes {sorted(codes)}")
        return codes.pop()
