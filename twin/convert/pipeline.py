"""Building a City from downloads: inputs checked, per-file tasks, then one merge.

``twin convert A.zip B/ dem.zip -o data/x``: the inputs (PLATEAU datasets, GSI DEMs, GeoTIFF/ASCII
DEMs, shelter lists; ``twin.convert.inputs``) must be of one place. Before any file is parsed,
the grid's cell size is fixed against the cell limit (``twin.convert.grid_frame``). Each CityGML
file is then one task (inline, or on dask.distributed workers; ``twin.convert.file_tasks``); the
merge (``twin.convert.city_build``) writes the City folder. Everything is written into a sibling
folder first and renamed into place at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from citygml.dataset import BBox, DatasetFile, open_dataset
from twin.convert.area_rows import HAZARD_TYPES
from twin.convert.city_build import build_city, gather
from twin.convert.file_tasks import FileResult, TaskOptions, convert_file
from twin.convert.grid_frame import (
    COARSER,
    DEFAULT_RESOLUTION,
    centre_crs,
    choose_resolution,
    local_box,
    planned_extent,
)
from twin.convert.inputs import Input, classify, of_kind
from twin.convert.runners import Runner, run_inline
from twin.errors import TwinInputError
from twin.files.atomic import partial, publish, staging_folder
from twin.tiles.meshes import Lod


@dataclass(frozen=True)
class ConvertOptions:
    """``resolution`` None: 2 m, or coarser when the City would exceed the grid's cell limit (said so)."""

    lod: Lod = "max"
    bbox: BBox | None = None
    resolution: float | None = None
    ellipsoidal_offset: float = 0.0

    def task(self) -> TaskOptions:
        return TaskOptions(lod=self.lod, bbox=self.bbox, ellipsoidal_offset=self.ellipsoidal_offset)


@dataclass
class Plan:
    """What a conversion will do, decided before the work: the files, the inputs, the cell size."""

    inputs: list[Input]
    files: list[tuple[str, DatasetFile]]  # (dataset path, file)
    resolution: float
    notes: list[str] = field(default_factory=list)
    shelters: list[tuple[str, bytes]] = field(default_factory=list)  # (where from, GeoJSON bytes)

    def task_args(self, work: Path, options: ConvertOptions) -> list[tuple]:
        args = [(dataset, f, str(work / f"{i:05d}"), options.task()) for i, (dataset, f) in enumerate(self.files)]
        args.sort(key=lambda item: -item[1].size)  # longest first: workers finish together
        return args


def plan_conversion(inputs: list[Input], options: ConvertOptions, require_content: bool = True) -> Plan:
    """The files to convert and the grid's cell size; TwinInputError when there is nothing to convert
    (with ``require_content``) or the grid would be too large for the cell size asked for."""
    files: list[tuple[str, DatasetFile]] = []
    shelters: list[tuple[str, bytes]] = []
    for path in of_kind(inputs, "plateau"):
        with open_dataset(path) as dataset:
            chosen = [f for f in dataset.select(bbox=options.bbox) if f.name.lower().endswith(".gml")]
            files += [(str(path), f) for f in chosen]
            found = dataset.read_bytes("shelters.geojson")
            if found is not None:
                shelters.append((f"{path}:shelters.geojson", found))
    dems = [*of_kind(inputs, "gsi_dem"), *of_kind(inputs, "raster_dem")]
    if require_content and not files and not dems:
        where = ", ".join(str(i.path) for i in inputs)
        raise TwinInputError(f"{where}: no CityGML files and no DEM to convert" + (" in --bbox" if options.bbox else ""))
    extent = planned_extent(
        building_boxes=[b for _, f in files if f.type == "bldg" and (b := f.bbox) is not None],
        hazard_boxes=[b for _, f in files if f.type in HAZARD_TYPES and (b := f.bbox) is not None],
        other_boxes=[b for _, f in files if f.type not in ("bldg", "dem") and f.type not in HAZARD_TYPES
                     and (b := f.bbox) is not None],
        dem_boxes=[b for _, f in files if f.type == "dem" and (b := f.bbox) is not None]
        + [i.bbox for i in inputs if i.kind in ("gsi_dem", "raster_dem") and i.bbox is not None],
        bbox=options.bbox)
    floor: float = DEFAULT_RESOLUTION
    notes: list[str] = []
    spacings = [i.spacing_m for i in inputs if i.spacing_m is not None]
    if spacings and not any(f.type == "bldg" for _, f in files):
        # Without buildings nothing needs cells finer than the DEM: a 10 m DEM gives a 10 m grid.
        floor = max([r for r in COARSER if r <= min(spacings)], default=DEFAULT_RESOLUTION)
    resolution = options.resolution or floor
    try:
        box = local_box(extent, centre_crs(extent, None))
    except TwinInputError:
        box = None  # no file names a mesh: the extent is known only after reading
    if box is not None:
        cell, note = choose_resolution(box, options.resolution)
        resolution = cell if options.resolution else max(cell, floor)
        if note:
            notes.append(note)
    return Plan(inputs, files, resolution, notes, shelters)


def convert(
    sources: Sequence[str | Path] | str | Path,
    out: str | Path,
    options: ConvertOptions = ConvertOptions(),
    runner: Runner = run_inline,
    on_file: Callable[[FileResult], None] = lambda r: None,
    on_stage: Callable[[str], None] = lambda s: None,
    dems: Sequence[str | Path] = (),
) -> dict:
    """Convert ``sources`` (and the DEMs ``dems``) into the City folder ``out``; returns the manifest."""
    paths = [Path(sources)] if isinstance(sources, (str, Path)) else [Path(s) for s in sources]
    inputs = classify(paths, [Path(d) for d in dems])
    plan = plan_conversion(inputs, options)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    try:
        work = staging / ".work"
        results = runner(convert_file, plan.task_args(work, options), on_file)
        parts = gather(results)
        manifest = build_city(staging, out.name, parts, plan, options, on_stage, runner)
        shutil.rmtree(work, ignore_errors=True)
        replace_city(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def replace_city(staging: Path, out: Path) -> None:
    """Put the finished folder in place; an older City there is removed only after that."""
    old = None
    if out.exists():
        old = partial(out.with_name(f"{out.name}-old"))
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    publish(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
