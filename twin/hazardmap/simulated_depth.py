"""The latest finished simulated flood of a City, as the public map shows it: title, depth at a
point, and the maximum depth as a picture."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio

from twin.lonlat import from_lonlat
from twin.pictures.lonlat_png import LonLatPicture, depth_picture
from twin.scenarios.jobs import Job


def latest_done(jobs: Iterable[Job], city_id: str) -> Job | None:
    """The city's scenario job that finished successfully last, or None."""
    done = [j for j in jobs if j.city == city_id and j.status == "done" and j.finished]
    return max(done, key=lambda j: j.finished or "", default=None)


def scenario_title(job: Job) -> dict[str, str]:
    """The scenario's title in each language it has (``{"ja": …, "en": …}``), its name otherwise."""
    scenario = job.scenario or {}
    title = scenario.get("title")
    if isinstance(title, dict) and title:
        return {str(k): str(v) for k, v in title.items()}
    name = str(title or scenario.get("name") or job.id)
    return {"ja": name, "en": name}


def max_depth_at(max_depth_tif: Path, lon: float, lat: float) -> float | None:
    """Maximum simulated depth (m) at lon/lat, None outside the run's grid.

    Building cells hold no water (NaN): there the deepest of the 3 × 3 open cells around is
    taken, like the depth a building's walls see in ``twin.flood.city_run``.
    """
    with rasterio.open(max_depth_tif) as src:
        x, y = from_lonlat(src.crs.to_wkt()).transform(lon, lat)
        col, row = ~src.transform @ (x, y)
        if not (math.isfinite(row) and math.isfinite(col)):
            return None
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


def max_depth_picture(max_depth_tif: Path, wet_m: float) -> LonLatPicture:
    """The maximum depth in MLIT colours (transparent where not wet) on a lon/lat rectangle."""
    with rasterio.open(max_depth_tif) as src:
        depth = src.read(1, masked=True).filled(np.nan).astype(np.float32)
        return depth_picture(depth, src.transform, src.crs, wet_m)


