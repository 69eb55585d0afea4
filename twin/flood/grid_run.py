"""Run a flood on grids and write its output folder.

The folder holds ``depth.nc`` (CF-NetCDF: ``depth``, ``wse``, ``u`` and ``v`` over ``time, y, x``),
``max_depth.tif``/``.asc``, ``max_velocity.tif``, ``arrival_time.tif``, ``gauges.csv`` and
``summary.json``. Files are written into a staging folder (``twin.files.atomic``) and moved
in at the end, so a failed run leaves nothing half-written. The grid mode of ``twin flood
run`` and the city mode both end here. "Flooded" is ``twin.depth_classes.is_wet`` at the
run's arrival depth, the same test that arrival times and per-building figures use.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import netCDF4
import numpy as np

from sim.flood import FloodModel, FloodResult, Forcing, Gauge, Scheme, Series, Snapshot
from twin.depth_classes import WET_DEPTH_M, WET_TOLERANCE_M, is_wet
from twin.errors import TwinInputError
from twin.files.atomic import staging_folder, write_json
from twin.files.rasters import Grid, write_grid

SERIES_COLUMNS = {"rain": "mm_per_h", "inflow": "m3_per_s", "stage": "wse_m"}


@dataclass
class FloodRun:
    """Everything one flood run needs, already on the DEM's cells."""

    dem: Grid
    duration_s: float
    output_interval_s: float
    manning: float | np.ndarray = 0.03
    blocked: np.ndarray | None = None
    buildings: Literal["walls", "raised"] = "walls"
    building_height_m: float = 10.0
    forcing: Forcing = field(default_factory=Forcing)
    gauges: list[Gauge] = field(default_factory=list)
    initial_wse: float | np.ndarray | None = None
    scheme: Scheme = field(default_factory=Scheme)
    arrival_depth_m: float = WET_DEPTH_M
    gauge_interval_s: float | None = None


def read_series(path: Path, column: str, hold: bool = False) -> Series:
    """A time series from a CSV with a header holding ``time_s`` and ``column``."""
    if not path.is_file():
        raise TwinInputError(f"{path}: no such CSV file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [name.strip() for name in reader.fieldnames or []]
        if "time_s" not in fields or column not in fields:
            raise TwinInputError(f"{path}: line 1: the header needs columns time_s and {column}, found {fields}")
        times, values = [], []
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): v for k, v in row.items() if k is not None}
            try:
                times.append(float(row["time_s"]))
                values.append(float(row[column]))
            except (TypeError, ValueError):
                raise TwinInputError(f"{path}: line {line}: time_s and {column} must be numbers, "
                                     f"got {row.get('time_s')!r}, {row.get(column)!r}") from None
    if not times:
        raise TwinInputError(f"{path}: no rows under the header")
    if np.any(np.diff(times) <= 0):
        raise TwinInputError(f"{path}: time_s must increase from row to row")
    if not np.all(np.isfinite(values)):
        raise TwinInputError(f"{path}: {column} holds NaN or infinite values")
    return Series(np.array(times), np.array(values), hold=hold)


SOURCES = {"inertial": "sim.flood local inertial shallow water (Bates et al. 2010; de Almeida et al. 2012)",
           "full": "sim.flood full shallow water, Godunov-type finite volumes (HLLC; Audusse et al. 2004)"}


class DepthWriter:
    """Streams depth, WSE and velocity frames into a CF-1.8 NetCDF file as the run produces them."""

    def __init__(self, path: Path, grid: Grid, scheme: str) -> None:
        self.ds = netCDF4.Dataset(path, "w", format="NETCDF4")
        ds = self.ds
        ds.Conventions = "CF-1.8"
        ds.title = "machi-twin flood: water depth, surface elevation and velocity"
        ds.source = SOURCES[scheme]
        rows, cols = grid.shape
        ds.createDimension("time", None)
        ds.createDimension("y", rows)
        ds.createDimension("x", cols)
        xs, ys = grid.cell_centres()
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "s"
        t.long_name = "time since the start of the simulation"
        t.axis = "T"
        for name, values, axis in (("x", xs, "X"), ("y", ys, "Y")):
            v = ds.createVariable(name, "f8", (name,))
            v[:] = values
            v.units = "m"
            v.axis = axis
            v.standard_name = f"projection_{name}_coordinate"
            v.long_name = f"{name} of cell centre"
        crs = ds.createVariable("crs", "i4")
        if grid.crs is not None:
            crs.crs_wkt = grid.crs.to_wkt()
            crs.spatial_ref = crs.crs_wkt
        crs.GeoTransform = " ".join(str(v) for v in grid.transform.to_gdal())
        self.vars = {}
        for name, units, long_name in (
                ("depth", "m", "water depth above the ground"),
                ("wse", "m", "water surface elevation (NaN where dry)"),
                ("u", "m s-1", "depth-averaged water velocity towards +x (east), cell-centred; 0 where dry"),
                ("v", "m s-1", "depth-averaged water velocity towards +y (north), cell-centred; 0 where dry")):
            v = ds.createVariable(name, "f4", ("time", "y", "x"), zlib=True, complevel=1,
                                  chunksizes=(1, rows, cols), fill_value=np.float32(np.nan))
            v.units = units
            v.long_name = long_name
            v.grid_mapping = "crs"
            self.vars[name] = v
        self.vars["wse"].standard_name = "water_surface_height_above_reference_datum"

    def write(self, snap: Snapshot) -> None:
        i = len(self.ds.dimensions["time"])
        self.ds["time"][i] = snap.time
        for name in ("depth", "wse", "u", "v"):
            self.vars[name][i] = getattr(snap, name).astype(np.float32)

    def close(self) -> None:
        self.ds.close()


