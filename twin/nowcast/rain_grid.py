"""A posted rain grid forecast: one grid of rain intensity (mm/h) per valid time.

Staff or a forecast feed (e.g. JMA's 降水短時間予報 resampled to a grid) post either

- a **GeoTIFF**, one band per valid time, in any CRS PROJ can transform to the City's; the
  valid times come from the ``valid`` list given with the upload, else from each band's
  description (an ISO 8601 time with zone, as rasterio's ``set_band_description`` writes it);
- a **CF-NetCDF** with one 3-D variable (``time`` × y × x) in mm/h, ``time`` in CF units
  (``minutes since 2026-07-01 00:00:00``, UTC unless the units give an offset), regular x/y
  coordinates with a CRS from the variable's ``grid_mapping`` (``crs_wkt``, ``spatial_ref`` or
  the CF parameters), or lon/lat coordinates (``degrees_east``/``degrees_north``) read as
  CRS84.

Checks (each a :class:`TwinInputError`, and nothing kept): a readable, non-empty file; a CRS
that transforms to the City's; a grid whose data overlap the City's flood grid; valid times
that increase and lie ahead of the time of posting; intensities finite and not negative.
NaN (or the file's nodata / ``_FillValue``) means **no data**; it is accepted only where it
holds in every band (a fixed data region, such as the reach of a radar), and the City's cells
outside the data region get no rain from the grid (the forecast's label gives the share of the
City the grid covers). A cell missing at some valid times only is refused.

Each cycle resamples the bands onto the City's flood grid with ``rasterio.warp.reproject``
and **average** resampling: every flood cell takes the area-weighted mean of the source cells
it overlaps, so a coarse forecast (1 km) keeps its rain per unit area on fine cells (8 m),
where bilinear would smear each cell's rain into its neighbours'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj.exceptions import CRSError as ProjCRSError
from rasterio._err import CPLE_BaseError  # what GDAL's failures (no coordinate operation) raise
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioError, RasterioIOError
from rasterio.io import MemoryFile
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, reproject, transform_bounds

from twin.errors import TwinInputError
from twin.files.atomic import write_with
from twin.files.rasters import Grid
from twin.sensors.times import iso, parse_moment

#: How the bands are put on the flood grid (see the module's description).
RESAMPLING = Resampling.average
RAIN_UNITS = ("mm/h", "mm h-1", "mm hr-1", "mm/hr", "mm h^-1")
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_NETCDF = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


@dataclass(frozen=True)
class RainGrid:
    """Rain intensity ``data[time, row, col]`` (mm/h, NaN = no data) on a north-up grid."""

    data: np.ndarray
    transform: Affine
    crs: CRS
    valid: tuple[datetime, ...]

    def on(self, target: Grid, bands: list[int] | None = None) -> np.ndarray:
        """The ``bands`` (default all) averaged onto ``target``'s cells (mm/h, NaN where the grid
        has no data)."""
        rows, cols = target.shape
        picked = list(range(len(self.valid))) if bands is None else bands
        out = np.full((len(picked), rows, cols), np.nan, np.float32)
        try:
            for i, k in enumerate(picked):
                reproject(self.data[k], out[i], src_transform=self.transform, src_crs=self.crs, src_nodata=np.nan,
                          dst_transform=target.transform, dst_crs=target.crs, dst_nodata=np.nan,
                          resampling=RESAMPLING)
        except (RasterioError, CRSError, CPLE_BaseError):
            raise TwinInputError(f"rain grid: cannot transform from {_name(self.crs)} to the City's CRS "
                                 f"{_name(target.crs)}") from None
        return out

    def checked_for(self, target: Grid, now: datetime) -> float:
        """Check the grid against the City's flood grid and the time of posting; the share of
        the City's cells the grid's data cover."""
        valid = self.valid
        if any(b <= a for a, b in zip(valid, valid[1:])):
            raise TwinInputError("rain grid: valid times must increase from band to band")
        if valid[0] <= now:
            raise TwinInputError(f"rain grid: valid time {iso(valid[0])} is in the past (now {iso(now)})")
        try:
            bounds = transform_bounds(self.crs, target.crs, *array_bounds(
                self.data.shape[1], self.data.shape[2], self.transform))
        except (RasterioError, CRSError, CPLE_BaseError):
            raise TwinInputError(f"rain grid: cannot transform from {_name(self.crs)} to the City's CRS "
                                 f"{_name(target.crs)}") from None
        if not np.all(np.isfinite(bounds)):
            raise TwinInputError(f"rain grid: cannot transform from {_name(self.crs)} to the City's CRS "
                                 f"{_name(target.crs)}")
        west, south, east, north = array_bounds(*target.shape, target.transform)
        if bounds[0] >= east or bounds[2] <= west or bounds[1] >= north or bounds[3] <= south:
            raise TwinInputError(f"rain grid: its extent ({_extent(self)}) does not overlap the City")
        first = self.on(target, [0])[0]
        share = float(np.mean(np.isfinite(first)))
        if share == 0:
            raise TwinInputError("rain grid: it has no data over the City (all no-data there)")
        return share

    def save(self, path: Path) -> None:
        """Keep as a float32 GeoTIFF, one band per valid time (its description), NaN for no data."""
        count, rows, cols = self.data.shape

        def write(tmp: Path) -> None:
            with rasterio.open(tmp, "w", driver="GTiff", height=rows, width=cols, count=count, dtype="float32",
                               transform=self.transform, crs=self.crs, nodata=np.nan, compress="deflate") as dst:
                dst.write(self.data.astype(np.float32))
                for k, moment in enumerate(self.valid):
                    dst.set_band_description(k + 1, iso(moment))

        write_with(path, write)


def load_rain_grid(path: Path) -> RainGrid:
    """A rain grid kept by :meth:`RainGrid.save`."""
    return read_rain_grid(path.read_bytes(), None)


def read_rain_grid(data: bytes, valid: list[str] | None = None) -> RainGrid:
    """A posted GeoTIFF or CF-NetCDF (told apart by their first bytes), its values checked;
    ``valid``: the valid times of a GeoTIFF's bands when they do not carry them."""
    if not data:
        raise TwinInputError("rain grid: the upload is empty")
    if data.startswith(_TIFF):
        grid = _geotiff(data, valid)
    elif data.startswith(_NETCDF):
        if valid:
            raise TwinInputError("rain grid: a NetCDF file carries its valid times in its time coordinate; "
                                 "do not give them apart")
        grid = _netcdf(data)
    else:
        raise TwinInputError("rain grid: not a GeoTIFF or a NetCDF file")
    _check_values(grid)
    return grid


