"""Building a City from a PLATEAU dataset: per-file tasks, then one merge.

Each CityGML file is one task (run inline, or on dask.distributed workers) that streams
its features into small intermediate files: building meshes and table rows, TIN
triangles, road and hazard polygons. The merge writes the City folder: 3D Tiles,
buildings.parquet, terrain.tif, masks.tif, hazards.parquet and the city.json manifest.
Everything is written into a sibling folder first and renamed into place at the end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.features import rasterize

from citygml.crs import choose_zone, zone_epsg
from citygml.dataset import BBox, Dataset, DatasetFile, feature_in, open_dataset
from citygml.errors import CityGMLError
from twin import __version__
from twin.city.layout import FILES, MASK_BANDS, TABLE_ROW_GROUP, files_entry, write_manifest
from twin.convert.area_rows import HAZARD_TYPES, hazard_row, road_row
from twin.convert.building_rows import building_row, building_table
from twin.convert.runners import Runner, run_inline
from twin.convert.terrain import fill_gaps, rasterise_tin
from twin.errors import TwinInputError
from twin.files.atomic import partial, publish, replacing, staging_folder
from twin.files.rasters import Grid, write_grid
from twin.lonlat import LONLAT, from_lonlat
from twin.tiles.city_tiles import mesh_buildings, write_building_tiles, write_terrain_tiles
from twin.tiles.meshes import Lod, MeshStats

#: Metres of terrain kept around the buildings when the DEM is larger than the city.
GRID_MARGIN = 200.0
#: Official flood areas within this many metres of the buildings widen the grid to their extent.
HAZARD_REACH = 2000.0
MAX_GRID_CELLS = 60_000_000


@dataclass(frozen=True)
class ConvertOptions:
    lod: Lod = "max"
    bbox: BBox | None = None
    resolution: float = 2.0
    ellipsoidal_offset: float = 0.0


@dataclass
class FileResult:
    """What one file's task wrote into its work folder, and what it counted."""

    name: str
    type: str
    work: str
    buildings: int = 0
    roads: int = 0
    hazards: int = 0
    triangles: int = 0
    other: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    mesh_stats: MeshStats = field(default_factory=MeshStats)
    iur_version: str | None = None
    prefecture: int | None = None


def convert_file(dataset_path: str, file: DatasetFile, work: str, options: ConvertOptions) -> FileResult:
    """The task for one CityGML file (runs in a worker process)."""
    result = FileResult(file.name, file.type, work)
    os.makedirs(work, exist_ok=True)
    with open_dataset(dataset_path) as dataset:
        # Textures only go on LOD2 meshes: with --lod 0 or 1 their section is not read at all.
        reader = dataset.reader(file, textures=options.lod in ("max", 2))
        features = _in_bbox(reader, options.bbox)
        try:
            if file.type == "bldg":
                _buildings(dataset, features, work, options, result)
            elif file.type == "dem":
                _terrain(features, work, result)
            elif file.type == "tran":
                result.roads = _table([road_row(f) for f in features], Path(work) / "roads.parquet")
            elif file.type in HAZARD_TYPES:
                rows = [hazard_row(f, Path(file.name).name) for f in features]
                result.hazards = _table(rows, Path(work) / "hazards.parquet")
            else:
                result.other = sum(1 for _ in features)
        except CityGMLError as exc:
            result.error = str(exc)
        result.warnings = [str(w) for w in reader.info.warnings]
        result.iur_version = reader.info.iur_version
    return result


def _in_bbox(features, bbox: BBox | None):
    return features if bbox is None else (f for f in features if feature_in(f, bbox))


def _buildings(dataset: Dataset, features, work: str, options: ConvertOptions, result: FileResult) -> None:
    rows: list[dict] = []

    def recorded(stream):
        for feature in stream:
            if feature.element == "Building":
                rows.append(building_row(feature))
                if result.prefecture is None:
                    code = getattr(feature.attributes.get("buildingIDAttribute/prefecture"), "code", "")
                    result.prefecture = int(code) if str(code).isdigit() else None
            yield feature

    mesh_buildings(recorded(features), Path(work) / "mesh", dataset.read_bytes, lod=options.lod,
                   ellipsoidal_offset=options.ellipsoidal_offset, stats=result.mesh_stats)
    if rows:
        building_table(rows, LONLAT).to_parquet(Path(work) / "buildings.parquet")
    result.buildings = len(rows)


def _terrain(features, work: str, result: FileResult) -> None:
    parts = [g.triangles for f in features for g in f.geometries if g.triangles is not None]
    triangles = np.concatenate(parts) if parts else np.empty((0, 3, 3))
    np.save(Path(work) / "tin.npy", triangles)
    result.triangles = len(triangles)


