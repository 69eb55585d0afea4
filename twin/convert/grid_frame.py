"""The City's grid: which cells (extent and cell size), chosen before the work and fixed after it.

Before any file is parsed, ``plan_resolution`` estimates the extent from the files' mesh codes
(buildings plus a margin, official flood areas near them, clipped to the DEMs) and checks it
against ``MAX_GRID_CELLS``: a cell size the user chose that would exceed it is an error there
and then; the default one is made coarser, and the note says so. After the per-file tasks,
``grid_frame`` fixes the extent from what was actually read, on the planned cell size.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer

from citygml.crs import choose_zone, zone_epsg
from citygml.dataset import BBox
from twin.errors import TwinInputError
from twin.lonlat import from_lonlat, to_lonlat

#: Metres of terrain kept around the buildings when the DEM is larger than the city.
GRID_MARGIN = 200.0
#: Official flood areas within this many metres of the buildings widen the grid to their extent.
HAZARD_REACH = 2000.0
#: Largest terrain grid (cells): 60 M cells is 240 MB per float32 layer, and the flood holds several.
MAX_GRID_CELLS = 60_000_000
DEFAULT_RESOLUTION = 2.0
#: Cell sizes tried, finest first, when the default one would exceed the limit.
COARSER = (2.0, 2.5, 4.0, 5.0, 8.0, 10.0, 16.0, 20.0, 25.0, 50.0, 100.0)


@dataclass(frozen=True)
class Frame:
    """The grid's cells: ``transform`` (north-up, square cells) and ``shape`` (rows, cols) in ``crs``."""

    transform: Affine
    shape: tuple[int, int]
    crs: str

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def cells(self) -> int:
        return self.shape[0] * self.shape[1]

    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in the local CRS."""
        t = self.transform
        return t.c, t.f + t.e * self.shape[0], t.c + t.a * self.shape[1], t.f

    def lonlat_bounds(self) -> BBox:
        x0, y0, x1, y1 = self.bounds()
        lon, lat = to_lonlat(self.crs).transform([x0, x1, x0, x1], [y0, y0, y1, y1])
        return min(lon), min(lat), max(lon), max(lat)


def local_crs(lon: float, lat: float, prefecture: int | None) -> str:
    """The plane-rectangular zone of the place (``citygml.crs.choose_zone``) as an EPSG string."""
    return f"EPSG:{zone_epsg(choose_zone(lon, lat, prefecture))}"


@dataclass(frozen=True)
class Extent:
    """What decides the grid's extent, all lon/lat boxes (None: absent)."""

    buildings: BBox | None  # where the buildings are
    hazards: list[BBox]  # each official flood area (or hazard file)
    others: BBox | None  # every other feature (used when there are no buildings)
    measured: BBox | None  # where measured terrain (DEMs) can be
    bbox: BBox | None = None  # --bbox


