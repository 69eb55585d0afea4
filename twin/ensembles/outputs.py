"""What an ensemble writes: CF-NetCDF maps of its statistics, GeoParquet per building, a probability picture.

``ensemble.nc`` (CF-1.8) holds, on the flood grid in the City's projected CRS (``crs`` grid mapping
from pyproj's CF export, ``x``/``y`` projection coordinates): the probability of the maximum depth
reaching each of ``EXCEEDANCE_DEPTHS_M``, and the 10th/50th/90th percentiles of the maximum depth
and of the arrival time. ``buildings.parquet`` (GeoParquet, JGD2011 lon/lat footprints) holds each
building's probability of being wetted. ``probability.png`` is P(depth ≥ 0.5 m) on its lon/lat
rectangle, for the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import netCDF4
import numpy as np
from pyproj import CRS as ProjCRS

from twin.files.atomic import replacing, write_atomic, write_with
from twin.files.rasters import Grid
from twin.lonlat import LONLAT
from twin.pictures.lonlat_png import probability_picture

NETCDF = "ensemble.nc"
BUILDINGS = "buildings.parquet"
PICTURE = "probability.png"


def variable_name(depth_m: float) -> str:
    """The NetCDF name of P(max depth ≥ ``depth_m``): p_exceed_0_5m, p_exceed_3m."""
    return f"p_exceed_{depth_m:g}m".replace(".", "_")


def write_netcdf(path: Path, grid: Grid, probability: np.ndarray, depths_m: Sequence[float],
                 depth_percentiles: np.ndarray, arrival_percentiles: np.ndarray, qs: Sequence[float],
                 attributes: dict[str, str | int | float]) -> None:
    """The maps as one CF-1.8 NetCDF file (written whole, then renamed into place)."""
    with replacing(path) as tmp:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
            ds.Conventions = "CF-1.8"
            ds.title = "machi-twin flood ensemble: exceedance probabilities and percentiles"
            for key, value in attributes.items():
                setattr(ds, key, value)
            rows, cols = grid.shape
            ds.createDimension("y", rows)
            ds.createDimension("x", cols)
            ds.createDimension("percentile", len(qs))
            xs, ys = grid.cell_centres()
            for name, values in (("x", xs), ("y", ys)):
                v = ds.createVariable(name, "f8", (name,))
                v[:] = values
                v.units = "m"
                v.axis = name.upper()
                v.standard_name = f"projection_{name}_coordinate"
            q = ds.createVariable("percentile", "f4", ("percentile",))
            q[:] = np.asarray(qs, np.float32)
            q.units = "percent"
            q.long_name = "percentile over the ensemble's members (inverted CDF: a member's own value)"
            crs = ds.createVariable("crs", "i4")
            if grid.crs is not None:
                cf = ProjCRS.from_wkt(grid.crs.to_wkt()).to_cf()
                for key, value in cf.items():
                    setattr(crs, key, value)
            crs.GeoTransform = " ".join(str(v) for v in grid.transform.to_gdal())

            def variable(name: str, dims: tuple[str, ...], data: np.ndarray, units: str, long_name: str) -> None:
                v = ds.createVariable(name, "f4", dims, zlib=True, complevel=1, fill_value=np.float32(np.nan))
                v[:] = data
                v.units = units
                v.long_name = long_name
                v.grid_mapping = "crs"
                v.coordinates = "y x"

            for k, depth in enumerate(depths_m):
                variable(variable_name(depth), ("y", "x"), probability[k], "1",
                         f"probability that the maximum water depth reaches {depth:g} m")
            variable("max_depth", ("percentile", "y", "x"), depth_percentiles, "m",
                     "percentile of the maximum water depth over the members")
            variable("arrival_time", ("percentile", "y", "x"), arrival_percentiles, "s",
                     "percentile of the time water first wets the cell, since the start; NaN: not wet at "
                     "that percentile")


def write_buildings(path: Path, buildings: gpd.GeoDataFrame, wetted: np.ndarray, members: int) -> None:
    """Per building: its probability of being wetted, as GeoParquet in JGD2011 lon/lat."""
    frame = gpd.GeoDataFrame({"gml_id": buildings["gml_id"].to_numpy(),
                              "p_wetted": (wetted / max(members, 1)).astype(np.float32),
                              "members_wetted": wetted.astype(np.int32),
                              "members": np.full(len(buildings), members, np.int32)},
                             geometry=buildings.geometry.to_numpy(), crs=buildings.crs).to_crs(LONLAT)
    write_with(path, lambda p: frame.to_parquet(p, index=False))


def write_picture(path: Path, grid: Grid, probability: np.ndarray) -> list[float]:
    """``probability`` as a lon/lat PNG; returns its rectangle [west, south, east, north]."""
    if grid.crs is None:
        raise ValueError("the ensemble's grid has no CRS to place its picture with")
    picture = probability_picture(probability, grid.transform, grid.crs)
    write_atomic(path, picture.png)
    return picture.rectangle