def _table(rows: list[dict | None], path: Path) -> int:
    rows = [r for r in rows if r is not None]
    if rows:
        gpd.GeoDataFrame(rows, geometry="geometry", crs=LONLAT).to_parquet(path)
    return len(rows)


# -- the whole conversion ---------------------------------------------------------------


def convert(
    source: str | Path,
    out: str | Path,
    options: ConvertOptions = ConvertOptions(),
    runner: Runner = run_inline,
    on_file: Callable[[FileResult], None] = lambda r: None,
    on_stage: Callable[[str], None] = lambda s: None,
) -> dict:
    """Convert ``source`` into the City folder ``out``; returns the manifest."""
    out = Path(out)
    with open_dataset(source) as dataset:
        files = dataset.select(bbox=options.bbox)
        if not files:
            raise TwinInputError(f"{source}: no CityGML files to convert" + (" in --bbox" if options.bbox else ""))
        warnings = [str(w) for w in dataset.warnings]
        shelters = dataset.read_bytes("shelters.geojson")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    try:
        work = staging / ".work"
        args = [(str(source), f, str(work / f"{i:05d}"), options) for i, f in enumerate(files)]
        args.sort(key=lambda item: -item[1].size)  # longest first: workers finish together
        results = runner(convert_file, args, on_file)
        manifest = _merge(Path(source), staging, out.name, results, options, warnings, shelters, on_stage, runner)
        shutil.rmtree(work, ignore_errors=True)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _replace(staging: Path, out: Path) -> None:
    """Put the finished folder in place; an older City there is removed only after that."""
    old = None
    if out.exists():
        old = partial(out.with_name(f"{out.name}-old"))
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    publish(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _merge(source: Path, out: Path, city_id: str, results: list[FileResult], options: ConvertOptions,
           warnings: list[str], shelters: bytes | None, on_stage: Callable[[str], None],
           runner: Runner = run_inline) -> dict:
    results = sorted(results, key=lambda r: r.name)
    for r in results:
        warnings.extend(r.warnings)
        if r.error:
            warnings.append(r.error)
    buildings = _concat([Path(r.work) / "buildings.parquet" for r in results if r.buildings])
    if buildings is None:
        raise TwinInputError(f"{source}: no buildings could be read" + (f" ({warnings[0]})" if warnings else ""))
    crs_local = _local_crs(source, buildings, results)
    to_local = from_lonlat(crs_local)  # (lon, lat) → (x east, y north)

    # The tiles are written by the runner's workers while this process does the grids.
    with ThreadPoolExecutor(1) as background:
        tiling = background.submit(write_building_tiles, [Path(r.work) / "mesh" for r in results if r.buildings],
                                   out, runner=runner)
        on_stage("terrain")
        tin = _concat_tin([Path(r.work) / "tin.npy" for r in results if r.triangles])
        hazards = _concat([Path(r.work) / "hazards.parquet" for r in results if r.hazards])
        grid, terrain_note = _terrain_grid(buildings, hazards, tin, to_local, crs_local, options)
        if terrain_note:
            warnings.append(terrain_note)
        write_grid(out / FILES["terrain"], grid)
        terrain_tiles = None
        if tin is not None:
            kept = _triangles_in_grid(tin, to_local, grid)
            if len(kept):
                terrain_tiles = write_terrain_tiles(kept, (out / FILES["terrain_tileset"]).parent,
                                                    ellipsoidal_offset=options.ellipsoidal_offset)

        on_stage("masks")
        roads = _concat([Path(r.work) / "roads.parquet" for r in results if r.roads])
        _write_masks(out / FILES["masks"], grid, buildings, roads, crs_local)

        on_stage("tables")
        _fill_ground(buildings, grid, to_local)
        buildings.to_parquet(out / FILES["buildings"], row_group_size=TABLE_ROW_GROUP)
        if hazards is not None:
            hazards.to_parquet(out / FILES["hazards"], row_group_size=TABLE_ROW_GROUP)
        if roads is not None:
            roads.to_parquet(out / FILES["roads"], row_group_size=TABLE_ROW_GROUP)
        if shelters is not None:
            (out / FILES["shelters"]).write_bytes(shelters)
        on_stage("tiles")
        tiles = tiling.result()

    manifest = _manifest(source, city_id, buildings, grid, crs_local, results, tiles, terrain_tiles,
                         hazards, roads, shelters is not None, options, warnings)
    write_manifest(out, manifest)
    return manifest


def _concat(paths: Sequence[Path]) -> gpd.GeoDataFrame | None:
    """The tasks' GeoParquet tables as one frame (concatenated in Arrow: one WKB decode)."""
    tables = [pq.read_table(p) for p in paths if p.exists()]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = table.drop_columns(["geometry"]).to_pandas()
    geometry = gpd.GeoSeries.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False), crs=LONLAT)
    return gpd.GeoDataFrame(frame, geometry=geometry)


