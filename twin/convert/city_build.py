"""The merge: the per-file tasks' results become the City folder.

``gather`` joins the tasks' intermediate tables, TIN triangles and ground points (``CityParts``);
``build_city`` places the grid, builds the terrain from every source with each cell's provenance,
writes the masks, the land-use roughness, the tables and the 3D Tiles (buildings on the runner's
workers while this process does the grids; bridges, water and terrain after), and the manifest.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from rasterio.crs import CRS

from citygml.model import Code, Feature, Geometry, Surface
from citygml.model import Polygon as GmlPolygon
from twin import __version__
from twin.city.layout import FILES, TABLE_ROW_GROUP, files_entry, write_manifest
from twin.city.shelters import ShelterReport, shelters_for_city
from twin.convert.dem_rasters import MeasuredLayer, gsi_layer, raster_layer
from twin.convert.file_tasks import GROUND_POINTS_FILE, TABLES, TIN_FILE, FileResult
from twin.convert.grid_frame import (
    Extent,
    Frame,
    choose_resolution,
    extent_box,
    frame_of,
    local_crs,
    table_box,
)
from twin.convert.grid_layers import write_masks, write_roughness
from twin.convert.inputs import of_kind
from twin.convert.runners import Runner, run_inline
from twin.convert.terrain import TerrainGrid, build_terrain, tin_layer
from twin.errors import TwinInputError
from twin.files.atomic import write_atomic, write_with
from twin.files.rasters import Grid, write_grid
from twin.lonlat import LONLAT, from_lonlat
from twin.opendata import licence
from twin.tiles.city_tiles import TilesetSummary, mesh_buildings, write_building_tiles
from twin.tiles.meshes import MeshStats
from twin.tiles.metadata import BuildingProperties
from twin.tiles.terrain_tiles import leaf_step, write_terrain_tiles

if TYPE_CHECKING:
    from twin.convert.pipeline import ConvertOptions, Plan

#: Tables of the City besides buildings, by part (``twin.convert.file_tasks.TABLES``) → layout key.
TABLE_FILES = {"buildings": "buildings", "roads": "roads", "hazards": "hazards", "water": "water",
               "land_use": "land_use", "bridges": "bridges", "features": "features"}


@dataclass
class CityParts:
    """Everything the tasks read, joined: tables by part, TIN, ground points, mesh batches, counts."""

    results: list[FileResult]
    tables: dict[str, gpd.GeoDataFrame | None]
    tin: np.ndarray | None
    ground_points: np.ndarray | None
    warnings: list[str] = field(default_factory=list)
    repeated_buildings: int = 0  # rows dropped because another input had the same gml:id

    @property
    def buildings(self) -> gpd.GeoDataFrame | None:
        return self.tables.get("buildings")

    def meshes(self, part: str) -> list[Path]:
        return [p for r in self.results if (p := r.mesh(part)) is not None]

    def prefecture(self) -> int | None:
        return next((r.prefecture for r in self.results if r.prefecture), None)

    def feature_counts(self) -> dict[str, dict]:
        """Per PLATEAU type: features read, what each became, and what was dropped and why."""
        kept: Counter = Counter()
        dropped: Counter = Counter()
        for r in self.results:
            kept.update(r.kept)
            dropped.update(r.dropped)
        if self.repeated_buildings:
            kept[("bldg", "buildings")] -= self.repeated_buildings
            dropped[("bldg", "repeated: the same gml:id in another input")] += self.repeated_buildings
        out: dict[str, dict] = {}
        for (kind, part), n in sorted(kept.items()):
            entry = out.setdefault(kind, {"read": 0, "kept": {}, "dropped": {}})
            if not n:
                continue
            entry["read"] += n
            entry["kept"][part] = entry["kept"].get(part, 0) + n
        for (kind, reason), n in sorted(dropped.items()):
            entry = out.setdefault(kind, {"read": 0, "kept": {}, "dropped": {}})
            entry["read"] += n
            entry["dropped"][reason] = n
        return out


def gather(results: Sequence[FileResult]) -> CityParts:
    """Join the tasks' intermediate files (in file-name order, so the City does not depend on who ran what)."""
    results = sorted(results, key=lambda r: (r.dataset, r.name))
    warnings: list[str] = []
    for r in results:
        warnings.extend(r.warnings)
        if r.error:
            warnings.append(r.error)
    tables = {part: concat_tables([p for r in results if (p := r.table(part)) is not None]) for part in TABLES}
    repeated = 0
    buildings = tables["buildings"]
    if buildings is not None:
        # Two downloads of one area (or a 2.0 file and its 3.0 conversion) repeat buildings: one row each.
        twice = buildings["gml_id"].duplicated()
        repeated = int(twice.sum())
        if repeated:
            warnings.append(f"{repeated} buildings appear in more than one input (same gml:id); the first of each is "
                            "kept (their tiles too)")
            tables["buildings"] = buildings[~twice].reset_index(drop=True)
    tins = [np.load(Path(r.work) / TIN_FILE) for r in results if r.triangles]
    points = [np.load(Path(r.work) / GROUND_POINTS_FILE) for r in results if r.ground_points]
    return CityParts(list(results), tables, np.concatenate(tins) if tins else None,
                     np.concatenate(points) if points else None, warnings, repeated)


