"""``twin city add``: more downloads into an existing City, rebuilding only what they change.

Hazard layers, roads, water bodies, land use and other feature types join their tables (a
gml:id already in the City is replaced by the new one); a DEM (the dataset's TIN, GSI files, a
GeoTIFF/ASCII grid) joins the terrain's measured sources by its priority and the estimated cells
are estimated again; the masks, roughness, water tiles and terrain tiles are rewritten only when
what they are made of changed; a shelter list replaces the City's. The buildings, their tiles
and the grid's cells stay as they are. Buildings and bridges are tiled with the City's other
buildings, so adding those converts the City again from all its recorded inputs.

The new City is staged beside the old one (unchanged files hard-linked, changed ones written
afresh) and renamed into place at the end, like a conversion.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from twin.city.layout import FILES, TERRAIN_SOURCES, CityFolder, files_entry, write_manifest
from twin.city.shelters import shelters_for_city
from twin.convert.city_build import (
    TABLE_FILES,
    CityParts,
    build_city,
    fill_ground,
    gather,
    measured_layers,
    write_feature_tiles,
    write_grid_layers,
    write_tables,
    write_terrain,
    write_terrain_tileset,
)
from twin.convert.dem_rasters import MeasuredLayer
from twin.convert.file_tasks import FileResult, convert_file
from twin.convert.grid_frame import Frame
from twin.convert.inputs import Input, check_overlap, classify, of_kind
from twin.convert.pipeline import ConvertOptions, Plan, convert, plan_conversion, replace_city
from twin.convert.runners import Runner, run_inline
from twin.convert.terrain import CODES, TerrainGrid, build_terrain
from twin.errors import TwinInputError
from twin.files.atomic import staging_folder
from twin.files.rasters import read_grid

#: File types whose features are tiled with the buildings: adding them converts the City again.
REBUILD_TYPES = frozenset({"bldg", "brid"})
#: Tables whose change redraws the masks and roughness.
GRID_TABLES = ("roads", "water", "bridges", "land_use")


def add_to_city(
    city_path: str | Path,
    sources: Sequence[str | Path],
    dems: Sequence[str | Path] = (),
    runner: Runner = run_inline,
    on_file: Callable[[FileResult], None] = lambda r: None,
    on_stage: Callable[[str], None] = lambda s: None,
) -> dict:
    """Add ``sources`` (and ``dems``) to the City at ``city_path``; returns its new manifest."""
    city = CityFolder.open(city_path)
    inputs = classify([Path(s) for s in sources], [Path(d) for d in dems], check=False)
    box = city.manifest.get("bbox")
    if box:
        check_overlap(inputs, city=tuple(box), city_name=f"City {city.id!r}")
    options = options_of(city)
    plan = plan_conversion(inputs, options, require_content=False)
    if {f.type for _, f in plan.files} & REBUILD_TYPES:
        return _rebuild(city, inputs, options, runner, on_file, on_stage)
    staging = staging_folder(city.path)
    try:
        _link_tree(city.path, staging)
        work = staging / ".work"
        results = runner(convert_file, plan.task_args(work, options), on_file)
        manifest = _update(city, staging, gather(results), plan, options, on_stage)
        shutil.rmtree(work, ignore_errors=True)
        replace_city(staging, city.path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def options_of(city: CityFolder) -> ConvertOptions:
    """The options the City was converted with (recorded in its manifest)."""
    recorded = city.manifest.get("options") or {}
    bbox = recorded.get("bbox")
    return ConvertOptions(lod=recorded.get("lod", "max"), bbox=tuple(bbox) if bbox else None,
                          resolution=recorded.get("resolution"),
                          ellipsoidal_offset=float(city.manifest.get("ellipsoidal_offset") or 0.0))


def _rebuild(city: CityFolder, inputs: list[Input], options: ConvertOptions, runner: Runner,
             on_file: Callable[[FileResult], None], on_stage: Callable[[str], None]) -> dict:
    recorded = [Path(i["path"]) for i in city.manifest.get("inputs") or []]
    gone = [p for p in recorded if not p.exists()]
    if gone or not recorded:
        missing = gone[0] if gone else "(none recorded)"
        raise TwinInputError(f"{city.path}: adding buildings or bridges converts the City again from all its inputs, "
                             f"and input {missing} is not there; run twin convert with every input")
    paths = list(dict.fromkeys([*recorded, *(i.path for i in inputs)]))
    return convert(paths, city.path, options, runner, on_file, on_stage)


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of every file of ``source`` under ``target`` (copies where links are not possible)."""
    for folder, _, names in os.walk(source):
        relative = Path(folder).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in names:
            try:
                os.link(Path(folder) / name, target / relative / name)
            except OSError:
                shutil.copy2(Path(folder) / name, target / relative / name)


