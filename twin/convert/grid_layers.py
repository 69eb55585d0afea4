"""The City's grids besides the terrain: the mask bands and the land-use roughness.

``masks.tif`` holds ``twin.city.layout.MASK_BANDS`` (1 inside, 0 outside): building footprints,
road surfaces, water bodies (the rivers a flood map draws) and bridge decks (passable over the
water under them; never walls). ``roughness.tif`` is Manning's n of each cell's land use
(``twin.convert.roughness``), NaN where no land use with a value covers it.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize

from twin.city.layout import MASK_BANDS
from twin.convert.grid_frame import Frame
from twin.files.atomic import replacing
from twin.files.rasters import Grid, write_grid


def write_masks(path: Path, frame: Frame, tables: dict[str, gpd.GeoDataFrame | None]) -> None:
    """``masks.tif``: one band per ``MASK_BANDS`` name, from ``tables`` of that name (absent: all 0)."""
    with replacing(path) as tmp, rasterio.open(
            tmp, "w", driver="GTiff", height=frame.shape[0], width=frame.shape[1], count=len(MASK_BANDS),
            dtype="uint8", crs=frame.crs, transform=frame.transform, compress="deflate") as dst:
        for i, name in enumerate(MASK_BANDS, start=1):
            dst.write(mask_band(frame, tables.get(name)), i)
        dst.descriptions = MASK_BANDS


def mask_band(frame: Frame, table: gpd.GeoDataFrame | None) -> np.ndarray:
    """1 where a polygon of ``table`` covers a cell centre, else 0."""
    shapes = [] if table is None or not len(table) else _polygon_shapes(table.to_crs(frame.crs).geometry.to_numpy())
    if not shapes:
        return np.zeros(frame.shape, np.uint8)
    return rasterize(shapes, out_shape=frame.shape, transform=frame.transform, fill=0, default_value=1, dtype="uint8")


def write_roughness(path: Path, frame: Frame, land_use: gpd.GeoDataFrame) -> int:
    """``roughness.tif`` from the land use's ``manning_n``; the number of cells it gives a value."""
    known = land_use[land_use["manning_n"].notna()]
    values = np.full(frame.shape, np.nan, np.float32)
    if len(known):
        local = known.geometry.to_crs(frame.crs).to_numpy()
        shapes = [(g, float(n)) for g, n in zip(local, known["manning_n"].to_numpy(float))
                  if g is not None and not g.is_empty]
        if shapes:
            values = rasterize(shapes, out_shape=frame.shape, transform=frame.transform, fill=np.nan,
                               dtype="float32")
    write_grid(path, Grid(values, frame.transform, rasterio.crs.CRS.from_user_input(frame.crs)))
    return int(np.isfinite(values).sum())


def _polygon_shapes(geometries: np.ndarray) -> list[dict]:
    """GeoJSON-like polygons for rasterio, built from coordinate arrays in bulk (shapely's
    per-geometry ``__geo_interface__`` costs about 0.1 ms a building)."""
    parts = shapely.get_parts(geometries[~shapely.is_missing(geometries)])
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    if not len(parts):
        return []
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(parts)
    rings = [ring.tolist() for ring in np.split(coords, ring_offsets[1:-1])]
    return [{"type": "Polygon", "coordinates": rings[a:b]} for a, b in zip(polygon_offsets[:-1], polygon_offsets[1:])]