def concat_tables(paths: Sequence[Path]) -> gpd.GeoDataFrame | None:
    """GeoParquet tables as one frame (concatenated in Arrow: one WKB decode)."""
    tables = [pq.read_table(p) for p in paths if p.exists()]
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="permissive")
    frame = table.drop_columns(["geometry"]).to_pandas()
    geometry = gpd.GeoSeries.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False), crs=LONLAT)
    return gpd.GeoDataFrame(frame, geometry=geometry)


# -- the City -----------------------------------------------------------------------------


def build_city(out: Path, city_id: str, parts: CityParts, plan: Plan, options: ConvertOptions,
               on_stage: Callable[[str], None] = lambda s: None, runner: Runner = run_inline) -> dict:
    """Write the City folder ``out`` from ``parts``; returns the manifest."""
    warnings = list(parts.warnings)
    buildings = parts.buildings
    has_content = any(t is not None for t in parts.tables.values()) or parts.tin is not None
    dems = [*of_kind(plan.inputs, "gsi_dem"), *of_kind(plan.inputs, "raster_dem")]
    if not has_content and not dems:
        first = next((w for w in warnings if w), None)
        raise TwinInputError(f"{plan.inputs[0].path}: nothing could be read" + (f" ({first})" if first else ""))
    extent = _extent(parts, plan, options)
    crs = local_crs(*_centre(extent), parts.prefecture() or _prefecture_of_name(plan))
    frame, notes = _frame(extent, crs, plan, options)

    with ThreadPoolExecutor(1) as background:
        tiling = None
        if buildings is not None and parts.meshes("buildings"):
            tiling = background.submit(write_building_tiles, parts.meshes("buildings"), out, runner=runner)
        on_stage("terrain")
        terrain = _terrain(frame, parts, plan, warnings) if frame is not None else None
        if terrain is not None:
            warnings[:0] = notes
            write_terrain(out, terrain)
            note = terrain.note()
            if note:
                warnings.append(note)
            if buildings is not None:
                fill_ground(buildings, terrain)
        elif frame is not None:
            warnings.append("no terrain: no DEM and nothing with a ground height (buildings, roads, water drawn in "
                            "3D); add a DEM with twin city add CITY DEM")
        on_stage("masks")
        if terrain is not None:
            write_grid_layers(out, terrain.frame, parts.tables)
        on_stage("tables")
        shelters, shelter_report = _shelters(plan, _lonlat_bbox(parts, terrain), crs, city_id, warnings)
        written = write_tables(out, parts.tables, shelters, parts.ground_points)
        on_stage("tiles")
        tiles = tiling.result() if tiling is not None else None
        extra = write_feature_tiles(out, parts, terrain, options)
        terrain_tiles = write_terrain_tileset(out, terrain, options.ellipsoidal_offset) if terrain else None

    present = set(written)
    if tiles is not None:
        present.add("tileset")
    if terrain is not None:
        present |= {"terrain", "terrain_sources", "masks", "terrain_tileset"}
        if parts.tables.get("land_use") is not None and (out / FILES["roughness"]).exists():
            present.add("roughness")
    present |= {f"{part}_tileset" for part, summary in extra.items() if summary is not None}
    manifest = manifest_of(city_id, plan, parts, terrain, present, tiles, extra, terrain_tiles, options, warnings)
    if shelter_report is not None:
        manifest["shelters"] = shelter_report.as_dict()
    write_manifest(out, manifest)
    return manifest


