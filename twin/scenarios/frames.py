"""A flood result's depth over time as pictures: one PNG per output time on a lon/lat rectangle.

Each frame is the depth in MLIT colours, transparent where not wet (``twin.depth_classes``
at the run's wet depth), warped nearest-cell onto lon/lat (``twin.pictures.lonlat_png``);
``frames.json`` lists the times, the rectangle and the legend for the viewer. Frames are
written into the job's staging folder, which is synced and published as a whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
from affine import Affine
from rasterio.crs import CRS

from twin import depth_classes
from twin.lonlat import LONLAT
from twin.pictures.lonlat_png import LonLatPicture, depth_picture


def write_frames(depth_nc: Path, folder: Path, crs: CRS, wet_m: float = depth_classes.WET_DEPTH_M) -> dict:
    """One PNG per time of ``depth_nc`` and ``frames.json``; returns the index."""
    folder.mkdir(parents=True, exist_ok=True)
    shown: LonLatPicture | None = None
    with netCDF4.Dataset(depth_nc) as ds:
        times = [float(t) for t in ds["time"][:]]
        xs, ys = ds["x"][:], ds["y"][:]
        cell = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        transform = Affine(cell, 0, float(xs[0]) - cell / 2, 0, -cell, float(ys[0]) + cell / 2)
        for k in range(len(times)):
            depth = np.asarray(ds["depth"][k].filled(np.nan), dtype=np.float32)
            shown = depth_picture(depth, transform, crs, wet_m)
            (folder / f"{k}.png").write_bytes(shown.png)
    index = {"times_s": times, "count": len(times), "wet_depth_m": wet_m,
             "rectangle": shown.rectangle if shown else [], "width": shown.width if shown else 0,
             "height": shown.height if shown else 0,
             "legend": [{"max_m": None if np.isinf(c.upper_m) else c.upper_m, "colour": c.colour}
                        for c in depth_classes.CLASSES], "crs": LONLAT}
    (folder / "frames.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index
