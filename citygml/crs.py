"""CRS handling: PLATEAU's srsName values and the local metric zone for computation.

Japan's plane-rectangular coordinate system (平面直角座標系, MLIT notice No. 9 of 2002)
has 19 zones; under JGD2011 they are EPSG:6669 (zone I) to EPSG:6687 (zone XIX).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Zone number → (origin latitude, origin longitude) in degrees.
ZONE_ORIGINS: dict[int, tuple[float, float]] = {
    1: (33.0, 129.5), 2: (33.0, 131.0), 3: (36.0, 132 + 1 / 6), 4: (33.0, 133.5),
    5: (36.0, 134 + 1 / 3), 6: (36.0, 136.0), 7: (36.0, 137 + 1 / 6), 8: (36.0, 138.5),
    9: (36.0, 139 + 5 / 6), 10: (40.0, 140 + 5 / 6), 11: (44.0, 140.25), 12: (44.0, 142.25),
    13: (44.0, 144.25), 14: (26.0, 142.0), 15: (26.0, 127.5), 16: (26.0, 124.0),
    17: (26.0, 131.0), 18: (20.0, 136.0), 19: (26.0, 154.0),
}

#: Prefecture code (JIS X 0401) → candidate zones; the first is the main one.
PREFECTURE_ZONES: dict[int, tuple[int, ...]] = {
    1: (12, 11, 13), 2: (10,), 3: (10,), 4: (10,), 5: (10,), 6: (10,), 7: (9,), 8: (9,),
    9: (9,), 10: (9,), 11: (9,), 12: (9,), 13: (9, 14, 18, 19), 14: (9,), 15: (8,),
    16: (7,), 17: (7,), 18: (6,), 19: (8,), 20: (8,), 21: (7,), 22: (8,), 23: (7,),
    24: (6,), 25: (6,), 26: (6,), 27: (6,), 28: (5,), 29: (6,), 30: (6,), 31: (5,),
    32: (3,), 33: (5,), 34: (3,), 35: (3,), 36: (4,), 37: (4,), 38: (4,), 39: (4,),
    40: (2,), 41: (2,), 42: (1,), 43: (2,), 44: (2,), 45: (2,), 46: (2, 1), 47: (15, 16, 17),
}

#: EPSG codes PLATEAU uses for geographic data: 3D (lat, lon, h) and 2D (lat, lon).
GEOGRAPHIC_3D = 6697
GEOGRAPHIC_2D = 6668

_EPSG = re.compile(r"(?:EPSG/\d+/|EPSG:+|epsg:+)(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class SourceCRS:
    """What a file's srsName says about its coordinates."""

    epsg: int
    dimension: int
    geographic: bool  # True: (lat, lon[, h]) in degrees; False: projected (x north, y east)


def parse_srs_name(srs_name: str) -> SourceCRS | None:
    """EPSG code of a srsName like ``http://www.opengis.net/def/crs/EPSG/0/6697``."""
    match = _EPSG.search(srs_name.strip())
    if not match:
        return None
    epsg = int(match.group(1))
    if epsg == GEOGRAPHIC_3D:
        return SourceCRS(epsg, 3, True)
    if epsg in (GEOGRAPHIC_2D, 4326, 4612, 6667):
        return SourceCRS(epsg, 2, True)
    if 6669 <= epsg <= 6687 or 2443 <= epsg <= 2461:
        return SourceCRS(epsg, 3 if epsg >= 6669 else 2, False)
    return SourceCRS(epsg, 3, False)


def zone_epsg(zone: int) -> int:
    """EPSG code of a JGD2011 plane-rectangular zone (1–19)."""
    if zone not in ZONE_ORIGINS:
        raise ValueError(f"no plane-rectangular zone {zone}")
    return 6668 + zone


def choose_zone(lon: float, lat: float, prefecture: int | None = None) -> int:
    """The plane-rectangular zone for a place: by prefecture where known, else nearest origin.

    Prefectures split over several zones (Hokkaido, Tokyo's islands, Kagoshima, Okinawa)
    choose among their own zones by the nearest origin, which follows the official
    municipal split closely but not exactly at the edges.
    """
    candidates = PREFECTURE_ZONES.get(prefecture or 0, tuple(ZONE_ORIGINS))
    if len(candidates) == 1:
        return candidates[0]

    def distance(zone: int) -> float:
        o_lat, o_lon = ZONE_ORIGINS[zone]
        return (lon - o_lon) ** 2 + ((lat - o_lat) / 2) ** 2

    return min(candidates, key=distance)
