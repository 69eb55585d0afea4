"""Reading and writing single-band grids as GeoTIFF or ESRI ASCII grid (rasterio)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError

from twin.errors import TwinInputError
from twin.files.atomic import partial

DRIVERS = {".tif": "GTiff", ".tiff": "GTiff", ".asc": "AAIGrid"}


@dataclass(slots=True)
class Grid:
    """A north-up raster: ``data[row, col]``, row 0 at the top; NaN where nodata."""

    data: np.ndarray
    transform: Affine
    crs: CRS | None

    @property
    def cell_size(self) -> float:
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.data.shape
        return rows, cols

    def same_grid(self, other: Grid) -> bool:
        """True when both grids cover the same cells in the same CRS."""
        return (
            self.shape == other.shape
            and self.transform.almost_equals(other.transform)
            and (self.crs is None or other.crs is None or self.crs == other.crs)
        )

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        """(row, col) of the cell holding map point (x, y); may lie outside the grid."""
        col, row = ~self.transform * (x, y)
        return int(np.floor(row)), int(np.floor(col))

    def cell_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Map x of each column centre and y of each row centre."""
        rows, cols = self.shape
        t = self.transform
        x = t.c + t.a * (np.arange(cols) + 0.5)
        y = t.f + t.e * (np.arange(rows) + 0.5)
        return x, y


def read_grid(path: str | Path, dtype: type = np.float64) -> Grid:
    """Read band 1 of a GeoTIFF or .asc grid; nodata becomes NaN."""
    path = Path(path)
    if not path.is_file():
        raise TwinInputError(f"{path}: no such grid file")
    try:
        with rasterio.open(path) as src:
            if src.transform.b != 0 or src.transform.d != 0 or src.transform.e >= 0:
                raise TwinInputError(f"{path}: only north-up grids without rotation are supported")
            if abs(abs(src.transform.e) - src.transform.a) > 1e-9 * src.transform.a:
                raise TwinInputError(f"{path}: cells must be square ({src.transform.a} x {-src.transform.e})")
            band = src.read(1, masked=True)
            data = band.astype(dtype).filled(np.nan)
            return Grid(data=np.asarray(data), transform=src.transform, crs=src.crs)
    except RasterioIOError as exc:
        raise TwinInputError(f"{path}: not a readable grid ({exc})") from None


def write_grid(path: str | Path, grid: Grid, nodata: float = -9999.0) -> Path:
    """Write ``grid`` as GeoTIFF or ESRI ASCII by the file's suffix; NaN becomes ``nodata``.

    The file is written beside its final name and renamed, so a reader never sees half of it.
    """
    path = Path(path)
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise TwinInputError(f"{path}: grid files end in .tif or .asc")
    data = np.where(np.isnan(grid.data), nodata, grid.data) if grid.data.dtype.kind == "f" else grid.data
    tmp = partial(path)
    profile = dict(driver=driver, height=data.shape[0], width=data.shape[1], count=1,
                   dtype=data.dtype, transform=grid.transform, nodata=nodata)
    if grid.crs is not None:
        profile["crs"] = grid.crs
    if driver == "GTiff":
        # zlevel 1: a third of the default level's time for files a few per cent larger.
        profile.update(compress="deflate", zlevel=1, tiled=data.shape[0] >= 256 and data.shape[1] >= 256)
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    for side in tmp.parent.glob(partial(path.with_suffix("")).name + ".*"):
        if side != tmp:  # .asc writes a .prj sidecar
            side.replace(path.with_suffix(side.suffix))
    tmp.replace(path)
    return path
