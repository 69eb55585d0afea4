"""JGD2011 longitude/latitude: the CRS of every table, API answer and picture the web sees.

Tables store (lon, lat) geometry; computation happens in the City's plane-rectangular CRS.
Transformers are built with ``always_xy=True`` (x = longitude or east first) and cached.
"""

from __future__ import annotations

from functools import lru_cache

from pyproj import CRS, Transformer

#: JGD2011 geographic 2D (EPSG:6668); PLATEAU's EPSG:6697 adds the orthometric height.
LONLAT = "EPSG:6668"


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(source, target, always_xy=True)


def _key(crs: CRS | str) -> str:
    return crs if isinstance(crs, str) else crs.to_wkt()


def from_lonlat(crs: CRS | str) -> Transformer:
    """(lon, lat) → (x east, y north) in ``crs``."""
    return _transformer(LONLAT, _key(crs))


def to_lonlat(crs: CRS | str) -> Transformer:
    """(x east, y north) in ``crs`` → (lon, lat)."""
    return _transformer(_key(crs), LONLAT)
