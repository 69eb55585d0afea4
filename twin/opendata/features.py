"""Rows of a layer as GeoJSON features (RFC 7946 members, JSON columns decoded, missing values null)."""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from twin.opendata.crs import CRS84, geometries_in
from twin.opendata.layers import Layer


def features(rows: gpd.GeoDataFrame, layer: Layer, crs: str = CRS84, id_column: str | None = None) -> list[dict]:
    """The page's rows as Feature objects: geometry in ``crs``'s axis order, ``id`` from the id column."""
    frame = layer.finish(pd.DataFrame(rows.drop(columns=rows.geometry.name)))
    geometries = geometries_in(rows.geometry.to_numpy(), crs)
    texts = shapely.to_geojson(geometries)
    key = id_column or layer.id_column
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    out = []
    for record, text in zip(records, texts):
        for column in layer.json_columns:
            value = record.get(column)
            if isinstance(value, str):
                record[column] = json.loads(value)
        out.append({"type": "Feature", "id": plain(record.get(key)), "geometry": None if text is None else json.loads(text),
                    "properties": {k: plain(v) for k, v in record.items()}})
    return out


def plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars and arrays unwrapped, NaN as None."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def dumps(body: Any) -> bytes:
    """UTF-8 JSON of an answer (kana and kanji as they are)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=plain).encode("utf-8")
