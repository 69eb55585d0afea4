"""Measured DEMs resampled onto the City's grid: GSI 基盤地図情報 DEMs and GeoTIFF/ASCII DEMs.

Both go through GDAL's warper (``rasterio.warp.reproject``, bilinear between cell centres; NaN
where the source has no data), so a DEM in any CRS lands on the City's plane-rectangular cells.
GSI meshes are mosaicked first by ``citygml.jpgis_dem.read_dem`` (finest spacing wins, then the
better survey), cut to the City's box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject

from citygml.jpgis_dem import DemError, read_dem
from twin.convert.grid_frame import Frame
from twin.convert.inputs import METRES_PER_DEGREE

#: Degrees of margin around the City when cutting the GSI mosaic (≈ 100 m).
_PAD_DEGREES = 0.001
#: Largest GSI mosaic read for one City (cells of 0.2″ ≈ 5 m; 400 MB of float32).
MAX_GSI_CELLS = 100_000_000


@dataclass
class MeasuredLayer:
    """One measured source on the City's grid: heights (NaN where it has none) and where it came from."""

    kind: str  # "dem", "gsi_dem" or "raster_dem" (twin.city.layout.TERRAIN_SOURCES)
    heights: np.ndarray  # float32, the frame's shape
    spacing_m: float  # the source's own cell size (or TIN edge), metres
    files: list[dict] = field(default_factory=list)


def gsi_layer(frame: Frame, paths: list[Path], warnings: list[str]) -> MeasuredLayer | None:
    """The GSI DEMs in ``paths`` on ``frame``; None (with warnings saying why) when none can be used."""
    west, south, east, north = frame.lonlat_bounds()
    box = (west - _PAD_DEGREES, south - _PAD_DEGREES, east + _PAD_DEGREES, north + _PAD_DEGREES)
    try:
        dem = read_dem(paths, bbox=box, max_cells=MAX_GSI_CELLS)
    except DemError as exc:
        warnings.append(f"GSI DEM not used: {exc}")
        return None
    warnings.extend(str(w) for w in dem.warnings)
    heights = _warp(dem.heights, dem.transform, dem.crs, frame)
    dx, dy = dem.resolution
    lat = (south + north) / 2
    spacing = max(dx * METRES_PER_DEGREE * np.cos(np.radians(lat)), dy * METRES_PER_DEGREE)
    files = [{"file": s.source, "mesh": s.mesh, "product": s.product, "date": s.date, "nodata_cells": s.nodata_cells}
             for s in dem.sources]
    return MeasuredLayer("gsi_dem", heights, float(spacing), files)


def raster_layer(frame: Frame, path: Path, warnings: list[str]) -> MeasuredLayer | None:
    """A GeoTIFF/ASCII DEM (any CRS) on ``frame``; None with a warning when it cannot be used."""
    destination = np.full(frame.shape, np.nan, np.float32)
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                warnings.append(f"{path}: the DEM has no CRS; not used")
                return None
            reproject(rasterio.band(src, 1), destination, dst_transform=frame.transform, dst_crs=frame.crs,
                      dst_nodata=np.nan, resampling=Resampling.bilinear)
            dx, dy = src.res
            spacing = max(dx, dy) * (METRES_PER_DEGREE if src.crs.is_geographic else 1.0)
    except RasterioIOError as exc:
        warnings.append(f"{path}: not a readable DEM grid ({exc}); not used")
        return None
    if not np.isfinite(destination).any():
        warnings.append(f"{path}: the DEM has no data inside the City's grid; not used")
        return None
    return MeasuredLayer("raster_dem", destination, float(spacing), [{"file": str(path)}])


def _warp(heights: np.ndarray, transform, crs: str, frame: Frame) -> np.ndarray:
    destination = np.full(frame.shape, np.nan, np.float32)
    reproject(np.asarray(heights, np.float32), destination, src_transform=transform, src_crs=crs, src_nodata=np.nan,
              dst_transform=frame.transform, dst_crs=frame.crs, dst_nodata=np.nan, resampling=Resampling.bilinear)
    return destination
