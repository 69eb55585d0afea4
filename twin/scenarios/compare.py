"""Two finished scenario jobs on one city, side by side: a max-depth difference map and figures.

The difference is B − A of the maximum depth on A's grid (B is resampled onto it, nearest
cell, when the two ran at different cell sizes). The picture is warped to lon/lat like the
depth frames (``twin.pictures.lonlat_png``) and coloured on a diverging scale: reds where B is
deeper, blues where B is shallower, transparent within ``SAME_M``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.warp import Resampling, reproject

from twin.errors import TwinInputError
from twin.files.rasters import Grid
from twin.pictures.lonlat_png import LonLatPicture, picture, warped
from twin.scenarios.figures import max_depth, scenario_figures
from twin.scenarios.results import JobFiles

#: Differences smaller than this (m) are drawn transparent and count as unchanged.
SAME_M = 0.01
#: Upper bounds (m) of the difference classes and their colours (ColorBrewer RdBu, reversed).
DIFF_CLASSES = ((-1.0, "#2166AC"), (-0.5, "#4393C3"), (-0.1, "#92C5DE"), (-SAME_M, "#D1E5F0"),
                (SAME_M, None), (0.1, "#FDDBC7"), (0.5, "#F4A582"), (1.0, "#D6604D"), (float("inf"), "#B2182B"))
ALPHA = 220


@dataclass(frozen=True)
class Comparison:
    figures: dict[str, Any]
    png: bytes


def difference(a: Grid, b: Grid) -> np.ndarray:
    """B − A of two maximum-depth grids on A's grid (dry where a grid has no data)."""
    depth_a = np.nan_to_num(a.data)
    if b.shape == a.shape and b.transform.almost_equals(a.transform):
        depth_b = np.nan_to_num(b.data)
    else:
        depth_b = np.zeros_like(depth_a)
        reproject(np.nan_to_num(b.data), depth_b, src_transform=b.transform, src_crs=b.crs,
                  dst_transform=a.transform, dst_crs=a.crs, resampling=Resampling.nearest)
    return depth_b - depth_a


def colours(diff: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8 of a difference grid; transparent where unchanged or NaN."""
    bounds = np.array([upper for upper, _ in DIFF_CLASSES[:-1]])
    palette = np.array([[0, 0, 0, 0] if c is None else [int(c[i:i + 2], 16) for i in (1, 3, 5)] + [ALPHA]
                        for _, c in DIFF_CLASSES], dtype=np.uint8)
    rgba = palette[np.searchsorted(bounds, np.nan_to_num(diff), side="right")]
    rgba[~np.isfinite(diff) | (np.abs(diff) < SAME_M)] = 0
    return rgba


def lonlat_picture(diff: np.ndarray, grid: Grid) -> LonLatPicture:
    """The difference warped onto a lon/lat grid, coloured."""
    on_lonlat, rectangle = warped(diff, grid.transform, grid.crs)
    return picture(colours(on_lonlat), rectangle)


def _change(a: Any, b: Any) -> Any:
    """b − a for numbers (None when either is missing), per key for tables of numbers."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _change(a.get(k), b.get(k)) for k in a if k in b}
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return b - a
    return None


def _headline(figures: dict[str, Any]) -> dict[str, Any]:
    evacuation = figures["evacuation"]
    return {
        "flooded_area_m2": figures["flood"]["flooded_area_m2"],
        "max_depth_m": figures["flood"]["max_depth_m"],
        "buildings_flooded": figures["buildings"]["flooded"],
        "buildings_by_depth_class": figures["buildings"]["by_depth_class"],
        "people_stranded": None if evacuation is None else evacuation["stranded"],
        "shelters_overflowing": None if evacuation is None else len(evacuation["shelters_overflowing"]),
    }


def compare_jobs(folder_a: Path, job_a: dict[str, Any], folder_b: Path, job_b: dict[str, Any]) -> Comparison:
    """Figures of A and B, their changes (B − A), the area that got deeper or shallower, and the map."""
    if job_a["city"] != job_b["city"]:
        raise TwinInputError(f"jobs {job_a['id']} and {job_b['id']} are on different cities "
                             f"({job_a['city']}, {job_b['city']}): only runs on one city compare")
    grid_a = max_depth(JobFiles(folder_a))
    diff = difference(grid_a, max_depth(JobFiles(folder_b)))
    shown = lonlat_picture(diff, grid_a)
    cell_area = grid_a.cell_size ** 2
    a, b = scenario_figures(folder_a, job_a), scenario_figures(folder_b, job_b)
    head_a, head_b = _headline(a), _headline(b)
    figures = {
        "a": a, "b": b,
        "headline": {"a": head_a, "b": head_b, "b_minus_a": _change(head_a, head_b)},
        "difference": {
            "deeper_area_m2": float(np.count_nonzero(diff >= SAME_M) * cell_area),
            "shallower_area_m2": float(np.count_nonzero(diff <= -SAME_M) * cell_area),
            "max_increase_m": round(float(max(diff.max(), 0.0)), 3),
            "max_decrease_m": round(float(max(-diff.min(), 0.0)), 3),
            "same_within_m": SAME_M,
            "rectangle": shown.rectangle,
            "legend": [{"max_m": None if np.isinf(u) else u, "colour": c} for u, c in DIFF_CLASSES],
        },
    }
    return Comparison(figures, shown.png)