def _update(city: CityFolder, out: Path, new: CityParts, plan: Plan, options: ConvertOptions,
            on_stage: Callable[[str], None]) -> dict:
    """Write what the new parts change into the staged City ``out``; the new manifest."""
    manifest = dict(city.manifest)
    warnings = list(new.warnings)
    changed = {part for part, table in new.tables.items() if table is not None}
    tables = {part: _joined(city, part, new.tables.get(part)) for part in TABLE_FILES}
    old_points = _ground_points(city)
    points = _stack(old_points, new.ground_points)
    frame = _frame(city)
    if frame is None:  # a City without terrain (hazard layers only): place its grid now, as a conversion would
        return _convert_again(city, out, new, plan, options, on_stage, tables, points)

    shelter_inputs = of_kind(plan.inputs, "shelters")
    shelters = None
    if shelter_inputs:  # checked first: a list of another place changes nothing
        shelters, report = shelters_for_city(shelter_inputs[-1], manifest.get("bbox"), frame.crs, f"city {city.id!r}")
        manifest["shelters"] = report.as_dict()

    on_stage("terrain")
    dems = new.tin is not None or bool(of_kind(plan.inputs, "gsi_dem") or of_kind(plan.inputs, "raster_dem"))
    estimated = (manifest.get("terrain") or {}).get("estimated_share", 0) > 0
    terrain = None
    if dems or (new.ground_points is not None and estimated):
        layers = _existing_layers(city, frame) + measured_layers(frame, new, of_kind(plan.inputs, "gsi_dem"),
                                                                  of_kind(plan.inputs, "raster_dem"), warnings)
        layers.sort(key=lambda layer: CODES[layer.kind])
        terrain = build_terrain(frame, layers, tables["buildings"], points)
        if terrain is not None:
            write_terrain(out, terrain)
            if tables["buildings"] is not None and fill_ground(tables["buildings"], terrain):
                changed.add("buildings")
            note = terrain.note()
            if note:
                warnings.append(note)
    on_stage("masks")
    if changed & set(GRID_TABLES):
        _remove(out, "roughness")
        write_grid_layers(out, frame, tables)
    on_stage("tables")
    written = write_tables(out, {p: t for p, t in tables.items() if p in changed}, shelters,
                           points if new.ground_points is not None else None)
    on_stage("tiles")
    tiles: dict = {}
    current = terrain or _current_terrain(city, frame)
    if "water" in changed or (terrain is not None and tables["water"] is not None):
        _remove(out, "water_tileset")
        parts = CityParts([], {"water": tables["water"]}, None, None)
        tiles.update(write_feature_tiles(out, parts, current, options))
    if terrain is not None:
        _remove(out, "terrain_tileset")
        manifest["terrain_tiles"] = write_terrain_tileset(out, terrain, options.ellipsoidal_offset)
        manifest["terrain"] = terrain.provenance()

    present = {key for key, name in (manifest.get("files") or {}).items() if name} | set(written)
    if "land_use" in changed and (out / FILES["roughness"]).exists():
        present.add("roughness")
    for part, summary in tiles.items():
        (present.add if summary is not None else present.discard)(f"{part}_tileset")
        manifest.setdefault("feature_tiles", {})[part] = summary.as_dict() if summary is not None else None
    return _finish(manifest, out, city, new, plan, tables, present, warnings)


def _convert_again(city: CityFolder, out: Path, new: CityParts, plan: Plan, options: ConvertOptions,
                   on_stage: Callable[[str], None], tables: dict, points: np.ndarray | None) -> dict:
    """A City without a grid gets one: its old and new parts built into ``out`` as a conversion would
    (its building tiles, if any, stay as they are)."""
    joined = CityParts(new.results, tables, new.tin, points, new.warnings, new.repeated_buildings)
    recorded = [Input(Path(i["path"]), i["kind"], tuple(i["bbox"]) if i.get("bbox") else None)
                for i in city.manifest.get("inputs") or []]
    dems = [i for i in recorded if i.kind in ("gsi_dem", "raster_dem") and i.path.exists()]
    shelters = plan.shelters
    kept_shelters = city.has("shelters") and not shelters and not of_kind(plan.inputs, "shelters")
    if kept_shelters:
        shelters = [(str(city.require("shelters")), city.require("shelters").read_bytes())]
    _remove(out, "water_tileset")
    manifest = build_city(out, city.id, joined, replace(plan, inputs=[*plan.inputs, *dems], shelters=shelters),
                          options, on_stage)
    if kept_shelters and city.manifest.get("shelters"):
        manifest["shelters"] = city.manifest["shelters"]
    kept = {key for key, name in (city.manifest.get("files") or {}).items() if name}
    if manifest.get("tiles") is None:
        manifest["tiles"] = city.manifest.get("tiles")
    return _finish(manifest, out, city, new, plan, tables, kept | {k for k, v in manifest["files"].items() if v},
                   manifest["warnings"], built=True)


