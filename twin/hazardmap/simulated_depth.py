"""The latest finished simulated flood of a City and its maximum depth at a point."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from pyproj import Transformer
from rasterio.warp import Resampling, calculate_default_transform, reproject

from twin.scenarios.jobs import Job, mlit_colours

LONLAT = "EPSG:6668"  # JGD2011 lon/lat with always_xy=True


def latest_done(jobs: Iterable[Job], city_id: str) -> Job | None:
    """The city's scenario job that finished successfully last, or None."""
    done = [j for j in jobs if j.city == city_id and j.status == "done" and j.finished]
    return max(done, key=lambda j: j.finished, default=None)


def scenario_title(job: Job) -> str:
    """The scenario's title (or name) as the job recorded it."""
    scenario = job.scenario or {}
    return str(scenario.get("title") or scenario.get("name") or job.id)


def max_depth_at(max_depth_tif: Path, lon: float, lat: float) -> float | None:
    """Maximum simulated depth (m) at lon/lat, None outside the run's grid.

    Building cells hold no water (NaN): there the deepest of the 3 × 3 open cells around is
    taken, like the depth a building's walls see in ``twin.flood.city_run``.
    """
    with rasterio.open(max_depth_tif) as src:
        x, y = Transformer.from_crs(LONLAT, src.crs.to_wkt(), always_xy=True).transform(lon, lat)
        col, row = ~src.transform @ (x, y)
        r, c = math.floor(row), math.floor(col)
        if not (0 <= r < src.height and 0 <= c < src.width):
            return None
        window = ((max(r - 1, 0), r + 2), (max(c - 1, 0), c + 2))
        block = src.read(1, window=window).astype(np.float64)
        if src.nodata is not None:
            block[block == src.nodata] = np.nan
    centre = block[r - window[0][0], c - window[1][0]]
    if np.isfinite(centre):
        return max(float(centre), 0.0)
    return max(float(np.nanmax(block)), 0.0) if np.isfinite(block).any() else None


def max_depth_png(max_depth_tif: Path) -> tuple[bytes, list[float]]:
    """The maximum depth in MLIT colours (transparent where dry) on a lon/lat grid, and its
    rectangle [west, south, east, north] for an image layer."""
    with rasterio.open(max_depth_tif) as src:
        depth = src.read(1, masked=True).filled(np.nan).astype(np.float32)
        transform, width, height = calculate_default_transform(src.crs, LONLAT, src.width, src.height, *src.bounds)
        out = np.full((height, width), np.nan, np.float32)
        reproject(depth, out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform, dst_crs=LONLAT,
                  resampling=Resampling.nearest, src_nodata=np.nan, dst_nodata=np.nan)
    buffer = io.BytesIO()
    Image.fromarray(mlit_colours(out), "RGBA").save(buffer, format="PNG", compress_level=6)
    west, north = transform @ (0, 0)
    east, south = transform @ (width, height)
    return buffer.getvalue(), [west, south, east, north]