def extent_box(extent: Extent, to_local: Transformer) -> tuple[float, float, float, float] | None:
    """The grid's extent in local metres: the --bbox, or the buildings with a margin and the flood
    areas near them, or (without buildings) every feature, else the DEMs; clipped to the DEMs where
    they do not reach (but never inside the buildings: those cells are estimated)."""
    def local(box: BBox) -> list[float]:
        xs, ys = to_local.transform([box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
        return [min(xs), min(ys), max(xs), max(ys)]

    core = None
    if extent.bbox is not None:
        box = local(extent.bbox)
    elif extent.buildings is not None:
        core = local(extent.buildings)
        box = [core[0] - GRID_MARGIN, core[1] - GRID_MARGIN, core[2] + GRID_MARGIN, core[3] + GRID_MARGIN]
        reach = shapely.box(*box).buffer(HAZARD_REACH)
        for hazard in extent.hazards:
            h = local(hazard)
            if shapely.box(*h).intersects(reach):
                box = [min(box[0], h[0]), min(box[1], h[1]), max(box[2], h[2]), max(box[3], h[3])]
    elif extent.others is not None:
        box = local(extent.others)
    elif extent.measured is not None:
        m = local(extent.measured)
        return m[0], m[1], m[2], m[3]
    else:
        return None
    if extent.measured is not None and extent.bbox is None:
        m = local(extent.measured)
        if core is not None:  # the DEMs' extent, widened to hold every building
            m = [min(m[0], core[0]), min(m[1], core[1]), max(m[2], core[2]), max(m[3], core[3])]
        clipped = [max(box[0], m[0]), max(box[1], m[1]), min(box[2], m[2]), min(box[3], m[3])]
        if clipped[0] < clipped[2] and clipped[1] < clipped[3]:
            box = clipped
    return box[0], box[1], box[2], box[3]


def frame_of(box: tuple[float, float, float, float], resolution: float, crs: str) -> Frame:
    """Cells of ``resolution`` metres covering ``box``, on whole multiples of the cell size."""
    x0, y1 = np.floor(box[0] / resolution) * resolution, np.ceil(box[3] / resolution) * resolution
    cols = max(int(np.ceil((box[2] - x0) / resolution)), 1)
    rows = max(int(np.ceil((y1 - box[1]) / resolution)), 1)
    return Frame(Affine(resolution, 0, float(x0), 0, -resolution, float(y1)), (rows, cols), crs)


def choose_resolution(box: tuple[float, float, float, float], requested: float | None,
                      what: str = "the City") -> tuple[float, str | None]:
    """The cell size for ``box``: ``requested`` (TwinInputError if over the limit), else the finest of
    ``COARSER`` within it, with a note when that is coarser than the default."""
    width, height = box[2] - box[0], box[3] - box[1]

    def cells(res: float) -> float:
        return np.ceil(width / res + 1) * np.ceil(height / res + 1)

    if requested is not None:
        if cells(requested) > MAX_GRID_CELLS:
            raise TwinInputError(
                f"{what} spans {width / 1000:.1f} km × {height / 1000:.1f} km: at --resolution {requested:g} m the "
                f"terrain grid would have {cells(requested) / 1e6:.0f} M cells, over the limit of "
                f"{MAX_GRID_CELLS / 1e6:.0f} M; choose a coarser --resolution or a --bbox")
        return requested, None
    for res in COARSER:
        if cells(res) <= MAX_GRID_CELLS:
            if res == DEFAULT_RESOLUTION:
                return res, None
            return res, (f"{what} spans {width / 1000:.1f} km × {height / 1000:.1f} km: at {DEFAULT_RESOLUTION:g} m "
                         f"the terrain grid would have {cells(DEFAULT_RESOLUTION) / 1e6:.0f} M cells, over the limit "
                         f"of {MAX_GRID_CELLS / 1e6:.0f} M, so it is {res:g} m (--resolution chooses; --bbox cuts)")
    raise TwinInputError(f"{what} spans {width / 1000:.0f} km × {height / 1000:.0f} km: too large for one terrain "
                         f"grid even at {COARSER[-1]:g} m; convert it in parts with --bbox")


def planned_extent(building_boxes: list[BBox], hazard_boxes: list[BBox], other_boxes: list[BBox],
                   dem_boxes: list[BBox], bbox: BBox | None) -> Extent:
    """The extent as file names tell it (before parsing): mesh boxes of each kind of file."""
    def union(boxes: list[BBox]) -> BBox | None:
        if not boxes:
            return None
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    return Extent(buildings=union(building_boxes), hazards=hazard_boxes,
                  others=union(other_boxes + hazard_boxes), measured=union(dem_boxes), bbox=bbox)


def table_box(frame: gpd.GeoDataFrame | None) -> BBox | None:
    """The lon/lat box of a table's geometry (None when it has none)."""
    if frame is None or not len(frame) or frame.geometry.isna().all():
        return None
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return (west, south, east, north) if np.isfinite([west, south, east, north]).all() else None


def centre_crs(extent: Extent, prefecture: int | None) -> str:
    """The local CRS for an extent: the zone of its centre (and prefecture)."""
    for box in (extent.bbox, extent.buildings, extent.others, extent.measured):
        if box is not None:
            return local_crs((box[0] + box[2]) / 2, (box[1] + box[3]) / 2, prefecture)
    raise TwinInputError("nothing with a position to place the City")


def local_box(extent: Extent, crs: str) -> tuple[float, float, float, float] | None:
    return extent_box(extent, from_lonlat(crs))