def _extent(parts: CityParts, plan: Plan, options: ConvertOptions) -> Extent:
    hazards = parts.tables.get("hazards")
    hazard_boxes = [] if hazards is None else [b for g in hazards.geometry if g is not None and not g.is_empty
                                               for b in [tuple(float(v) for v in g.bounds)]]
    others = [table_box(t) for key, t in parts.tables.items() if key not in ("buildings",)]
    measured = [i.bbox for i in plan.inputs if i.kind in ("gsi_dem", "raster_dem") and i.bbox is not None]
    if parts.tin is not None:
        measured.append((float(parts.tin[..., 1].min()), float(parts.tin[..., 0].min()),
                         float(parts.tin[..., 1].max()), float(parts.tin[..., 0].max())))
    return Extent(buildings=table_box(parts.buildings), hazards=hazard_boxes,  # type: ignore[arg-type]
                  others=_union([b for b in others if b is not None]), measured=_union(measured), bbox=options.bbox)


def _union(boxes: list) -> tuple[float, float, float, float] | None:
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _centre(extent: Extent) -> tuple[float, float]:
    for box in (extent.bbox, extent.buildings, extent.others, extent.measured):
        if box is not None:
            return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    raise TwinInputError("nothing with a position to place the City")


def _prefecture_of_name(plan: Plan) -> int | None:
    """PLATEAU dataset folders start with the city code (``13100_tokyo23-ku_…``): its first two digits."""
    for item in plan.inputs:
        name = item.path.name
        if item.kind == "plateau" and name[:5].isdigit():
            return int(name[:2])
    return None


def _frame(extent: Extent, crs: str, plan: Plan, options: ConvertOptions) -> tuple[Frame | None, list[str]]:
    """The grid's cells, and notes on a cell size coarser than the default."""
    box = extent_box(extent, from_lonlat(crs))
    if box is None:
        return None, []
    resolution, note = choose_resolution(box, options.resolution)
    if options.resolution is not None:
        return frame_of(box, resolution, crs), []
    # Planned from the file names before the work; what was read may reach a little further.
    notes = list(dict.fromkeys(n for n in [*plan.notes, note] if n))
    return frame_of(box, max(resolution, plan.resolution), crs), notes


def _terrain(frame: Frame, parts: CityParts, plan: Plan, warnings: list[str]) -> TerrainGrid | None:
    layers = measured_layers(frame, parts, of_kind(plan.inputs, "gsi_dem"), of_kind(plan.inputs, "raster_dem"),
                             warnings)
    return build_terrain(frame, layers, parts.buildings, parts.ground_points)


def measured_layers(frame: Frame, parts: CityParts, gsi: list[Path], rasters: list[Path],
                    warnings: list[str]) -> list[MeasuredLayer]:
    """The measured sources on ``frame``, best first: the tasks' TIN, the GSI DEMs, the DEM grids."""
    layers: list[MeasuredLayer] = []
    if parts.tin is not None:
        files = sorted({f"{r.dataset}:{r.name}" for r in parts.results if r.triangles})
        layer = tin_layer(frame, parts.tin, files)
        if layer is None:
            warnings.append("the dataset's DEM (udx/dem) does not reach the City's grid; not used")
        else:
            layers.append(layer)
    if gsi:
        found = gsi_layer(frame, gsi, warnings)
        if found is not None:
            layers.append(found)
    for path in rasters:
        found = raster_layer(frame, path, warnings)
        if found is not None:
            layers.append(found)
    return layers


