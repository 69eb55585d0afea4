"""Evacuation shelters: a City's own list, any GeoJSON of points, or the official CSV layout.

The official lists of designated emergency evacuation sites (指定緊急避難場所, published by
municipalities and the GSI) are CSV files with one row per site: 施設・場所名, 住所, one flag
column per hazard (洪水, 崖崩れ、土石流及び地滑り, 高潮, 地震, 津波, 大規模な火事, 内水氾濫,
火山現象), 緯度, 経度 and sometimes a capacity. They come as UTF-8 (often with a BOM) or
Shift_JIS/cp932. Only sites flagged for floods (洪水) are kept: ``takes_floods`` is the one
rule, used by the evacuation, the console's shelter layer and the public map alike.

Vertical evacuation (垂直避難) into tall, sturdy buildings is optional: buildings of at least
3 storeys that are not wooden (where the structure or the fireproof class is recorded), with
room for 0.5 persons per m² on the floors from the 3rd up (the Cabinet Office's tsunami
evacuation building guideline, 2005, counts 1 person per m² of usable floor; we take half
the floor as usable).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.lonlat import LONLAT

COLUMNS = ("shelter_id", "name", "name_en", "lon", "lat", "capacity", "kind")
NAME_COLUMNS = ("施設・場所名", "施設名", "名称", "施設・場所名称", "name")
ADDRESS_COLUMNS = ("住所", "所在地", "address")
LAT_COLUMNS = ("緯度", "lat", "latitude")
LON_COLUMNS = ("経度", "lon", "longitude")
ID_COLUMNS = ("共通ID", "ID", "id", "NO", "No")
CAPACITY_COLUMNS = ("想定収容人数", "収容人数", "収容可能人数", "capacity")
FLOOD_COLUMN = "洪水"
#: Values of a hazard flag column that mean "designated for this hazard".
TRUE_FLAGS = frozenset({"1", "○", "◯", "〇", "●", "true", "yes", "y", "対象", "可"})
ENCODINGS = ("utf-8-sig", "cp932")
VERTICAL_MIN_STOREYS = 3
VERTICAL_PERSONS_PER_M2 = 0.5


def city_shelters(city: CityFolder) -> pd.DataFrame:
    """The City's own flood shelters (``shelters.geojson``); TwinInputError when it has none."""
    path = city.file("shelters")
    if path is None or not path.is_file():
        raise TwinInputError(f"{city.path}: the City has no shelter list; give one (--shelters FILE)")
    return read_geojson(path)