def run_flood(run: FloodRun, out: Path, on_progress: Callable[[float, float], None] | None = None) -> dict:
    """Run ``run`` and write its folder ``out``; returns the summary also saved as summary.json
    (with the scheme that ran and why: ``run.scheme`` may be ``auto``)."""
    model = FloodModel(
        run.dem.data, run.dem.cell_size, manning=run.manning, blocked=run.blocked, buildings=run.buildings,
        building_height=run.building_height_m, forcing=run.forcing, initial_wse=run.initial_wse,
        gauges=run.gauges, scheme=run.scheme, arrival_depth=run.arrival_depth_m - WET_TOLERANCE_M)
    out.mkdir(parents=True, exist_ok=True)
    partial = staging_folder(out / "run")
    try:
        writer = DepthWriter(partial / "depth.nc", run.dem, model.scheme.kind)
        try:
            result = model.run(run.duration_s, output_interval=run.output_interval_s,
                               gauge_interval=run.gauge_interval_s, on_output=writer.write,
                               on_progress=on_progress)
        finally:
            writer.close()
        summary = _summary(run, result)
        _write_rasters(partial, run.dem, result)
        _write_gauges(partial / "gauges.csv", result)
        write_json(partial / "summary.json", summary)
        for item in partial.iterdir():
            item.replace(out / item.name)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return summary


def _write_rasters(folder: Path, dem: Grid, result: FloodResult) -> None:
    def grid(data: np.ndarray) -> Grid:
        return Grid(data=data.astype(np.float32), transform=dem.transform, crs=dem.crs)

    write_grid(folder / "max_depth.tif", grid(result.max_depth))
    write_grid(folder / "max_depth.asc", grid(result.max_depth))
    write_grid(folder / "max_velocity.tif", grid(result.max_velocity))
    write_grid(folder / "arrival_time.tif", grid(result.arrival_time))


def _write_gauges(path: Path, result: FloodResult) -> None:
    names = list(result.gauge_depths)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["time_s", *names])
        for i, t in enumerate(result.gauge_times):
            w.writerow([f"{t:g}", *(f"{result.gauge_depths[n][i]:.6g}" for n in names)])


def _summary(run: FloodRun, result: FloodResult) -> dict:
    mass = result.mass
    cell_area = run.dem.cell_size ** 2
    wet = is_wet(result.max_depth, run.arrival_depth_m)
    return {
        "duration_s": run.duration_s,
        "steps": result.steps,
        "cells": result.cells,
        "cell_size_m": run.dem.cell_size,
        "wall_s": round(result.wall_s, 3),
        "cell_steps_per_s": round(result.cell_steps_per_s),
        "scheme": result.scheme,
        "scheme_reason": result.scheme_reason,
        "precision": np.dtype(run.scheme.dtype).name,
        "volume_initial_m3": mass.initial_m3,
        "volume_in_m3": mass.volume_in_m3,
        "volume_rain_m3": mass.rain_m3,
        "volume_inflow_m3": mass.inflow_m3,
        "volume_boundary_in_m3": mass.boundary_in_m3,
        "volume_out_m3": mass.volume_out_m3,
        "volume_stored_m3": mass.stored_m3,
        "mass_error_rel": mass.error_rel,
        "max_depth_m": float(np.nanmax(result.max_depth)) if np.isfinite(result.max_depth).any() else 0.0,
        "flooded_area_m2": float(wet.sum() * cell_area),
        "arrival_depth_m": run.arrival_depth_m,
        "gauges": [g.name for g in run.gauges],
    }
