"""Local east-north-up (ENU) frames tied to Earth-centred, Earth-fixed (ECEF) coordinates.

Meshes are built in an ENU frame at their own origin: a rigid, distortion-free
relation to ECEF, which is what 3D Tiles content needs (a tile ``transform`` is an
ENU→ECEF matrix). JGD2011 latitude/longitude are used as WGS 84 (they agree to a few
centimetres, both being ITRF-based), and heights go in as ellipsoidal heights: the
caller adds any geoid offset first (see ``ellipsoidal_offset`` in ``twin.tiles.meshes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

# EPSG:4979 (WGS 84 geographic 3D) → EPSG:4978 (WGS 84 geocentric); always_xy=True
# makes the geographic axis order (lon, lat, h).
_TO_ECEF = Transformer.from_crs(4979, 4978, always_xy=True)
_FROM_ECEF = Transformer.from_crs(4978, 4979, always_xy=True)


def geodetic_to_ecef(lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
    """ECEF (n, 3) metres of longitudes and latitudes in degrees and heights in metres."""
    x, y, z = _TO_ECEF.transform(np.asarray(lon, float), np.asarray(lat, float), np.asarray(h, float))
    return np.column_stack([x, y, z])


def ecef_to_geodetic(xyz: np.ndarray) -> np.ndarray:
    """(n, 3) rows of (lon, lat, h), degrees and metres, of ECEF points."""
    xyz = np.asarray(xyz, float).reshape(-1, 3)
    lon, lat, h = _FROM_ECEF.transform(xyz[:, 0], xyz[:, 1], xyz[:, 2])
    return np.column_stack([lon, lat, h])


def enu_rotation(lon: float, lat: float) -> np.ndarray:
    """3×3 matrix whose columns are the east, north and up unit vectors in ECEF."""
    return enu_rotations(np.array([lon], float), np.array([lat], float))[0]


def enu_rotations(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(n, 3, 3): ``enu_rotation`` of each (lon, lat) pair, in one pass."""
    lam, phi = np.radians(np.asarray(lon, float)), np.radians(np.asarray(lat, float))
    sl, cl, sp, cp = np.sin(lam), np.cos(lam), np.sin(phi), np.cos(phi)
    rows = [[-sl, -sp * cl, cp * cl], [cl, -sp * sl, cp * sl], [np.zeros_like(cp), cp, sp]]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def geodetic_to_local(lon: np.ndarray, lat: np.ndarray, h: np.ndarray, origins: np.ndarray,
                      frame: np.ndarray) -> np.ndarray:
    """ENU (n, 3) metres of geodetic points, point ``i`` in the frame at ``origins[frame[i]]``.

    ``origins`` holds (lon, lat, h) rows: many frames converted in one pass, each point
    as ``LocalFrame(*origins[frame[i]]).from_geodetic`` would.
    """
    origins = np.asarray(origins, float).reshape(-1, 3)
    d = geodetic_to_ecef(lon, lat, h) - geodetic_to_ecef(*origins.T)[frame]
    lam, phi = np.radians(origins[:, 0]), np.radians(origins[:, 1])
    sl, cl, sp, cp = (t[frame] for t in (np.sin(lam), np.cos(lam), np.sin(phi), np.cos(phi)))
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    # d @ enu_rotation(lon, lat), one row at a time.
    return np.column_stack([-sl * dx + cl * dy,
                            (-sp * cl) * dx + (-sp * sl) * dy + cp * dz,
                            (cp * cl) * dx + (cp * sl) * dy + sp * dz])


@dataclass(frozen=True)
class LocalFrame:
    """An ENU frame with its origin at (lon, lat) degrees and height ``h`` metres."""

    lon: float
    lat: float
    h: float

    @cached_property
    def origin_ecef(self) -> np.ndarray:
        return geodetic_to_ecef(self.lon, self.lat, self.h)[0]

    @cached_property
    def rotation(self) -> np.ndarray:
        return enu_rotation(self.lon, self.lat)

    def from_geodetic(self, lon: np.ndarray, lat: np.ndarray, h: np.ndarray) -> np.ndarray:
        """ENU (n, 3) metres of geodetic points."""
        return (geodetic_to_ecef(lon, lat, h) - self.origin_ecef) @ self.rotation

    def to_ecef(self, enu: np.ndarray) -> np.ndarray:
        return np.asarray(enu, float) @ self.rotation.T + self.origin_ecef

    def from_ecef(self, xyz: np.ndarray) -> np.ndarray:
        return (np.asarray(xyz, float) - self.origin_ecef) @ self.rotation

    def matrix(self) -> np.ndarray:
        """4×4 ENU→ECEF matrix (row-major numpy; flatten with order='F' for 3D Tiles)."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.origin_ecef
        return m
