"""Files every GIS tool reads: GeoPackage, GeoJSON and CSV of a City's collections, written batch by batch.

- GeoPackage (OGC 12-128r18): one table per collection, with the attribution and licence in
  each table's description (``gpkg_contents``) and in the file's metadata (``gpkg_metadata``).
- GeoJSON (RFC 7946, CRS84): a FeatureCollection with ``attribution`` and ``license`` members.
- CSV with the geometry as WKT, and beside it the W3C CSV on the Web metadata file
  (``FILE.csv-metadata.json``, the name CSVW looks for) carrying the source and the licence.

Nothing holds a whole table: each collection is streamed through ``tables.Table.batches``.
Every file is written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from twin.errors import TwinInputError
from twin.files.atomic import replacing
from twin.opendata import licence
from twin.opendata.collections import Collection
from twin.opendata.features import dumps, features, plain
from twin.opendata.tables import as_frame

#: Rows written at once: fewer, larger appends to a GeoPackage (each append is a transaction).
EXPORT_ROWS = 65_536
#: The suffix CSVW processors look for beside a CSV file (W3C Model for Tabular Data, §5.2).
CSVW_SUFFIX = "-metadata.json"


def collection_frames(collection: Collection, finish: bool = True) -> Iterator[gpd.GeoDataFrame]:
    """The collection's rows, batch by batch; ``finish``: with derived columns added and hidden ones dropped."""
    if collection.table is None:
        raise TwinInputError(f"layer {collection.id} is built from the database; it is not exported")
    layer, table = collection.layer, collection.table
    for batch in table.batches(layer.stored_columns(layer.columns(table)), size=EXPORT_ROWS):
        frame = as_frame(batch)
        for column, value in collection.equals:
            frame = frame[(frame[column].astype("string") == value).fillna(False).to_numpy(bool)]
        if len(frame) and not finish:
            yield frame
        elif len(frame):
            finished = layer.finish(pd.DataFrame(frame.drop(columns=frame.geometry.name)))
            yield gpd.GeoDataFrame(finished, geometry=frame.geometry.to_numpy(), crs=frame.crs)


def choose(collections: list[Collection], names: list[str] | None) -> list[Collection]:
    """The collections named (by id, or by layer key for all of a split layer); all when ``names`` is empty."""
    if not names:
        return collections
    chosen = []
    for name in names:
        found = [c for c in collections if c.id == name or c.layer.key == name]
        if not found:
            known = ", ".join(c.id for c in collections)
            raise TwinInputError(f"layer {name!r}: the City has {known}")
        chosen += [c for c in found if c not in chosen]
    return chosen


def table_name(collection: Collection) -> str:
    """The collection's table name in a GeoPackage (SQL identifiers without quoting)."""
    return collection.id.replace("-", "_")


def _flat(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lists and objects as JSON text; GeoPackage and CSV columns hold scalars."""
    out = frame.copy()
    for column in out.columns:
        if column == out.geometry.name or out[column].dtype != object:
            continue
        values = out[column]
        nested = values.map(lambda v: isinstance(v, list | dict | tuple | np.ndarray))
        if nested.any():
            out[column] = values.map(lambda v: json.dumps(plain(v), ensure_ascii=False)
                                     if isinstance(v, list | dict | tuple | np.ndarray) else v)
    return out


def write_gpkg(collections: list[Collection], out: Path) -> Path:
    """One GeoPackage with a table per collection (empty ones are left out)."""
    credit = functools.reduce(operator.or_, (c.credit for c in collections), licence.PLATEAU)
    with replacing(out) as tmp:
        written = 0
        for collection in collections:
            description = (f"{collection.title} / {collection.title_en}. {collection.description} "
                           f"{collection.credit.one_line()}")
            first = True
            for frame in collection_frames(collection):
                pyogrio.write_dataframe(
                    _flat(frame), tmp, layer=table_name(collection), driver="GPKG", append=not first,
                    # GeoPackage 1.3: what GDAL before 3.7 (Debian 12, older QGIS) reads without a warning
                    dataset_options={"VERSION": "1.3"} if written == 0 and first else None,
                    promote_to_multi=collection.layer.geometry.startswith("Multi"),
                    geometry_type=collection.layer.geometry or None,
                    layer_options={"DESCRIPTION": description, "IDENTIFIER": collection.title_en} if first else None,
                    dataset_metadata=credit.tags() if written == 0 and first else None,
                    layer_metadata={"ATTRIBUTION": collection.credit.text, "LICENSE": licence.LICENCE_URL}
                    if first else None)
                first = False
            written += 0 if first else 1
        if written == 0:
            raise TwinInputError("nothing to export: every chosen layer is empty")
    return out


def write_geojson(collection: Collection, out: Path) -> Path:
    """The collection as an RFC 7946 FeatureCollection (CRS84), written feature by feature."""
    head = {"type": "FeatureCollection", "name": collection.id, "title": f"{collection.title} / {collection.title_en}",
            **collection.credit.notice()}
    with replacing(out) as tmp, tmp.open("wb") as file:
        file.write(dumps(head)[:-1] + b',"features":[')
        first = True
        for frame in collection_frames(collection, finish=False):
            for feature in features(frame, collection.layer):
                file.write((b"" if first else b",\n") + dumps(feature))
                first = False
        file.write(b"]}\n")
    return out


def write_csv(collection: Collection, out: Path) -> Path:
    """Attributes and the geometry as WKT (``geometry_wkt``, CRS84), UTF-8; and its CSVW metadata file."""
    columns: list[str] | None = None
    with replacing(out) as tmp:
        with tmp.open("w", encoding="utf-8", newline="") as file:
            for frame in collection_frames(collection):
                flat = _flat(frame)
                table = pd.DataFrame(flat.drop(columns=flat.geometry.name))
                table["geometry_wkt"] = shapely.to_wkt(flat.geometry.to_numpy(), rounding_precision=-1)
                table.to_csv(file, index=False, header=columns is None)
                columns = list(table.columns)
        if columns is None:
            raise TwinInputError(f"nothing to export: layer {collection.id} is empty")
    metadata = out.with_name(out.name + CSVW_SUFFIX)
    with replacing(metadata) as tmp:
        tmp.write_text(json.dumps(csvw_metadata(collection, out.name, columns), ensure_ascii=False, indent=1),
                       encoding="utf-8")
    return out


def csvw_metadata(collection: Collection, csv_name: str, columns: list[str]) -> dict:
    """W3C CSVW metadata: which file, its columns, where it comes from and under which licence."""
    return {"@context": ["http://www.w3.org/ns/csvw", {"@language": "ja"}], "url": csv_name,
            "dc:title": f"{collection.title} / {collection.title_en}", "dc:description": collection.description,
            "dc:source": collection.credit.text, "dc:rights": collection.credit.processing,
            "dc:license": licence.LICENCE_URL,
            "tableSchema": {"columns": [{"name": c, "titles": c} for c in columns]}}
