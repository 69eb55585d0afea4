"""A flood scenario on a City: its terrain, building and road grids, and what each building sees.

``run_city_flood`` puts a ``Scenario`` on the City's grid (terrain.tif; masks.tif band 1
buildings as walls, band 2 roads for Manning's n), runs ``twin.flood.grid_run.run_flood`` and adds
``buildings.parquet`` (per building: the maximum depth over the open cells touching its
footprint, the time they first got wet, official and simulated MLIT depth ranks) and a
comparison with the official PLATEAU ranks to ``summary.json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.features import rasterize

from sim.flood import Boundaries, Boundary, Forcing, Inflow, Rain, Scheme, Series
from twin.errors import TwinInputError
from twin.flood.grid_run import FloodRun, run_flood
from twin.files.rasters import Grid, read_grid
from twin.flood.scenario import Scenario

LONLAT = "EPSG:6668"  # JGD2011 geographic, lon/lat with always_xy=True
#: Upper bounds (m) of the MLIT depth classes 1–5; class 6 is 20 m and more.
RANK_BOUNDS = (0.5, 3.0, 5.0, 10.0, 20.0)
RANK_LABELS = {0: "dry", 1: "<0.5 m", 2: "0.5-3 m", 3: "3-5 m", 4: "5-10 m", 5: "10-20 m", 6: ">=20 m"}
#: Shallower than this next to a building counts as dry (simulated rank 0).
DRY_DEPTH_M = 0.01


@dataclass
class CityGrids:
    """A City's grids for a flood: terrain, blocked fraction, road fraction, buildings (local CRS)."""

    folder: Path
    id: str
    terrain: Grid
    blocked: np.ndarray  # blocked fraction 0..1 (1 = wall)
    roads: np.ndarray  # road fraction 0..1
    buildings: gpd.GeoDataFrame  # footprints in the local CRS
    crs: CRS

    def lonlat_to_map(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return Transformer.from_crs(LONLAT, self.crs, always_xy=True).transform(lon, lat)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.terrain.shape
        t = self.terrain.transform
        xs = [t.c, t.c + cols * t.a]
        ys = [t.f + rows * t.e, t.f]
        lon, lat = Transformer.from_crs(self.crs, LONLAT, always_xy=True).transform(
            [xs[0], xs[1], xs[0], xs[1]], [ys[0], ys[0], ys[1], ys[1]])
        return min(lon), min(lat), max(lon), max(lat)


def load_city(folder: Path, cell_size: float | None = None) -> CityGrids:
    """The City at ``folder`` on its own grid, or coarsened by whole blocks to ``cell_size``."""
    folder = Path(folder)
    manifest_path = folder / "city.json"
    if not manifest_path.is_file():
        raise TwinInputError(f"{folder}: not a City folder (no city.json; make one with twin convert)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = manifest.get("files") or {}
    for key in ("terrain", "masks", "buildings"):
        if not files.get(key) or not (folder / files[key]).is_file():
            raise TwinInputError(f"{folder}: the City has no {key} file (convert it again with twin convert)")
    terrain = read_grid(folder / files["terrain"])
    with rasterio.open(folder / files["masks"]) as src:
        masks = src.read().astype(np.float64)
    blocked = (masks[0] > 0).astype(np.float64)
    roads = (masks[1] > 0).astype(np.float64) if masks.shape[0] > 1 else np.zeros_like(blocked)
    crs = CRS.from_user_input((manifest.get("crs") or {}).get("local") or terrain.crs)
    if cell_size is not None:
        terrain, blocked, roads = _coarsened(terrain, blocked, roads, cell_size, folder)
    if not np.all(np.isfinite(terrain.data)):
        raise TwinInputError(f"{folder / files['terrain']}: the terrain has nodata cells; a flood needs them filled")
    frame = gpd.read_parquet(folder / files["buildings"])
    return CityGrids(folder=folder, id=folder.name, terrain=terrain, blocked=blocked, roads=roads,
                     buildings=frame.to_crs(crs), crs=crs)


def _coarsened(terrain: Grid, blocked: np.ndarray, roads: np.ndarray, cell_size: float,
               folder: Path) -> tuple[Grid, np.ndarray, np.ndarray]:
    """Block means over k × k cells (edge cells that do not fill a block are dropped)."""
    k = cell_size / terrain.cell_size
    if not math.isfinite(k) or k < 1 or abs(k - round(k)) > 1e-6:
        raise TwinInputError(f"--cell-size {cell_size:g}: must be a whole multiple of the City's "
                             f"{terrain.cell_size:g} m cells ({folder})")
    k = int(round(k))
    if k > min(terrain.shape):
        raise TwinInputError(f"--cell-size {cell_size:g}: larger than the City's grid ({folder})")
    if k == 1:
        return terrain, blocked, roads
    rows, cols = terrain.shape[0] // k, terrain.shape[1] // k

    def mean(a: np.ndarray) -> np.ndarray:
        return a[:rows * k, :cols * k].reshape(rows, k, cols, k).mean(axis=(1, 3))

    t = terrain.transform
    grid = Grid(mean(terrain.data), Affine(t.a * k, 0, t.c, 0, t.e * k, t.f), terrain.crs)
    return grid, mean(blocked), mean(roads)


def flood_run(city: CityGrids, scenario: Scenario, scheme: Scheme | None = None,
              duration_s: float | None = None, output_interval_s: float | None = None) -> FloodRun:
    """The engine's inputs for ``scenario`` on ``city`` (positions checked against the grid)."""
    blocked = city.blocked if scenario.buildings != "none" else np.zeros_like(city.blocked)
    manning = np.where(city.roads >= 0.5, scenario.manning_roads, scenario.manning)
    sides = {side: (Boundary.closed() if kind == "closed" else Boundary.open() if kind == "open"
                    else Boundary.fixed_stage(kind if isinstance(kind, Series) else float(kind)))
             for side, kind in scenario.boundaries}
    inflows = tuple(_inflow(city, scenario, i, blocked) for i in range(len(scenario.inflows)))
    rain = Rain(scenario.rain) if scenario.rain is not None else None
    return FloodRun(
        dem=city.terrain,
        duration_s=scenario.duration_s if duration_s is None else duration_s,
        output_interval_s=scenario.output_interval_s if output_interval_s is None else output_interval_s,
        manning=manning, blocked=blocked,
        buildings="raised" if scenario.buildings == "raised" else "walls",
        building_height_m=scenario.building_height_m,
        forcing=Forcing(rain=rain, inflows=inflows, boundaries=Boundaries(**sides)),
        scheme=scheme or Scheme(),
        arrival_depth_m=scenario.arrival_depth_m,
    )


def _inflow(city: CityGrids, scenario: Scenario, index: int, blocked: np.ndarray) -> Inflow:
    spec = scenario.inflows[index]
    key = f"{scenario.source}: inflows[{index}].{'lonlat' if spec.crs == 'lonlat' else 'xy'}"
    pts = np.array(spec.positions, dtype=float)
    xs, ys = (city.lonlat_to_map(pts[:, 0], pts[:, 1]) if spec.crs == "lonlat" else (pts[:, 0], pts[:, 1]))
    cells = []
    rows, cols = city.terrain.shape
    for (a, b), x, y in zip(spec.positions, np.atleast_1d(xs), np.atleast_1d(ys)):
        row, col = city.terrain.cell_of(float(x), float(y))
        if not (0 <= row < rows and 0 <= col < cols):
            w, s, e, n = city.lonlat_bounds()
            raise TwinInputError(f"{key}: ({a:g}, {b:g}) lies outside the grid of city {city.id!r} "
                                 f"(lon {w:.5f}..{e:.5f}, lat {s:.5f}..{n:.5f})")
        cells.append((row, col))
    if len(cells) == 1:
        inflow = Inflow.point(*cells[0], spec.m3_per_s, name=spec.name)
    else:
        inflow = Inflow.line(cells[0], cells[1], spec.m3_per_s, name=spec.name)
    keep = blocked[inflow.rows, inflow.cols] < 1.0
    if not keep.any():
        raise TwinInputError(f"{key}: {spec.positions} falls inside a building; move it to open ground")
    return Inflow(inflow.rows[keep], inflow.cols[keep], spec.m3_per_s, spec.name)


def run_city_flood(city: CityGrids, scenario: Scenario, out: Path,
                   on_progress: Callable[[float, float], None] | None = None,
                   scheme: Scheme | None = None, duration_s: float | None = None,
                   output_interval_s: float | None = None) -> dict:
    """Run ``scenario`` on ``city`` into ``out``; returns the summary (also in summary.json)."""
    run = flood_run(city, scenario, scheme, duration_s, output_interval_s)
    summary = run_flood(run, out, on_progress)
    max_depth = read_grid(out / "max_depth.tif").data
    arrival = read_grid(out / "arrival_time.tif").data
    table = building_table(city, run.blocked, max_depth, arrival)
    _write_atomic(out / "buildings.parquet", lambda p: table.to_parquet(p, index=False))
    wet = table["first_wet_s"].notna()
    summary.update({
        "city": city.id,
        "scenario": scenario.as_dict(),
        "grid_lonlat_bounds": list(city.lonlat_bounds()),
        "buildings": {"count": int(len(table)), "wetted": int(wet.sum()),
                      "simulated_rank_counts": {RANK_LABELS[r]: int((table["simulated_rank"] == r).sum())
                                                for r in RANK_LABELS},
                      "first_wet_s": float(table["first_wet_s"].min()) if wet.any() else None},
        "comparison": rank_comparison(table),
    })
    _write_atomic(out / "summary.json",
                  lambda p: p.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))
    return summary


def depth_rank(depth: np.ndarray) -> np.ndarray:
    """MLIT class 1–6 of depths in metres; 0 where drier than ``DRY_DEPTH_M`` or unknown."""
    depth = np.asarray(depth, dtype=float)
    rank = np.searchsorted(np.asarray(RANK_BOUNDS), np.nan_to_num(depth), side="right") + 1
    return np.where(np.isfinite(depth) & (depth >= DRY_DEPTH_M), rank, 0)


def footprint_labels(city: CityGrids) -> np.ndarray:
    """Per cell, 1 + the row of the building whose footprint covers its centre (0: none);
    a building too small to cover a centre gets the cell under its centroid."""
    rows, cols = city.terrain.shape
    geoms = city.buildings.geometry
    shapes = [(g, i + 1) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    labels = (rasterize(shapes, out_shape=(rows, cols), transform=city.terrain.transform, fill=0, dtype="int32")
              if shapes else np.zeros((rows, cols), np.int32))
    present = np.zeros(len(geoms) + 1, bool)
    present[np.unique(labels)] = True
    for i in np.flatnonzero(~present[1:]):
        g = geoms.iloc[i]
        if g is None or g.is_empty:
            continue
        c = g.centroid
        r, k = city.terrain.cell_of(c.x, c.y)
        if 0 <= r < rows and 0 <= k < cols:
            labels[r, k] = i + 1
    return labels


def building_table(city: CityGrids, blocked: np.ndarray, max_depth: np.ndarray,
                   arrival: np.ndarray) -> pd.DataFrame:
    """Per building: max depth and first wetting over the open cells on or next to its footprint."""
    labels = footprint_labels(city)
    n = len(city.buildings)
    open_ = blocked < 1.0
    depth = np.where(open_, np.nan_to_num(max_depth, nan=0.0), -np.inf)
    wet_at = np.where(open_ & np.isfinite(arrival), arrival, np.inf)
    best_depth = np.full(n + 1, -np.inf)
    first_wet = np.full(n + 1, np.inf)
    rows, cols = labels.shape
    padded = np.pad(labels, 1)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            neighbour = padded[1 + dr:1 + dr + rows, 1 + dc:1 + dc + cols]
            hit = neighbour > 0
            np.maximum.at(best_depth, neighbour[hit], depth[hit])
            np.minimum.at(first_wet, neighbour[hit], wet_at[hit])
    best_depth, first_wet = best_depth[1:], first_wet[1:]
    frame = city.buildings
    official_depth = pd.to_numeric(frame.get("max_flood_depth"), errors="coerce").to_numpy(float) \
        if "max_flood_depth" in frame else np.full(n, np.nan)
    official_rank = pd.to_numeric(frame.get("max_flood_rank"), errors="coerce") \
        if "max_flood_rank" in frame else pd.Series(np.nan, index=frame.index)
    adjacent = np.where(np.isfinite(best_depth), best_depth, np.nan)
    return pd.DataFrame({
        "gml_id": frame["gml_id"].to_numpy(),
        "max_adjacent_depth_m": adjacent.astype(np.float32),
        "first_wet_s": np.where(np.isfinite(first_wet), first_wet, np.nan),
        "official_max_depth_m": official_depth,
        "official_rank": official_rank.astype("Int64").to_numpy(),
        "simulated_rank": depth_rank(adjacent).astype(np.int64),
        "ground_height": pd.to_numeric(frame.get("ground_height"), errors="coerce").to_numpy(float)
        if "ground_height" in frame else np.nan,
        "centroid_lon": pd.to_numeric(frame.get("centroid_lon"), errors="coerce").to_numpy(float)
        if "centroid_lon" in frame else np.nan,
        "centroid_lat": pd.to_numeric(frame.get("centroid_lat"), errors="coerce").to_numpy(float)
        if "centroid_lat" in frame else np.nan,
    })


def rank_comparison(table: pd.DataFrame) -> dict:
    """Counts of buildings per official rank (1–6) × simulated rank (0 dry, 1–6), and agreement."""
    official = table["official_rank"].dropna().astype(int)
    simulated = table.loc[official.index, "simulated_rank"].astype(int)
    counts = np.zeros((6, 7), dtype=int)
    valid = official.between(1, 6)
    np.add.at(counts, (official[valid].to_numpy() - 1, simulated[valid].to_numpy()), 1)
    total = int(counts.sum())
    agree = int(sum(counts[r - 1, r] for r in range(1, 7)))
    return {
        "official_ranks": [RANK_LABELS[r] for r in range(1, 7)],
        "simulated_ranks": [RANK_LABELS[r] for r in range(7)],
        "counts": counts.tolist(),
        "buildings_with_official_rank": total,
        "agreeing": agree,
        "agreement": round(agree / total, 4) if total else None,
        "wetted_of_official": int(counts[:, 1:].sum()),
    }


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    write(tmp)
    tmp.replace(path)