def read_shelters(path: Path) -> pd.DataFrame:
    """Shelters from a GeoJSON (``.geojson``/``.json``) or an official-layout CSV (``.csv``)."""
    if not path.is_file():
        raise TwinInputError(f"{path}: no such shelter file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return read_geojson(path)
    if suffix == ".csv":
        return read_official_csv(path)
    raise TwinInputError(f"{path}: shelters are a .geojson of points or an official .csv list")


def read_geojson(path: Path) -> pd.DataFrame:
    """Point features with optional ``id``, ``name``, ``capacity`` and ``hazards`` ({"flood": bool})
    or a ``洪水`` flag; features flagged as not for floods are left out."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
        features = doc["features"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise TwinInputError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from None
    rows = []
    for k, feature in enumerate(features):
        geometry = (feature or {}).get("geometry") or {}
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise TwinInputError(f"{path}: feature {k}: shelters must be Point geometries")
        props = feature.get("properties") or {}
        if not takes_floods(props):
            continue
        name_en = props.get("name_en")
        rows.append({"shelter_id": str(props.get("id", feature.get("id", k))),
                     "name": str(props.get("name", props.get("施設・場所名", ""))),
                     "name_en": name_en if isinstance(name_en, str) else None,
                     "lon": _number(coords[0], path, f"feature {k}", "longitude"),
                     "lat": _number(coords[1], path, f"feature {k}", "latitude"),
                     "capacity": _capacity(props.get("capacity", props.get("想定収容人数")), path, f"feature {k}"),
                     "kind": "designated"})
    return _finished(pd.DataFrame(rows, columns=list(COLUMNS)), path)


def takes_floods(props: dict) -> bool:
    """Whether a shelter's properties designate it for floods: ``hazards.flood`` when given, else a
    ``洪水`` flag, else yes (a list without hazard columns is a list of flood shelters)."""
    hazards = props.get("hazards")
    if isinstance(hazards, dict) and "flood" in hazards:
        return bool(hazards["flood"])
    if FLOOD_COLUMN in props:
        return _flag(props[FLOOD_COLUMN])
    return True


def read_official_csv(path: Path) -> pd.DataFrame:
    """The official designated-emergency-evacuation-site layout; only rows flagged 洪水 are kept."""
    raw = path.read_bytes()
    text = None
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise TwinInputError(f"{path}: neither UTF-8 nor Shift_JIS (cp932) text")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TwinInputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    name_col = _column(table, NAME_COLUMNS, path, required=True)
    lat_col = _column(table, LAT_COLUMNS, path, required=True)
    lon_col = _column(table, LON_COLUMNS, path, required=True)
    if FLOOD_COLUMN not in table.columns:
        raise TwinInputError(f"{path}: no {FLOOD_COLUMN} column: cannot tell which sites take floods")
    id_col = _column(table, ID_COLUMNS, path)
    cap_col = _column(table, CAPACITY_COLUMNS, path)
    rows = []
    for k, row in table.iterrows():
        where = f"line {k + 2}"
        if not _flag(row[FLOOD_COLUMN]):
            continue
        name = str(row[name_col]).strip()
        if not name:
            raise TwinInputError(f"{path}: {where}: empty {name_col}")
        rows.append({"shelter_id": str(row[id_col]).strip() if id_col else str(k + 1), "name": name, "name_en": None,
                     "lon": _number(row[lon_col], path, where, str(lon_col)),
                     "lat": _number(row[lat_col], path, where, str(lat_col)),
                     "capacity": _capacity(row[cap_col] if cap_col else None, path, where), "kind": "designated"})
    return _finished(pd.DataFrame(rows, columns=list(COLUMNS)), path)


def _column(table: pd.DataFrame, names: tuple[str, ...], path: Path, required: bool = False) -> str | None:
    for name in names:
        if name in table.columns:
            return name
    if required:
        raise TwinInputError(f"{path}: no column {names[0]} (or {', '.join(names[1:])}); "
                             f"columns are {', '.join(table.columns)}")
    return None


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_FLAGS


def _number(value: object, path: Path, where: str, what: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = float("nan")
    if not np.isfinite(number):
        raise TwinInputError(f"{path}: {where}: {what} {value!r} is not a number")
    return number


def _capacity(value: object, path: Path, where: str) -> float:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() in ("", "-", "－"):
        return float("nan")
    number = _number(str(value).replace(",", ""), path, where, "capacity")
    if number < 0:
        raise TwinInputError(f"{path}: {where}: capacity {value!r} is negative")
    return number


def _finished(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    bad = ~(table["lon"].between(-180, 180) & table["lat"].between(-90, 90))
    if bad.any():
        k = int(np.argmax(bad.to_numpy()))
        raise TwinInputError(f"{path}: shelter {table['shelter_id'].iloc[k]}: ({table['lon'].iloc[k]}, "
                             f"{table['lat'].iloc[k]}) is not a lon/lat position")
    if table["shelter_id"].duplicated().any():
        dup = table["shelter_id"][table["shelter_id"].duplicated()].iloc[0]
        raise TwinInputError(f"{path}: shelter id {dup} appears twice")
    return table.reset_index(drop=True)


def vertical_shelters(buildings: gpd.GeoDataFrame, storeys: np.ndarray, limit: int) -> pd.DataFrame:
    """The ``limit`` roomiest tall, sturdy buildings as shelters (lon/lat of their centroids)."""
    wooden = _wooden(buildings)
    tall = (storeys >= VERTICAL_MIN_STOREYS) & ~wooden
    area = buildings.geometry.area.to_numpy(float)
    capacity = np.floor(area * (storeys - (VERTICAL_MIN_STOREYS - 1)) * VERTICAL_PERSONS_PER_M2)
    chosen = np.flatnonzero(tall & (capacity >= 1))
    chosen = chosen[np.argsort(-capacity[chosen], kind="stable")][:limit]
    centroids = buildings.geometry.iloc[chosen].centroid.to_crs(LONLAT)
    return pd.DataFrame({"shelter_id": [f"bldg:{g}" for g in buildings["gml_id"].iloc[chosen]],
                         "name": [f"垂直避難 {g}" for g in buildings["gml_id"].iloc[chosen]],
                         "name_en": [f"Vertical evacuation {g}" for g in buildings["gml_id"].iloc[chosen]],
                         "lon": centroids.x.to_numpy(), "lat": centroids.y.to_numpy(),
                         "capacity": capacity[chosen], "kind": "vertical", "building": chosen},
                        columns=[*COLUMNS, "building"])


def _wooden(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """True where the structure is wooden, or the fireproof class says 普通建物 (ordinary, not
    fire-resistant) and no structure is recorded; False where unknown."""
    n = len(buildings)
    structure = pd.Series([""] * n, index=buildings.index)
    if "attributes" in buildings:
        structure = buildings["attributes"].map(_structure_label)
    wooden = structure.str.contains("木造").to_numpy(bool).copy()
    known = (structure != "").to_numpy(bool)
    if "class_label" in buildings:
        ordinary = buildings["class_label"].astype("string").fillna("").str.contains("普通").to_numpy(bool)
        wooden |= ~known & ordinary
    return wooden


def _structure_label(attributes: object) -> str:
    try:
        data = json.loads(attributes) if isinstance(attributes, str) else {}
    except json.JSONDecodeError:
        return ""
    for key, value in data.items():
        if "structuretype" in key.lower().replace("_", ""):
            return str(value.get("label", value.get("code", "")) if isinstance(value, dict) else value)
    return ""
