"""The CRSs of OGC API – Features answers (Part 2): CRS84 by default, and JGD2011 as PLATEAU uses it.

Tables hold JGD2011 longitude/latitude (``twin.lonlat.LONLAT``). CRS84 is WGS 84 in lon/lat
order; the EPSG transformation JGD2011 → WGS 84 (EPSG:9936, what pyproj picks) is a zero
translation with 1 m accuracy, so the numbers are the same. EPSG:6668 (JGD2011) and
EPSG:6697 (JGD2011 + height, PLATEAU's CRS) order their axes latitude, longitude: OGC API
– Features Part 2 answers in the CRS's own axis order, so coordinates are swapped. The tables
hold 2D footprints: answers in EPSG:6697 carry (lat, lon) without a height (heights are
properties: ``ground_height``, ``height``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from twin.errors import TwinInputError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JGD2011 = "http://www.opengis.net/def/crs/EPSG/0/6668"
JGD2011_HEIGHT = "http://www.opengis.net/def/crs/EPSG/0/6697"
#: CRSs an answer may be asked in; the storage CRS of every table is JGD2011 lon/lat (EPSG:6668).
SUPPORTED = (CRS84, JGD2011, JGD2011_HEIGHT)
STORAGE = JGD2011
#: CRSs whose axis order is latitude, longitude.
_LAT_FIRST = frozenset({JGD2011, JGD2011_HEIGHT})
#: Short spellings accepted besides the URIs.
_ALIASES = {"CRS84": CRS84, "OGC:CRS84": CRS84, "EPSG:6668": JGD2011, "EPSG:6697": JGD2011_HEIGHT,
            "[OGC:CRS84]": CRS84, "[EPSG:6668]": JGD2011, "[EPSG:6697]": JGD2011_HEIGHT,
            "https://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84,
            "https://www.opengis.net/def/crs/EPSG/0/6668": JGD2011,
            "https://www.opengis.net/def/crs/EPSG/0/6697": JGD2011_HEIGHT}


def parse_crs(text: str | None, what: str = "crs") -> str:
    """The URI of a supported CRS (CRS84 when ``text`` is None); TwinInputError for another."""
    if text is None:
        return CRS84
    uri = text if text in SUPPORTED else _ALIASES.get(text.strip())
    if uri is None:
        raise TwinInputError(f"{what} {text!r}: supported are {', '.join(SUPPORTED)}")
    return uri


def lat_first(uri: str) -> bool:
    return uri in _LAT_FIRST


def geometries_in(geometries: np.ndarray, uri: str) -> np.ndarray:
    """Lon/lat geometries in ``uri``'s axis order."""
    if not lat_first(uri):
        return geometries
    return shapely.transform(geometries, lambda xy: xy[:, ::-1])


def bbox_to_lonlat(bbox: tuple[float, ...], uri: str) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``uri`` (4 or 6 numbers) as west, south, east, north."""
    if len(bbox) == 6:
        bbox = (bbox[0], bbox[1], bbox[3], bbox[4])
    if len(bbox) != 4:
        raise TwinInputError(f"bbox: expected 4 or 6 numbers, got {len(bbox)}")
    a, b, c, d = bbox
    west, south, east, north = (b, a, d, c) if lat_first(uri) else (a, b, c, d)
    if not all(np.isfinite([west, south, east, north])):
        raise TwinInputError("bbox: numbers must be finite")
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise TwinInputError(f"bbox {list(bbox)}: longitudes within ±180, latitudes within ±90, south ≤ north")
    if west > east:
        raise TwinInputError(f"bbox {list(bbox)}: boxes across the antimeridian are not supported")
    return west, south, east, north


def coordinates_to_lonlat(coordinates: Any, uri: str) -> Any:
    """GeoJSON coordinates (nested lists) given in ``uri`` as lon/lat."""
    if not lat_first(uri):
        return coordinates
    if coordinates and isinstance(coordinates[0], int | float):
        return [coordinates[1], coordinates[0], *coordinates[2:]]
    return [coordinates_to_lonlat(c, uri) for c in coordinates]
