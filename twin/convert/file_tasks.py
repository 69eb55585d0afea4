"""One CityGML file → small intermediate files: the task the pipeline runs per file.

Each feature goes where its element and package say (``route``): buildings to table rows and
meshes, the DEM's TIN to triangles, roads, official hazard areas, water bodies, land use and
bridges to their tables (water bodies and bridges also to meshes), every other type to the
generic features table. Roads and water bodies also give ground points (their vertices with
heights) that the estimated terrain interpolates between. What went where is counted, per
PLATEAU type, so that nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from citygml.dataset import BBox, Dataset, DatasetFile, feature_in, open_dataset
from citygml.errors import CityGMLError
from citygml.model import Feature
from twin.convert.area_rows import (
    HAZARD_TYPES,
    bridge_row,
    generic_row,
    ground_points,
    hazard_row,
    land_use_row,
    road_row,
    water_row,
)
from twin.convert.building_rows import building_row, building_table
from twin.lonlat import LONLAT
from twin.tiles.city_tiles import mesh_buildings
from twin.tiles.meshes import Lod, MeshStats
from twin.tiles.metadata import BuildingProperties

#: Where features go: the City part (``PARTS`` key) each is routed to.
PARTS = ("buildings", "terrain", "roads", "hazards", "water", "land_use", "bridges", "features")
#: Intermediate table of each part in a task's work folder.
TABLES = {part: f"{part}.parquet" for part in ("buildings", "roads", "hazards", "water", "land_use", "bridges",
                                                 "features")}
TIN_FILE = "tin.npy"
GROUND_POINTS_FILE = "ground_points.npy"
#: Mesh batch folders of the parts drawn as 3D Tiles.
MESH_FOLDERS = {"buildings": "mesh", "bridges": "bridge-mesh", "water": "water-mesh"}


@dataclass(frozen=True)
class TaskOptions:
    """What a file task needs to know of the conversion."""

    lod: Lod = "max"
    bbox: BBox | None = None
    ellipsoidal_offset: float = 0.0


@dataclass
class FileResult:
    """What one file's task wrote into its work folder, and what it counted.

    ``kept`` counts features per (PLATEAU type, City part) and ``dropped`` per (type, reason).
    """

    name: str
    type: str
    work: str
    dataset: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # part → rows written
    triangles: int = 0
    ground_points: int = 0
    kept: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    mesh_stats: MeshStats = field(default_factory=MeshStats)
    iur_version: str | None = None
    prefecture: int | None = None

    @property
    def buildings(self) -> int:
        return self.rows.get("buildings", 0)

    def table(self, part: str) -> Path | None:
        """The intermediate table of ``part`` when this task wrote one."""
        return Path(self.work) / TABLES[part] if self.rows.get(part) else None

    def mesh(self, part: str) -> Path | None:
        """The mesh batch of ``part`` when this task meshed any of it."""
        return Path(self.work) / MESH_FOLDERS[part] if self.rows.get(part) else None


def route(feature: Feature, file_type: str) -> str:
    """The City part a feature becomes (see ``PARTS``)."""
    element = feature.element
    if element == "Building":
        return "buildings"
    if element in ("ReliefFeature", "TINRelief"):
        return "terrain"
    if file_type in HAZARD_TYPES:
        return "hazards"
    return {"Road": "roads", "WaterBody": "water", "LandUse": "land_use", "Bridge": "bridges"}.get(element, "features")


def convert_file(dataset_path: str, file: DatasetFile, work: str, options: TaskOptions) -> FileResult:
    """The task for one CityGML file (runs in a worker process)."""
    result = FileResult(file.name, file.type, work, dataset=dataset_path)
    os.makedirs(work, exist_ok=True)
    with open_dataset(dataset_path) as dataset:
        # Textures only go on LOD2 meshes: with --lod 0 or 1 their section is not read at all.
        reader = dataset.reader(file, textures=options.lod in ("max", 2))
        features = (f for f in reader if options.bbox is None or feature_in(f, options.bbox))
        try:
            _Sorter(dataset, file, Path(work), options, result).run(features)
        except CityGMLError as exc:
            result.error = str(exc)
        result.warnings = [str(w) for w in reader.info.warnings]
        result.iur_version = reader.info.iur_version
    if result.mesh_stats.missing_textures:
        result.warnings.append(f"{dataset_path}:{file.name}: {result.mesh_stats.missing_textures} texture image(s) "
                               "missing from the dataset; those surfaces are drawn untextured")
    return result


class _Sorter:
    """Routes one file's features into rows, meshes, triangles and ground points."""

    def __init__(self, dataset: Dataset, file: DatasetFile, work: Path, options: TaskOptions,
                 result: FileResult) -> None:
        self.dataset, self.file, self.work, self.options, self.result = dataset, file, work, options, result
        self.rows: dict[str, list[dict]] = {part: [] for part in TABLES}
        self.triangles: list[np.ndarray] = []
        self.points: list[np.ndarray] = []

    def run(self, features: Iterable[Feature]) -> None:
        # Buildings, bridges and water bodies are meshed as they stream past (one file's
        # buildings may be tens of thousands): each mesh pass pulls its own part of the stream.
        mesh_parts = ("buildings", "bridges", "water")
        pending: dict[str, list[Feature]] = {part: [] for part in mesh_parts[1:]}
        stats = self.result.mesh_stats

        def buildings() -> Iterator[Feature]:
            for feature in features:
                part = route(feature, self.file.type)
                if part == "buildings":
                    self._add_building(feature)
                    yield feature
                elif part in pending:
                    if self._add(feature, part):
                        pending[part].append(feature)
                else:
                    self._add(feature, part)

        folder = self.work / MESH_FOLDERS["buildings"]
        mesh_buildings(buildings(), folder, self.dataset.read_bytes, lod=self.options.lod,
                       ellipsoidal_offset=self.options.ellipsoidal_offset, stats=stats)
        for part, found in pending.items():
            if found:
                mesh_buildings(found, self.work / MESH_FOLDERS[part], self.dataset.read_bytes, lod=self.options.lod,
                               ellipsoidal_offset=self.options.ellipsoidal_offset, elements=None,
                               properties=_feature_properties, stats=MeshStats())
        self._write()

    def _add_building(self, feature: Feature) -> None:
        self.rows["buildings"].append(building_row(feature))
        self.result.kept[(feature.type or "bldg", "buildings")] += 1
        if self.result.prefecture is None and feature.prefecture is not None:
            self.result.prefecture = int(feature.prefecture)

    def _add(self, feature: Feature, part: str) -> bool:
        """Row (or triangles) of a non-building feature; False (counted as dropped) without usable geometry."""
        kind = feature.type or self.file.type
        if part == "terrain":
            found = [g.triangles for g in feature.geometries if g.triangles is not None and len(g.triangles)]
            if not found:
                self.result.dropped[(kind, "no TIN triangles")] += 1
                return False
            self.triangles.extend(found)
            self.result.kept[(kind, part)] += 1
            return True
        row = _ROWS[part](feature, Path(self.file.name).name)
        if row is None:
            self.result.dropped[(kind, "no surface, line or point geometry")] += 1
            return False
        self.rows[part].append(row)
        self.result.kept[(kind, part)] += 1
        if part in ("roads", "water"):
            points = ground_points(feature)
            if len(points):
                self.points.append(points)
        return True

    def _write(self) -> None:
        for part, rows in self.rows.items():
            if not rows:
                continue
            path = self.work / TABLES[part]
            if part == "buildings":
                building_table(rows, LONLAT).to_parquet(path)
            else:
                gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=LONLAT).to_parquet(path)
            self.result.rows[part] = len(rows)
        if self.triangles:
            triangles = np.concatenate(self.triangles)
            np.save(self.work / TIN_FILE, triangles)
            self.result.triangles = len(triangles)
        if self.points:
            points = np.concatenate(self.points)
            np.save(self.work / GROUND_POINTS_FILE, points)
            self.result.ground_points = len(points)


def _feature_properties(feature: Feature) -> BuildingProperties:
    """What a bridge's or water body's tile says about it: its class as the ``usage``."""
    kind = feature.attributes.get("class")
    return BuildingProperties(gml_id=feature.gml_id, usage=str(kind) if kind is not None else None,
                              usage_code=getattr(kind, "code", None))


_ROWS: dict[str, Callable[[Feature, str], dict | None]] = {
    "roads": lambda f, name: road_row(f),
    "hazards": hazard_row,
    "water": lambda f, name: water_row(f),
    "land_use": lambda f, name: land_use_row(f),
    "bridges": lambda f, name: bridge_row(f),
    "features": lambda f, name: generic_row(f),
}