def _geotiff(data: bytes, valid: list[str] | None) -> RainGrid:
    try:
        with MemoryFile(data) as memory, memory.open() as src:
            if src.crs is None:
                raise TwinInputError("rain grid: the GeoTIFF has no CRS")
            t = src.transform
            if t.b != 0 or t.d != 0 or t.e >= 0:
                raise TwinInputError("rain grid: only north-up grids without rotation are supported")
            bands = src.read(masked=True).astype(np.float64).filled(np.nan)
            descriptions = list(src.descriptions)
            crs = src.crs
    except RasterioIOError as exc:
        raise TwinInputError(f"rain grid: not a readable GeoTIFF ({exc})") from None
    if valid is None:
        if not all(descriptions):
            raise TwinInputError("rain grid: give the valid times (one per band), or put each band's valid time "
                                 "in its description")
        valid = [str(d) for d in descriptions]
    if len(valid) != bands.shape[0]:
        raise TwinInputError(f"rain grid: {len(valid)} valid times for {bands.shape[0]} bands")
    return RainGrid(bands, t, crs, tuple(parse_moment(v, "rain grid valid time") for v in valid))


def _netcdf(data: bytes) -> RainGrid:
    import netCDF4

    try:
        dataset = netCDF4.Dataset("upload.nc", memory=data)
    except OSError as exc:
        raise TwinInputError(f"rain grid: not a readable NetCDF file ({exc})") from None
    with dataset:
        grids = [v for v in dataset.variables.values() if v.ndim == 3 and v.dimensions[0] == "time"]
        if len(grids) != 1:
            names = ", ".join(v.name for v in grids) or "none"
            raise TwinInputError(f"rain grid: the NetCDF file needs exactly one variable (time, y, x) of rain in "
                                 f"mm/h; it has {names}")
        rain = grids[0]
        units = str(getattr(rain, "units", "")).strip()
        if units not in RAIN_UNITS:
            raise TwinInputError(f"rain grid: {rain.name} has units {units!r}; give rain in mm/h")
        if "time" not in dataset.variables or not getattr(dataset["time"], "units", ""):
            raise TwinInputError("rain grid: the NetCDF file needs a time coordinate with CF units")
        time = dataset["time"]
        try:
            moments = netCDF4.num2date(time[:], time.units, getattr(time, "calendar", "standard"),
                                       only_use_cftime_datetimes=False, only_use_python_datetimes=True)
        except (ValueError, TypeError) as exc:
            raise TwinInputError(f"rain grid: time units {time.units!r} are not CF time units ({exc})") from None
        valid = tuple(m.replace(tzinfo=UTC) for m in np.atleast_1d(moments))  # type: ignore[arg-type]
        ydim, xdim = rain.dimensions[1:]
        if ydim not in dataset.variables or xdim not in dataset.variables:
            raise TwinInputError(f"rain grid: the NetCDF file needs coordinate variables {ydim} and {xdim}")
        if _axis(dataset[ydim]) == "X" or _axis(dataset[xdim]) == "Y":
            raise TwinInputError(f"rain grid: {rain.name} has dimensions {rain.dimensions}; give them as (time, y, x)")
        x = np.asarray(dataset[xdim][:], np.float64)
        y = np.asarray(dataset[ydim][:], np.float64)
        values = np.ma.filled(np.ma.asarray(rain[:]).astype(np.float64), np.nan)
        crs = _netcdf_crs(dataset, rain, dataset[xdim], dataset[ydim])
    transform, values = _regular(x, y, values)
    return RainGrid(values, transform, crs, valid)