def write_terrain(out: Path, terrain: TerrainGrid) -> None:
    crs = CRS.from_user_input(terrain.frame.crs)
    write_grid(out / FILES["terrain"], Grid(terrain.heights, terrain.frame.transform, crs))
    write_grid(out / FILES["terrain_sources"], Grid(terrain.sources, terrain.frame.transform, crs), nodata=0)


def write_grid_layers(out: Path, frame: Frame, tables: dict[str, gpd.GeoDataFrame | None]) -> None:
    """masks.tif and (with land use) roughness.tif on the terrain's grid."""
    write_masks(out / FILES["masks"], frame, tables)
    land_use = tables.get("land_use")
    if land_use is not None:
        write_roughness(out / FILES["roughness"], frame, land_use)


def fill_ground(buildings: gpd.GeoDataFrame, terrain: TerrainGrid) -> int:
    """Buildings without LOD1/2 heights take the terrain height under their centroid (again, when the
    terrain changes; ``ground_from_terrain`` marks them); how many did."""
    if "ground_from_terrain" not in buildings:
        buildings["ground_from_terrain"] = False
    missing = (buildings["ground_height"].isna() | buildings["ground_from_terrain"]) & buildings["centroid_lon"].notna()
    if not missing.any():
        return 0
    x, y = from_lonlat(terrain.frame.crs).transform(buildings.loc[missing, "centroid_lon"].to_numpy(float),
                                                    buildings.loc[missing, "centroid_lat"].to_numpy(float))
    cols, rows = ~terrain.frame.transform @ (np.asarray(x), np.asarray(y))
    rows = np.clip(np.floor(rows).astype(int), 0, terrain.frame.shape[0] - 1)
    cols = np.clip(np.floor(cols).astype(int), 0, terrain.frame.shape[1] - 1)
    buildings.loc[missing, "ground_height"] = terrain.heights[rows, cols].astype(float)
    buildings.loc[missing, "ground_from_terrain"] = True
    return int(missing.sum())


def write_tables(out: Path, tables: dict[str, gpd.GeoDataFrame | None], shelters: bytes | None,
                 ground_points: np.ndarray | None) -> list[str]:
    """The City's tables, shelter list and ground points (each replacing the file); the layout keys written."""
    written = []
    for part, key in TABLE_FILES.items():
        table = tables.get(part)
        if table is not None:
            write_with(out / FILES[key], functools.partial(table.to_parquet, row_group_size=TABLE_ROW_GROUP))
            written.append(key)
    if shelters is not None:
        write_atomic(out / FILES["shelters"], shelters)
        written.append("shelters")
    if ground_points is not None:
        frame = pd.DataFrame(ground_points, columns=["lat", "lon", "h"])
        write_with(out / FILES["ground_points"], lambda path: frame.to_parquet(path, index=False))
        written.append("ground_points")
    return written


def _shelters(plan: Plan, bbox: Sequence[float] | None, crs: str, city_id: str,
              warnings: list[str]) -> tuple[bytes | None, ShelterReport | None]:
    """The shelter list and, for a shelter input (.csv/.geojson), its report (``shelters_for_city``: sites far
    from the City left out); else one inside a dataset, as it is."""
    given = of_kind(plan.inputs, "shelters")
    if len(given) > 1:
        warnings.append(f"{len(given)} shelter lists given; the City keeps the last, {given[-1]}")
    if given:
        return shelters_for_city(given[-1], bbox, crs, f"city {city_id!r}")
    if len(plan.shelters) > 1:
        warnings.append(f"{len(plan.shelters)} datasets bring a shelter list; the City keeps {plan.shelters[0][0]}")
    return (plan.shelters[0][1] if plan.shelters else None), None


