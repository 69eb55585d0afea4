"""The City folder: every file name, manifest key and mask band, and how each part is opened.

``twin convert`` writes a City as one folder (its name is the city id)::

    city.json            the manifest: source, CRS, bbox, counts, grid, files, versions, warnings
    tileset.json, content/, tilesets/   3D Tiles 1.1 of the buildings
    terrain/tileset.json the terrain grid as 3D Tiles
    bridges/tileset.json, water/tileset.json   bridges and water bodies as 3D Tiles
    buildings.parquet    one row per building (GeoParquet, lon/lat)
    terrain.tif          the terrain grid (local plane-rectangular CRS)
    terrain_sources.tif  where each terrain cell's height came from (``TERRAIN_SOURCES``)
    masks.tif            the ``MASK_BANDS`` on the same grid: footprints, roads, water, bridge decks
    roughness.tif        Manning's n from land use, when the City has land use
    hazards.parquet, roads.parquet, shelters.geojson   when the dataset has them
    water.parquet, land_use.parquet                    water bodies and land use, when converted
    bridges.parquet, features.parquet                  bridges; every other feature type (generic)
    ground_points.parquet  heights of roads and water bodies drawn in 3D (the estimated terrain's points)

This module is the only code that knows these names: writers take them from ``FILES`` and
``MASK_BANDS``, readers open parts through ``CityFolder``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from pyproj import CRS

from twin.errors import TwinInputError
from twin.files.atomic import write_json, write_with
from twin.files.rasters import Grid, read_grid

MANIFEST = "city.json"
#: Manifest ``files`` key → file name inside the City folder.
FILES = {
    "tileset": "tileset.json",
    "terrain_tileset": "terrain/tileset.json",
    "buildings": "buildings.parquet",
    "terrain": "terrain.tif",
    "masks": "masks.tif",
    "hazards": "hazards.parquet",
    "roads": "roads.parquet",
    "shelters": "shelters.geojson",
    "water": "water.parquet",
    "land_use": "land_use.parquet",
    "bridges": "bridges.parquet",
    "features": "features.parquet",
    "terrain_sources": "terrain_sources.tif",
    "roughness": "roughness.tif",
    "bridges_tileset": "bridges/tileset.json",
    "water_tileset": "water/tileset.json",
    "ground_points": "ground_points.parquet",
}
#: Rows per Parquet row group of the City's tables: readers that page through a table
#: (OGC API – Features) skip whole groups instead of decoding every row before the page
#: (bench/opendata.py: a page at row 999,000 of 1 M takes 15 ms in groups of 65,536, 0.49 s in one group).
TABLE_ROW_GROUP = 65_536
#: Bands of ``masks.tif``, in order (band 1 first): 1 inside a building footprint, a road surface,
#: a water body or a bridge deck, 0 outside. A file written before a band existed lacks it (all 0).
MASK_BANDS = ("buildings", "roads", "water", "bridges")
#: Codes of ``terrain_sources.tif``: where each cell's height came from, best first. 1–3 are
#: measured; 4 and 5 are estimated (``ESTIMATED_SOURCES``).
TERRAIN_SOURCES = {
    1: "dem",  # the dataset's own udx/dem TIN
    2: "gsi_dem",  # GSI 基盤地図情報 数値標高モデル (JPGIS GML, zips)
    3: "raster_dem",  # a GeoTIFF / ESRI ASCII DEM with a CRS (twin convert --dem)
    4: "estimated",  # interpolated between the ground heights of buildings, roads and water bodies
    5: "extrapolated",  # beyond every source: the nearest estimated or measured height
}
ESTIMATED_SOURCES = frozenset({4, 5})
#: What each part is called in messages to users.
_WHAT = {"terrain": "terrain grid", "masks": "building and road masks", "buildings": "buildings table",
         "hazards": "official hazard areas", "roads": "roads table", "shelters": "shelter list",
         "tileset": "3D Tiles", "terrain_tileset": "terrain tiles", "water": "water bodies table",
         "land_use": "land use table", "bridges": "bridges table", "features": "features table",
         "terrain_sources": "terrain source grid", "roughness": "roughness grid",
         "bridges_tileset": "bridge tiles", "water_tileset": "water tiles", "ground_points": "ground points"}


def files_entry(present: set[str]) -> dict[str, str | None]:
    """The manifest's ``files``: each part's name, None for the parts the City lacks."""
    return {key: name if key in present else None for key, name in FILES.items()}


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    write_json(folder / MANIFEST, manifest)


def is_city(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


@dataclass
class CityFolder:
    """A converted City on disk: its manifest, and each part opened on request."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)

    @classmethod
    def open(cls, path: Path | str) -> CityFolder:
        """The City at ``path``; TwinInputError when it is not one."""
        path = Path(path)
        if not is_city(path):
            raise TwinInputError(f"{path}: not a City folder (no {MANIFEST}; make one with twin convert)")
        try:
            manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TwinInputError(f"{path / MANIFEST}: unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict):
            raise TwinInputError(f"{path / MANIFEST}: the manifest is not a JSON object")
        return cls(path, manifest)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def local_crs(self) -> CRS:
        """The plane-rectangular CRS of the City's grids."""
        local = (self.manifest.get("crs") or {}).get("local")
        if not local:
            raise TwinInputError(f"{self.path / MANIFEST}: no crs.local (convert the City again)")
        return CRS.from_user_input(local)

    def file(self, key: str) -> Path | None:
        """The part's path when the City has it (named in the manifest), else None."""
        if key not in FILES:
            raise KeyError(key)
        name = (self.manifest.get("files") or {}).get(key)
        return self.path / name if name else None

    def has(self, key: str) -> bool:
        path = self.file(key)
        return path is not None and path.is_file()

    def require(self, key: str) -> Path:
        """The part's path; TwinInputError naming the part when the City lacks it."""
        path = self.file(key)
        if path is None or not path.is_file():
            raise TwinInputError(f"{self.path}: the City has no {_WHAT[key]} ({FILES[key]}); "
                                 "convert it again with twin convert")
        return path

    def write_part(self, key: str, write: Callable[[Path], object]) -> Path:
        """Write (or replace) one part with ``write(tmp)``, atomically, and name it in the manifest."""
        path = self.path / FILES[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, write)
        self.manifest = {**self.manifest, "files": {**(self.manifest.get("files") or {}), key: FILES[key]}}
        write_manifest(self.path, self.manifest)
        return path

    def terrain(self) -> Grid:
        return read_grid(self.require("terrain"))

    def masks(self) -> dict[str, np.ndarray]:
        """Each mask band as a boolean array (a band the file lacks is all False)."""
        with rasterio.open(self.require("masks")) as src:
            bands = src.read()
        empty = np.zeros(bands.shape[1:], bool)
        return {name: bands[i] > 0 if i < len(bands) else empty for i, name in enumerate(MASK_BANDS)}

    def mask_grid(self) -> tuple[rasterio.Affine, CRS]:
        """Transform and CRS of the mask (and terrain) grid."""
        with rasterio.open(self.require("masks")) as src:
            return src.transform, CRS.from_user_input(src.crs.to_wkt())

    def buildings(self, crs: CRS | str | None = None) -> gpd.GeoDataFrame:
        """``buildings.parquet`` (lon/lat), or in ``crs``."""
        frame = gpd.read_parquet(self.require("buildings"))
        return frame.to_crs(crs) if crs is not None else frame

    def hazards(self) -> gpd.GeoDataFrame:
        return gpd.read_parquet(self.require("hazards"))

    def roads(self) -> gpd.GeoDataFrame:
        return gpd.read_parquet(self.require("roads"))