def _concat_tin(paths: Sequence[Path]) -> np.ndarray | None:
    parts = [np.load(p) for p in paths if p.exists()]
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts) if parts else None


def _local_crs(source: Path, buildings: gpd.GeoDataFrame, results: list[FileResult]) -> str:
    west, south, east, north = buildings.total_bounds
    prefecture = next((r.prefecture for r in results if r.prefecture), None)
    if prefecture is None and source.name[:2].isdigit():
        prefecture = int(source.name[:2])
    return f"EPSG:{zone_epsg(choose_zone((west + east) / 2, (south + north) / 2, prefecture))}"


def _grid_frame(buildings: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None, tin: np.ndarray | None,
                to_local: Transformer, options: ConvertOptions) -> tuple[Affine, tuple[int, int]]:
    """Cells covering the --bbox, or the buildings (plus a margin) and the official flood areas
    near them (so that a flood from the river reaches the city), clipped to the DEM."""
    if options.bbox:
        w, s, e, n = options.bbox
        xs, ys = to_local.transform([w, e, w, e], [s, s, n, n])
        box = [min(xs), min(ys), max(xs), max(ys)]
    else:
        xs, ys = to_local.transform(*buildings.total_bounds.reshape(2, 2).T)
        box = [min(xs) - GRID_MARGIN, min(ys) - GRID_MARGIN, max(xs) + GRID_MARGIN, max(ys) + GRID_MARGIN]
        if hazards is not None and len(hazards):
            areas = hazards.to_crs(to_local.target_crs.to_wkt()).geometry
            near = areas[areas.intersects(shapely.box(*box).buffer(HAZARD_REACH))]
            if len(near):
                hx0, hy0, hx1, hy1 = near.total_bounds
                box = [min(box[0], hx0), min(box[1], hy0), max(box[2], hx1), max(box[3], hy1)]
    if tin is not None:
        tx, ty = to_local.transform(tin[..., 1].ravel(), tin[..., 0].ravel())
        clipped = [max(box[0], tx.min()), max(box[1], ty.min()), min(box[2], tx.max()), min(box[3], ty.max())]
        if clipped[0] < clipped[2] and clipped[1] < clipped[3]:
            box = clipped
    res = options.resolution
    x0, y1 = np.floor(box[0] / res) * res, np.ceil(box[3] / res) * res
    cols, rows = int(np.ceil((box[2] - x0) / res)), int(np.ceil((y1 - box[1]) / res))
    if rows * cols > MAX_GRID_CELLS:
        raise TwinInputError(f"a {rows} x {cols} terrain grid at {res} m is too large; use a coarser --resolution or a --bbox")
    return Affine(res, 0, x0, 0, -res, y1), (rows, cols)


def _terrain_grid(buildings, hazards, tin, to_local, crs_local, options) -> tuple[Grid, str | None]:
    transform, shape = _grid_frame(buildings, hazards, tin, to_local, options)
    crs = CRS.from_user_input(crs_local)
    heights = np.full(shape, np.nan)
    if tin is not None:
        x, y = to_local.transform(tin[..., 1].ravel(), tin[..., 0].ravel())
        heights = rasterise_tin(np.stack([x, y, tin[..., 2].ravel()], axis=1).reshape(-1, 3, 3), transform, shape)
    if np.isnan(heights).all():
        known = buildings["ground_height"].astype(float)
        ground = float(np.nanmedian(known)) if known.notna().any() else 0.0
        why = "no DEM in the dataset" if tin is None else "the DEM does not cover the buildings"
        note = f"{why}: flat terrain at the buildings' median ground level ({ground:.2f} m)"
        return Grid(np.full(shape, ground, dtype=np.float32), transform, crs), note
    heights, filled = fill_gaps(heights)
    note = f"terrain: {filled} grid cells outside the TIN took the nearest height" if filled else None
    return Grid(heights.astype(np.float32), transform, crs), note


def _triangles_in_grid(tin: np.ndarray, to_local: Transformer, grid: Grid) -> np.ndarray:
    x, y = to_local.transform(tin[..., 1].mean(axis=1), tin[..., 0].mean(axis=1))
    t = grid.transform
    inside = (x >= t.c) & (x <= t.c + t.a * grid.shape[1]) & (y <= t.f) & (y >= t.f + t.e * grid.shape[0])
    return tin[inside]