def _finish(manifest: dict, out: Path, city: CityFolder, new: CityParts, plan: Plan, tables: dict,
            present: set[str], warnings: list[str], built: bool = False) -> dict:
    """The manifest after an addition: inputs, counts per feature type, files, warnings, when."""
    old = city.manifest
    manifest["inputs"] = [*(old.get("inputs") or []),
                          *({"path": str(i.path.resolve()), "kind": i.kind, "bbox": list(i.bbox) if i.bbox else None}
                            for i in plan.inputs)]
    manifest["features"] = _merged_counts(old.get("features") or {}, new.feature_counts())
    counts = dict(old.get("counts") or {}) if not built else manifest["counts"]
    for part, key in (("roads", "roads"), ("hazards", "hazard_areas"), ("water", "water_bodies"),
                      ("land_use", "land_use_areas"), ("features", "other_features"), ("bridges", "bridges")):
        counts[key] = 0 if tables.get(part) is None else int(len(tables[part]))
    counts["files"] = int(counts.get("files", 0)) + len(new.results) if not built else counts["files"]
    counts["dem_triangles"] = int(old.get("counts", {}).get("dem_triangles", 0)) + int(
        sum(r.triangles for r in new.results))
    manifest["counts"] = counts
    manifest["files"] = files_entry({key for key in present if (out / FILES[key]).exists()})
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    manifest["additions"] = [*(old.get("additions") or []), {"at": stamp, "inputs": [str(i.path) for i in plan.inputs]}]
    earlier = old.get("warnings") or []
    if manifest.get("terrain") != old.get("terrain"):  # the old terrain's note no longer holds
        stale = _terrain_note(old.get("terrain"))
        earlier = [w for w in earlier if w != stale]
    manifest["warnings"] = ([*earlier, *warnings] if not built else warnings)[:1000]
    write_manifest(out, manifest)
    return manifest


def _merged_counts(old: dict, new: dict) -> dict:
    out = {kind: {"read": e["read"], "kept": dict(e["kept"]), "dropped": dict(e["dropped"])} for kind, e in old.items()}
    for kind, entry in new.items():
        into = out.setdefault(kind, {"read": 0, "kept": {}, "dropped": {}})
        into["read"] += entry["read"]
        for group in ("kept", "dropped"):
            for key, n in entry[group].items():
                into[group][key] = into[group].get(key, 0) + n
    return out


def _joined(city: CityFolder, part: str, new: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The City's table of ``part`` with the new rows (a gml:id already there takes the new row)."""
    path = city.file(TABLE_FILES[part])
    old = gpd.read_parquet(path) if path is not None and path.is_file() else None
    if new is None or old is None:
        return new if old is None else old
    old = old.to_crs(new.crs) if old.crs != new.crs else old
    kept = old[~old["gml_id"].isin(set(new["gml_id"]))]
    return gpd.GeoDataFrame(pd.concat([kept, new], ignore_index=True), geometry="geometry", crs=new.crs)


def _ground_points(city: CityFolder) -> np.ndarray | None:
    path = city.file("ground_points")
    if path is None or not path.is_file():
        return None
    return pd.read_parquet(path)[["lat", "lon", "h"]].to_numpy(float)


def _stack(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    found = [x for x in (a, b) if x is not None and len(x)]
    return np.concatenate(found) if found else None


def _frame(city: CityFolder) -> Frame | None:
    grid = city.manifest.get("grid")
    if not grid or not city.has("terrain"):
        return None
    with rasterio.open(city.require("terrain")) as src:
        return Frame(src.transform, (src.height, src.width), grid["crs"])


def _existing_layers(city: CityFolder, frame: Frame) -> list[MeasuredLayer]:
    """The City's measured terrain cells as layers, one per source, with their recorded spacing and files."""
    if not city.has("terrain_sources"):
        return []
    heights = read_grid(city.require("terrain"), np.float32).data
    codes = read_grid(city.require("terrain_sources"), np.float32).data
    recorded = {entry["kind"]: entry for entry in (city.manifest.get("terrain") or {}).get("sources") or []}
    layers = []
    for code, kind in TERRAIN_SOURCES.items():
        if kind not in recorded or kind in ("estimated", "extrapolated"):
            continue
        own = np.where(codes == code, heights, np.nan).astype(np.float32)
        layers.append(MeasuredLayer(kind, own, float(recorded[kind].get("spacing_m") or frame.resolution),
                                    list(recorded[kind].get("files") or [])))
    return layers


def _current_terrain(city: CityFolder, frame: Frame) -> TerrainGrid | None:
    if not city.has("terrain"):
        return None
    heights = read_grid(city.require("terrain"), np.float32).data
    codes = (read_grid(city.require("terrain_sources"), np.float32).data.astype(np.uint8)
             if city.has("terrain_sources") else np.zeros(frame.shape, np.uint8))
    return TerrainGrid(heights, codes, frame, [], 0)


def _remove(out: Path, key: str) -> None:
    """Unlink a part of the staged City before it is written again (its hard link must not be written through)."""
    path = out / FILES[key]
    target = path.parent if key.endswith("_tileset") else path
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)


def _terrain_note(provenance: dict | None) -> str | None:
    """The warning a conversion gave for this terrain provenance (``TerrainGrid.note``)."""
    return None if not provenance else provenance.get("note")