# -- tiles of bridges, water and terrain -----------------------------------------------------


def write_feature_tiles(out: Path, parts: CityParts, terrain: TerrainGrid | None,
                        options: ConvertOptions) -> dict[str, TilesetSummary | None]:
    """Bridges (meshed by the tasks) and water bodies (meshed here, on the terrain when drawn in 2D) as tilesets."""
    summaries: dict[str, TilesetSummary | None] = {"bridges": None, "water": None}
    bridges = parts.meshes("bridges")
    if bridges:
        summaries["bridges"] = _tileset(bridges, (out / FILES["bridges_tileset"]).parent)
    water = parts.tables.get("water")
    if water is not None:
        batch = out / ".work" / "water-mesh"
        mesh_buildings(water_features(water, terrain), batch, lod=1, ellipsoidal_offset=options.ellipsoidal_offset,
                       elements=None, properties=_water_properties, stats=MeshStats())
        summaries["water"] = _tileset([batch], (out / FILES["water_tileset"]).parent)
    return summaries


def _tileset(batches: list[Path], folder: Path) -> TilesetSummary | None:
    try:
        return write_building_tiles(batches, folder)
    except ValueError:  # nothing could be meshed
        return None


def water_features(water: gpd.GeoDataFrame, terrain: TerrainGrid | None) -> list[Feature]:
    """Water bodies as LOD1 surfaces: at their own surface level when drawn in 3D, else draped on the terrain."""
    features = []
    for row in water.itertuples(index=False):
        polygons = [p for p in shapely.get_parts(np.array([row.geometry])) if p is not None and p.geom_type == "Polygon"]
        level = row.water_level if row.water_level is not None and np.isfinite(row.water_level) else None
        if level is None and terrain is None:
            continue
        gml = [GmlPolygon(_ring(p.exterior.coords, level, terrain), [_ring(h.coords, level, terrain)
                                                                     for h in p.interiors]) for p in polygons]
        if gml:
            features.append(Feature(row.gml_id, "wtr", "WaterBody",
                                    [Geometry(1, "MultiSurface", [Surface("WaterSurface", gml)])],
                                    {"class": Code(row.class_code, row.class_label)} if row.class_code else {}))
    return features


def _ring(coords, level: float | None, terrain: TerrainGrid | None) -> np.ndarray:
    """(n, 3) rows of lat, lon, h of an (open) ring."""
    lonlat = np.asarray(coords, float)[:-1, :2]
    if level is not None:
        h = np.full(len(lonlat), level)
    else:
        assert terrain is not None
        x, y = from_lonlat(terrain.frame.crs).transform(lonlat[:, 0], lonlat[:, 1])
        cols, rows = ~terrain.frame.transform @ (np.asarray(x), np.asarray(y))
        rows = np.clip(np.floor(rows).astype(int), 0, terrain.frame.shape[0] - 1)
        cols = np.clip(np.floor(cols).astype(int), 0, terrain.frame.shape[1] - 1)
        h = terrain.heights[rows, cols].astype(float)
    return np.column_stack([lonlat[:, 1], lonlat[:, 0], h])


def _water_properties(feature: Feature) -> BuildingProperties:
    kind = feature.attributes.get("class")
    return BuildingProperties(gml_id=feature.gml_id, usage=str(kind) if kind is not None else None,
                              usage_code=getattr(kind, "code", None))


def write_terrain_tileset(out: Path, terrain: TerrainGrid, ellipsoidal_offset: float) -> dict | None:
    """The terrain grid as 3D Tiles; the summary with the leaf mesh spacing."""
    measured = [layer.spacing_m for layer in terrain.layers]
    step = leaf_step(terrain.frame.resolution, min(measured) if measured else None)
    if min(terrain.frame.shape) < 2:
        return None
    summary = write_terrain_tiles(terrain.heights, terrain.frame.transform, terrain.frame.crs,
                                  (out / FILES["terrain_tileset"]).parent, step=step,
                                  credit=licence.attribution({"terrain": terrain.provenance()}).text,
                                  ellipsoidal_offset=ellipsoidal_offset)
    return {**summary.as_dict(), "spacing_m": step * terrain.frame.resolution}


