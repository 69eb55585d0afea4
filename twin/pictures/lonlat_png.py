"""Grids as pictures on a lon/lat rectangle: warped, coloured and encoded as PNG.

The viewer lays such a picture on the globe or the flat map as an image over its rectangle
[west, south, east, north]: the depth frames of a scenario, its maximum depth on the public
map, the difference of two runs. Warping is nearest-cell (rasterio), so every pixel shows a
value the run computed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject

from twin import depth_classes
from twin.lonlat import LONLAT

#: Opacity of depth pictures: the streets and buildings under the water stay readable.
DEPTH_ALPHA = 210
_DEPTH_PALETTE = np.array([[int(c.colour[i:i + 2], 16) for i in (1, 3, 5)] + [DEPTH_ALPHA]
                           for c in depth_classes.CLASSES], dtype=np.uint8)


@dataclass(frozen=True)
class LonLatPicture:
    """A PNG laid on the lon/lat rectangle [west, south, east, north]; ``width`` × ``height`` pixels."""

    png: bytes
    rectangle: list[float]
    width: int
    height: int


def warped(data: np.ndarray, transform: Affine, crs: CRS | str) -> tuple[np.ndarray, list[float]]:
    """``data`` (NaN as nodata) on a north-up lon/lat grid, and its [west, south, east, north]."""
    rows, cols = data.shape
    west, north = transform @ (0, 0)
    east, south = transform @ (cols, rows)
    dst, width, height = calculate_default_transform(crs, LONLAT, cols, rows, west, south, east, north)
    out = np.full((height, width), np.nan, np.float32)
    reproject(np.asarray(data, np.float32), out, src_transform=transform, src_crs=crs, dst_transform=dst,
              dst_crs=LONLAT, resampling=Resampling.nearest, src_nodata=np.nan, dst_nodata=np.nan)
    w, n = dst @ (0, 0)
    e, s = dst @ (width, height)
    return out, [w, s, e, n]


def depth_rgba(depth: np.ndarray, wet_m: float = depth_classes.WET_DEPTH_M) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8: MLIT class colours, transparent where not wet or NaN."""
    ranks = depth_classes.rank_of_depth(depth, wet_m)
    rgba = _DEPTH_PALETTE[np.maximum(ranks, 1) - 1]
    rgba[ranks == 0] = 0
    return rgba


def picture(rgba: np.ndarray, rectangle: list[float]) -> LonLatPicture:
    """An RGBA array on ``rectangle`` as a PNG picture."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", compress_level=6)
    return LonLatPicture(buffer.getvalue(), rectangle, rgba.shape[1], rgba.shape[0])


def depth_picture(depth: np.ndarray, transform: Affine, crs: CRS | str,
                  wet_m: float = depth_classes.WET_DEPTH_M) -> LonLatPicture:
    """A depth grid in MLIT colours, transparent where not wet, on a lon/lat rectangle."""
    on_lonlat, rectangle = warped(depth, transform, crs)
    return picture(depth_rgba(on_lonlat, wet_m), rectangle)


#: Probability bins (upper bounds) and their colours: ColorBrewer PuBu, 5 classes (Brewer 2003),
#: light to dark as the odds rise; a cell no member reached is transparent.
PROBABILITY_BOUNDS = (0.2, 0.4, 0.6, 0.8, 1.0)
PROBABILITY_COLOURS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
_PROBABILITY_PALETTE = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [DEPTH_ALPHA]
                                 for c in PROBABILITY_COLOURS], dtype=np.uint8)


def probability_picture(probability: np.ndarray, transform: Affine, crs: CRS | str) -> LonLatPicture:
    """A probability grid (0–1) in ``PROBABILITY_COLOURS`` bins, transparent where 0 or NaN."""
    on_lonlat, rectangle = warped(probability, transform, crs)
    p = np.nan_to_num(on_lonlat, nan=0.0)
    rgba = _PROBABILITY_PALETTE[np.minimum(np.searchsorted(PROBABILITY_BOUNDS, p, side="left"), 4)]
    rgba[p <= 0] = 0
    return picture(rgba, rectangle)