def _write_masks(path: Path, grid: Grid, buildings, roads, crs_local: str) -> None:
    """The mask bands (``twin.city.layout.MASK_BANDS``): 1 inside a footprint or road surface, 0 outside."""
    bands = []
    for table in (buildings, roads):
        shapes = [] if table is None else _polygon_shapes(table.to_crs(crs_local).geometry.to_numpy())
        bands.append(rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=0, default_value=1,
                               dtype="uint8") if shapes else np.zeros(grid.shape, np.uint8))
    with replacing(path) as tmp, rasterio.open(
            tmp, "w", driver="GTiff", height=grid.shape[0], width=grid.shape[1], count=len(bands), dtype="uint8",
            crs=grid.crs, transform=grid.transform, compress="deflate") as dst:
        for i, band in enumerate(bands, start=1):
            dst.write(band, i)
        dst.descriptions = MASK_BANDS


def _polygon_shapes(geometries: np.ndarray) -> list[dict]:
    """GeoJSON-like polygons for rasterio, built from coordinate arrays in bulk (shapely's
    per-geometry ``__geo_interface__`` costs about 0.1 ms a building)."""
    parts = shapely.get_parts(geometries[~shapely.is_missing(geometries)])
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    if not len(parts):
        return []
    _, coords, (ring_offsets, polygon_offsets) = shapely.to_ragged_array(parts)
    rings = [ring.tolist() for ring in np.split(coords, ring_offsets[1:-1])]
    return [{"type": "Polygon", "coordinates": rings[a:b]} for a, b in zip(polygon_offsets[:-1], polygon_offsets[1:])]


def _fill_ground(buildings: gpd.GeoDataFrame, grid: Grid, to_local: Transformer) -> None:
    """Buildings without LOD1/2 heights take the terrain height under their centroid."""
    missing = buildings["ground_height"].isna() & buildings["centroid_lon"].notna()
    if not missing.any():
        return
    x, y = to_local.transform(buildings.loc[missing, "centroid_lon"].to_numpy(float),
                              buildings.loc[missing, "centroid_lat"].to_numpy(float))
    rows, cols = (~grid.transform * (np.asarray(x), np.asarray(y)))[::-1]
    rows = np.clip(np.floor(rows).astype(int), 0, grid.shape[0] - 1)
    cols = np.clip(np.floor(cols).astype(int), 0, grid.shape[1] - 1)
    buildings.loc[missing, "ground_height"] = grid.data[rows, cols].astype(float)


def _manifest(source: Path, city_id: str, buildings, grid: Grid, crs_local: str, results: list[FileResult],
              tiles, terrain_tiles, hazards, roads, has_shelters: bool, options: ConvertOptions,
              warnings: list[str]) -> dict:
    west, south, east, north = (float(v) for v in buildings.total_bounds)
    ground = buildings["ground_height"].astype(float)
    stats = MeshStats()
    for r in results:
        stats.update(r.mesh_stats)
    return {
        "id": city_id,
        "name": source.name,
        "source": str(source.resolve()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "crs": {"source": "EPSG:6697", "local": crs_local},
        "bbox": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, float(np.nanmedian(ground)) if ground.notna().any() else 0.0],
        "counts": {
            "files": len(results),
            "buildings": int(len(buildings)),
            "buildings_with_flood_risk": int(buildings["has_flood_risk"].sum()),
            "textured_buildings": int(buildings["textured"].sum()),
            "default_heights": stats.default_height,
            "roads": 0 if roads is None else int(len(roads)),
            "hazard_areas": 0 if hazards is None else int(len(hazards)),
            "dem_triangles": int(sum(r.triangles for r in results)),
        },
        "mesh": {**asdict(stats), "lods": {str(k): v for k, v in sorted(stats.lods.items())}},
        "tiles": tiles.as_dict(),
        "grid": {
            "resolution": options.resolution,
            "width": grid.shape[1],
            "height": grid.shape[0],
            "transform": list(grid.transform)[:6],
            "crs": crs_local,
        },
        "files": files_entry({"tileset", "buildings", "terrain", "masks"} | {key for key, present in (
            ("terrain_tileset", bool(terrain_tiles)), ("hazards", hazards is not None), ("roads", roads is not None),
            ("shelters", has_shelters)) if present}),
        "ellipsoidal_offset": options.ellipsoidal_offset,
        "versions": {
            "machi_twin": __version__,
            "iur": sorted({r.iur_version for r in results if r.iur_version}),
            "tiles": "1.1",
        },
        "warnings": warnings[:1000],
    }
