"""Converted cities under the data folder: manifests, and building tables cached per city."""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box, mapping

from twin.city.layout import MANIFEST, CityFolder, is_city
from twin.errors import TwinInputError
from twin.server.problems import Problem

CITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Columns of a building in lists; the detail adds ``lods``, ``flood_risks`` and ``attributes``.
SUMMARY_COLUMNS = ["gml_id", "building_id", "usage_code", "usage_label", "class_code", "class_label",
                   "height", "storeys", "year", "max_flood_depth", "max_flood_rank",
                   "centroid_lon", "centroid_lat", "ground_height"]
_JSON_COLUMNS = ("flood_risks", "attributes")
#: Whole numbers that a table with missing values stores as floats.
_INT_COLUMNS = frozenset({"storeys", "year", "max_flood_rank"})


@dataclass(frozen=True)
class BuildingPage:
    total: int
    rows: gpd.GeoDataFrame


class BuildingTable:
    """One city's ``buildings.parquet``, indexed for bbox and attribute queries."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self._row_of = pd.Index(self.frame["gml_id"])

    def query(self, bbox: tuple[float, float, float, float] | None, usage: list[str] | None,
              min_height: float | None, limit: int, offset: int) -> BuildingPage:
        """Buildings whose footprint meets ``bbox``, of one of ``usage`` (codes or labels), tall enough."""
        frame = self.frame
        keep = np.ones(len(frame), bool)
        if bbox is not None:
            hits = frame.sindex.query(box(*bbox), predicate="intersects")
            keep[:] = False
            keep[hits] = True
        if usage:
            keep &= (frame["usage_code"].astype("string").isin(usage)
                     | frame["usage_label"].astype("string").isin(usage)).fillna(False).to_numpy(bool)
        if min_height is not None:
            keep &= (frame["height"] >= min_height).fillna(False).to_numpy(bool)
        rows = np.flatnonzero(keep)
        return BuildingPage(len(rows), frame.iloc[rows[offset:offset + limit]])

    def get(self, gml_id: str) -> pd.Series | None:
        position = self._row_of.get_indexer([gml_id])[0]
        return None if position < 0 else self.frame.iloc[position]


class City:
    """A converted city of the data folder: its ``CityFolder`` and (loaded on first use) its buildings."""

    def __init__(self, folder: CityFolder) -> None:
        self.folder = folder
        self.id = folder.id
        self.manifest: dict[str, Any] = folder.manifest
        self._buildings: BuildingTable | None = None
        self._lock = threading.Lock()

    def buildings(self) -> BuildingTable:
        with self._lock:
            if self._buildings is None:
                if not self.folder.has("buildings"):
                    raise Problem(404, f"City {self.id!r} has no buildings table.", "no-buildings")
                self._buildings = BuildingTable(self.folder.buildings())
            return self._buildings


class CityRegistry:
    """Every ``DIR/<id>/city.json``; a city is reloaded when its manifest changes."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._cities: dict[str, tuple[int, City]] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        if not self.data_dir.is_dir():
            return []
        return sorted(p.name for p in self.data_dir.iterdir() if CITY_ID.match(p.name) and is_city(p))

    def get(self, city_id: str) -> City:
        """The city, or a 404 Problem (also for ids that could never name a folder)."""
        manifest = self.data_dir / city_id / MANIFEST
        if not CITY_ID.match(city_id) or not is_city(manifest.parent):
            raise Problem(404, f"No city {city_id!r} in this server's data folder.", "unknown-city")
        stamp = manifest.stat().st_mtime_ns
        with self._lock:
            cached = self._cities.get(city_id)
            if cached is None or cached[0] != stamp:
                try:
                    cached = (stamp, City(CityFolder.open(self.data_dir / city_id)))
                except TwinInputError as exc:
                    raise Problem(500, f"City {city_id!r} has an unreadable manifest: {exc}",
                                  "bad-manifest") from exc
                self._cities[city_id] = cached
            return cached[1]


def feature(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    """A GeoJSON Feature of one building row with ``columns`` as properties."""
    return {"type": "Feature", "id": row["gml_id"],
            "geometry": mapping(row["geometry"]) if row["geometry"] is not None else None,
            "properties": {c: _value(c, row[c]) for c in columns if c in row.index}}


def detail_properties(row: pd.Series) -> dict[str, Any]:
    """Every column of a building, JSON columns decoded."""
    properties = {c: _value(c, row[c]) for c in row.index if c != "geometry"}
    for name in _JSON_COLUMNS:
        if isinstance(properties.get(name), str):
            properties[name] = json.loads(properties[name])
    return properties


def _value(column: str, value: Any) -> Any:
    value = plain(value)
    return int(value) if column in _INT_COLUMNS and isinstance(value, float) else value


def plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy scalars and arrays unwrapped, NaN/NA as None."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value
