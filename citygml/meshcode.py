"""Japanese standard grid square (地域メッシュ, JIS X 0410) codes ↔ latitude/longitude.

1st order: 40′ lat × 1° lon, code ``pp uu`` (pp = lat × 1.5, uu = lon − 100);
2nd order: 8 × 8 inside (5′ × 7.5′), digits ``q v``; 3rd order: 10 × 10 inside
(30″ × 45″), digits ``r w``. Arithmetic is in whole arc-seconds, so edges are exact.
"""

from __future__ import annotations

import math

#: Cell size (lat, lon) in arc-seconds per level.
_CELL_SECONDS = {1: (2400, 3600), 2: (300, 450), 3: (30, 45)}
_DIGITS = {1: 4, 2: 6, 3: 8}


def mesh_level(code: str) -> int:
    """Level (1, 2 or 3) of a mesh code from its number of digits."""
    for level, digits in _DIGITS.items():
        if len(code) == digits and code.isdigit():
            return level
    raise ValueError(f"not a 1st/2nd/3rd-order mesh code: {code!r}")


def _south_west_seconds(code: str) -> tuple[int, int]:
    level = mesh_level(code)
    lat = int(code[0:2]) * 2400
    lon = (int(code[2:4]) + 100) * 3600
    if level >= 2:
        q, v = int(code[4]), int(code[5])
        if q > 7 or v > 7:
            raise ValueError(f"2nd-order digits must be 0–7: {code!r}")
        lat += q * 300
        lon += v * 450
    if level == 3:
        lat += int(code[6]) * 30
        lon += int(code[7]) * 45
    return lat, lon


def mesh_bbox(code: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a 4-, 6- or 8-digit mesh code."""
    dlat, dlon = _CELL_SECONDS[mesh_level(code)]
    lat, lon = _south_west_seconds(code)
    return lon / 3600, lat / 3600, (lon + dlon) / 3600, (lat + dlat) / 3600


def mesh_code(lat: float, lon: float, level: int = 3) -> str:
    """Code of the mesh of ``level`` holding the point; points on an edge go north/east."""
    if level not in _CELL_SECONDS:
        raise ValueError(f"mesh level must be 1, 2 or 3, not {level}")
    # Round to a micro-arc-second so that a coordinate printed from an edge maps back to it.
    lat_s = round(lat * 3600, 6)
    lon_s = round(lon * 3600, 6) - 100 * 3600
    p, lat_r = divmod(lat_s, 2400)
    u, lon_r = divmod(lon_s, 3600)
    if not (0 <= u < 100 and 0 <= p < 100):
        raise ValueError(f"point ({lat}, {lon}) is outside the mesh system's range")
    code = f"{int(p):02d}{int(u):02d}"
    if level >= 2:
        q, lat_r = divmod(lat_r, 300)
        v, lon_r = divmod(lon_r, 450)
        code += f"{int(q)}{int(v)}"
    if level == 3:
        code += f"{int(math.floor(lat_r / 30))}{int(math.floor(lon_r / 45))}"
    return code