def _netcdf_crs(dataset, rain, x, y) -> CRS:
    """The rain variable's CRS: its grid mapping's WKT or CF parameters, else CRS84 for lon/lat."""
    mapping = getattr(rain, "grid_mapping", None)
    if mapping is not None:
        if mapping not in dataset.variables:
            raise TwinInputError(f"rain grid: grid_mapping {mapping!r} names no variable of the file")
        attrs = dataset[mapping].__dict__
        try:
            wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
            return CRS.from_wkt(wkt) if wkt else CRS.from_wkt(ProjCRS.from_cf(attrs).to_wkt())
        except (CRSError, ProjCRSError) as exc:
            raise TwinInputError(f"rain grid: grid_mapping {mapping!r} is not a CRS PROJ knows ({exc})") from None
    if getattr(x, "units", "") == "degrees_east" and getattr(y, "units", "") == "degrees_north":
        return CRS.from_user_input("OGC:CRS84")
    raise TwinInputError("rain grid: the NetCDF file has no CRS (give the variable a grid_mapping, or use "
                         "lon/lat coordinates in degrees_east/degrees_north)")


def _axis(coordinate) -> str:
    """"X", "Y" or "" for a NetCDF coordinate, by its ``axis`` or its lon/lat units."""
    units = str(getattr(coordinate, "units", ""))
    return str(getattr(coordinate, "axis", "")).upper() or \
        {"degrees_east": "X", "degrees_north": "Y"}.get(units, "")


def _regular(x: np.ndarray, y: np.ndarray, values: np.ndarray) -> tuple[Affine, np.ndarray]:
    """The north-up transform of cell-centre coordinates ``x``, ``y`` (evenly spaced), the rows
    turned north first when ``y`` increases."""
    if x.size < 2 or y.size < 2:
        raise TwinInputError("rain grid: x and y need at least two cells each")
    dx, dy = np.diff(x), np.diff(y)
    if not (np.allclose(dx, dx[0], rtol=1e-6) and np.allclose(dy, dy[0], rtol=1e-6)) or dx[0] <= 0 or dy[0] == 0:
        raise TwinInputError("rain grid: x must increase and x and y be evenly spaced")
    if dy[0] > 0:
        y, values = y[::-1], values[:, ::-1, :]
    step_x, step_y = float(dx[0]), float(abs(dy[0]))
    return Affine(step_x, 0, x[0] - step_x / 2, 0, -step_y, y[0] + step_y / 2), np.ascontiguousarray(values)


def _check_values(grid: RainGrid) -> None:
    data = grid.data
    if data.ndim != 3 or data.shape[0] == 0 or data.size == 0:
        raise TwinInputError("rain grid: no bands")
    if np.isinf(data).any():
        raise TwinInputError("rain grid: infinite intensities")
    if (data < 0).any():
        raise TwinInputError(f"rain grid: negative intensities (lowest {np.nanmin(data):g} mm/h)")
    missing = np.isnan(data)
    partly = missing.any(axis=0) & ~missing.all(axis=0)
    if partly.any():
        k = int(np.argmax(missing[:, partly].any(axis=1)))
        raise TwinInputError(f"rain grid: {int(partly.sum())} cells have data at some valid times and not at others "
                             f"(first at {iso(grid.valid[k])}); no data is accepted only where it holds in every band")
    if missing.all():
        raise TwinInputError("rain grid: every cell is no data")


def _name(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    return crs.to_string() if crs.to_epsg() or crs.to_authority() else crs.to_wkt()[:80]


def _extent(grid: RainGrid) -> str:
    w, s, e, n = array_bounds(grid.data.shape[1], grid.data.shape[2], grid.transform)
    return f"{w:g}, {s:g} to {e:g}, {n:g} in {_name(grid.crs)}"