# -- the manifest -----------------------------------------------------------------------------


def manifest_of(city_id: str, plan: Plan, parts: CityParts, terrain: TerrainGrid | None, present: set[str],
                tiles: TilesetSummary | None, extra: dict[str, TilesetSummary | None], terrain_tiles: dict | None,
                options: ConvertOptions, warnings: list[str]) -> dict:
    """city.json: where the City came from, what it holds (counted per feature type), its grid and terrain."""
    buildings = parts.buildings
    bbox = _lonlat_bbox(parts, terrain)
    stats = MeshStats()
    for r in parts.results:
        stats.update(r.mesh_stats)
    ground = buildings["ground_height"].astype(float) if buildings is not None else pd.Series(dtype=float)
    height = float(np.nanmedian(ground)) if ground.notna().any() else (
        float(np.median(terrain.heights)) if terrain is not None else 0.0)

    def count(part: str) -> int:
        table = parts.tables.get(part)
        return 0 if table is None else int(len(table))

    return {
        "id": city_id,
        "name": plan.inputs[0].path.name,
        "inputs": [{"path": str(i.path.resolve()), "kind": i.kind, "bbox": list(i.bbox) if i.bbox else None}
                   for i in plan.inputs],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "crs": {"source": "EPSG:6697", "local": terrain.frame.crs if terrain is not None else None},
        "bbox": list(bbox) if bbox else None,
        "center": [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2, height] if bbox else None,
        "counts": {
            "files": len(parts.results),
            "buildings": count("buildings"),
            "buildings_with_flood_risk": int(buildings["has_flood_risk"].sum()) if buildings is not None else 0,
            "textured_buildings": int(buildings["textured"].sum()) if buildings is not None else 0,
            "default_heights": stats.default_height,
            "roads": count("roads"),
            "hazard_areas": count("hazards"),
            "water_bodies": count("water"),
            "land_use_areas": count("land_use"),
            "bridges": count("bridges"),
            "other_features": count("features"),
            "dem_triangles": int(sum(r.triangles for r in parts.results)),
        },
        "features": parts.feature_counts(),
        "mesh": {**asdict(stats), "lods": {str(k): v for k, v in sorted(stats.lods.items())}},
        "tiles": tiles.as_dict() if tiles is not None else None,
        "feature_tiles": {k: v.as_dict() if v is not None else None for k, v in extra.items()},
        "terrain_tiles": terrain_tiles,
        "grid": None if terrain is None else {
            "resolution": terrain.frame.resolution,
            "width": terrain.frame.shape[1],
            "height": terrain.frame.shape[0],
            "transform": list(terrain.frame.transform)[:6],
            "crs": terrain.frame.crs,
        },
        "terrain": terrain.provenance() if terrain is not None else None,
        "files": files_entry(present),
        "ellipsoidal_offset": options.ellipsoidal_offset,
        "options": {"lod": options.lod, "bbox": list(options.bbox) if options.bbox else None,
                    "resolution": options.resolution, "ellipsoidal_offset": options.ellipsoidal_offset},
        "versions": {"machi_twin": __version__, "iur": sorted({r.iur_version for r in parts.results if r.iur_version}),
                     "tiles": "1.1"},
        "warnings": warnings[:1000],
    }


def _lonlat_bbox(parts: CityParts, terrain: TerrainGrid | None) -> tuple[float, float, float, float] | None:
    box = table_box(parts.buildings)
    if box is not None:
        return box
    if terrain is not None:
        return terrain.frame.lonlat_bounds()
    return _union([b for t in parts.tables.values() if (b := table_box(t)) is not None])
