"""Evacuation shelters of a City: the official lists read, a list attached to a City, one flood rule.

Layouts read, columns matched by name (variants tolerated), as UTF-8 (with or without a BOM) or
Shift_JIS (cp932):

- GSI 指定緊急避難場所データ (CSV): NO, 共通ID, 施設・場所名, 住所, one flag column per hazard (洪水,
  崖崩れ、土石流及び地滑り, 高潮, 地震, 津波, 大規模な火事, 内水氾濫, 火山現象), 緯度, 経度, 備考;
  flags "1".
- 自治体標準オープンデータセット 指定緊急避難場所一覧 (CSV, Digital Agency): ID or NO, 名称,
  名称_英字, 住所, 緯度, 経度, the same hazards as ``災害種別_洪水`` and its siblings,
  想定収容人数 (or 収容人数); flags "○" or 1.
- GeoJSON points: ``id``, ``name``, ``name_en``, ``capacity`` and ``hazards`` ({"flood": true}) or
  the flag columns above as properties.

A row that cannot be read is an error naming its line; repeated ids, unclear flags and sites far
from the City are reported, not fatal. ``takes_floods`` is the one rule for which sites take flood
evacuees, used by the evacuation, the console's shelter layer and the public map alike.

Vertical evacuation (垂直避難) into tall, sturdy buildings is optional: buildings of at least
3 storeys that are not wooden (where the structure or the fireproof class is recorded), with
room for 0.5 persons per m² on the floors from the 3rd up (the Cabinet Office's tsunami
evacuation building guideline, 2005, counts 1 person per m² of usable floor; we take half
the floor as usable).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from citygml.samplecity.shelters import HAZARD_COLUMNS
from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.lonlat import LONLAT, from_lonlat

COLUMNS = ("shelter_id", "name", "name_en", "lon", "lat", "capacity", "kind")
#: Each hazard flag column of the official layouts (the municipal standard prefixes ``災害種別_``) → its
#: GeoJSON key; the sample city writes its lists with the same table.
HAZARDS = HAZARD_COLUMNS
STANDARD_PREFIX = "災害種別_"
FLOOD_COLUMN = "洪水"
NAME_COLUMNS = ("施設・場所名", "名称", "施設名", "施設・場所名称", "name")
NAME_EN_COLUMNS = ("名称_英字", "name_en")
ADDRESS_COLUMNS = ("住所", "所在地", "address")
LAT_COLUMNS = ("緯度", "lat", "latitude")
LON_COLUMNS = ("経度", "lon", "longitude")
ID_COLUMNS = ("共通ID", "ID", "id", "NO", "No")
CAPACITY_COLUMNS = ("想定収容人数", "収容人数", "収容可能人数", "capacity")
#: Values of a hazard flag column that mean "designated for this hazard", and "not designated".
TRUE_FLAGS = frozenset({"1", "○", "◯", "〇", "●", "true", "yes", "y", "対象", "可"})
FALSE_FLAGS = frozenset({"", "0", "×", "✕", "-", "－", "false", "no", "n", "対象外", "不可"})
ENCODINGS = ("utf-8-sig", "cp932")
#: Sites farther than this (m) from the City's data are reported and left out when a list is attached:
#: an hour's walk at the planning speed of 1 m/s is 3.6 km.
FAR_M = 5_000.0
VERTICAL_MIN_STOREYS = 3
VERTICAL_PERSONS_PER_M2 = 0.5


@dataclass
class ShelterList:
    """Every readable site of a shelter file, its layout, and what was odd about it."""

    path: Path
    layout: str  # "gsi-csv", "municipal-standard-csv" or "geojson"
    sites: pd.DataFrame  # COLUMNS + address, hazards (dict: hazard → designated)
    warnings: list[str] = field(default_factory=list)

    @property
    def flood(self) -> pd.DataFrame:
        """The sites that take flood evacuees (``takes_floods``), as a shelter table (``COLUMNS``)."""
        keep = np.array([takes_floods({"hazards": h}) for h in self.sites["hazards"]], bool)
        return self.sites.loc[keep, list(COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True)
class ShelterReport:
    """What a City kept of a shelter list (``shelters_for_city``), recorded in its manifest as ``shelters``."""

    source: str  # the file's name (never a server path: the report is shown to API users)
    layout: str
    sites: int  # readable sites in the file (a site listed twice at the same place counted once)
    kept: int  # sites written to the City (near enough to it)
    flood_shelters: int  # of those, designated for floods
    left_out_far: list[str]  # sites farther than FAR_M from the City: "id name (d km away)"
    warnings: list[str]  # repeated ids, unclear flags, no flood shelter

    def messages(self) -> list[str]:
        """Every warning and every site left out, one line each, naming the file."""
        far = [f"left out, farther than {FAR_M / 1000:g} km from the City: {site}" for site in self.left_out_far]
        return [f"shelters {self.source}: {line}" for line in (*self.warnings, *far)]

    def as_dict(self) -> dict:
        return asdict(self)


def city_shelters(city: CityFolder) -> pd.DataFrame:
    """The City's own flood shelters (``shelters.geojson``); TwinInputError when it has none."""
    path = city.file("shelters")
    if path is None or not path.is_file():
        raise TwinInputError(f"city {city.id!r} has no shelter list: attach one (the official 指定緊急避難場所 "
                             "CSV or a GeoJSON of points)")
    return read_geojson(path)


def read_shelters(path: Path) -> pd.DataFrame:
    """The flood shelters of a GeoJSON (``.geojson``/``.json``) or an official-layout CSV (``.csv``)."""
    return read_shelter_list(path).flood


def read_shelter_list(path: Path) -> ShelterList:
    """Every site of a shelter file, whichever layout it has."""
    if not path.is_file():
        raise TwinInputError(f"{path}: no such shelter file")
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return _geojson_list(path)
    if suffix == ".csv":
        return read_official_csv(path)
    raise TwinInputError(f"{path}: shelters are a .geojson of points or an official .csv list")


def read_geojson(path: Path) -> pd.DataFrame:
    """The flood shelters of a GeoJSON FeatureCollection of points."""
    return _geojson_list(path).flood


def _geojson_list(path: Path) -> ShelterList:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
        features = doc["features"]
        if not isinstance(features, list):
            raise TypeError("features is not a list")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise TwinInputError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from None
    rows: list[dict[str, Any]] = []
    warnings: list[str] = []
    for k, feature in enumerate(features):
        where = f"feature {k}"
        geometry = (feature or {}).get("geometry") or {}
        coords = geometry.get("coordinates")
        if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            raise TwinInputError(f"{path}: {where}: shelters must be Point geometries")
        props = feature.get("properties") or {}
        name_en = props.get("name_en")
        rows.append({"shelter_id": str(props.get("id", feature.get("id", k))),
                     "name": str(props.get("name", props.get("施設・場所名", props.get("名称", "")))),
                     "name_en": name_en if isinstance(name_en, str) else None,
                     "lon": _number(coords[0], path, where, "longitude"),
                     "lat": _number(coords[1], path, where, "latitude"),
                     "capacity": _capacity(props.get("capacity", props.get("想定収容人数", props.get("収容人数"))),
                                           path, where),
                     "kind": str(props.get("kind") or "designated"),
                     "address": props.get("address") if isinstance(props.get("address"), str) else None,
                     "hazards": _geojson_hazards(props, where, warnings)})
    return ShelterList(path, "geojson", _finished(rows, path, warnings, [f"feature {k}" for k in range(len(rows))]),
                       warnings)


def _geojson_hazards(props: dict, where: str, warnings: list[str]) -> dict[str, bool]:
    hazards = props.get("hazards")
    if isinstance(hazards, dict):
        return {str(k): bool(v) for k, v in hazards.items()}
    found = {}
    for name, key in HAZARDS.items():
        for column in (name, STANDARD_PREFIX + name):
            if column in props:
                found[key] = _flag(props[column], f"{where}: {column}", warnings)
    return found


def takes_floods(props: dict) -> bool:
    """Whether a shelter's properties designate it for floods: ``hazards.flood`` when given, else a
    ``洪水`` (or ``災害種別_洪水``) flag, else yes (a list without hazard columns is a list of flood
    shelters)."""
    hazards = props.get("hazards")
    if isinstance(hazards, dict) and "flood" in hazards:
        return bool(hazards["flood"])
    for column in (FLOOD_COLUMN, STANDARD_PREFIX + FLOOD_COLUMN):
        if column in props:
            return str(props[column]).strip().lower() in TRUE_FLAGS
    return True


def read_official_csv(path: Path) -> ShelterList:
    """A GSI or municipal-standard designated-emergency-evacuation-site list: every readable site."""
    text = _decoded(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip() for c in next(reader)]
    except StopIteration:
        raise TwinInputError(f"{path}: empty file") from None
    except csv.Error as exc:
        raise TwinInputError(f"{path}: line 1: not a readable CSV header ({exc})") from None
    columns = {name: k for k, name in enumerate(header)}
    flags = {key: columns[prefix + name] for name, key in HAZARDS.items() for prefix in (STANDARD_PREFIX, "")
             if prefix + name in columns}
    if "flood" not in flags:
        raise TwinInputError(f"{path}: no {FLOOD_COLUMN} (or {STANDARD_PREFIX}{FLOOD_COLUMN}) column: cannot tell "
                             "which sites take floods")
    layout = "municipal-standard-csv" if STANDARD_PREFIX + FLOOD_COLUMN in columns else "gsi-csv"
    name_col = _column(columns, NAME_COLUMNS, path, required=True)
    lat_col = _column(columns, LAT_COLUMNS, path, required=True)
    lon_col = _column(columns, LON_COLUMNS, path, required=True)
    id_col, en_col, cap_col, address_col = (_column(columns, names, path) for names in (
        ID_COLUMNS, NAME_EN_COLUMNS, CAPACITY_COLUMNS, ADDRESS_COLUMNS))
    rows: list[dict[str, Any]] = []
    places: list[str] = []  # each row's "line n"
    warnings: list[str] = []
    line = 2  # the first line after the header
    try:
        for record in reader:
            where, line = f"line {line}", reader.line_num + 1  # a quoted field may span lines
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise TwinInputError(f"{path}: {where}: {len(record)} fields where the header has {len(header)}")
            cells = [c.strip() for c in record] + [""]  # cells[-1]: the value of a column the file lacks
            name = cells[name_col]
            if not name:
                raise TwinInputError(f"{path}: {where}: empty {header[name_col]}")
            rows.append({"shelter_id": cells[id_col] or str(len(rows) + 1), "name": name,
                         "name_en": cells[en_col] or None,
                         "lon": _number(cells[lon_col], path, where, header[lon_col]),
                         "lat": _number(cells[lat_col], path, where, header[lat_col]),
                         "capacity": _capacity(cells[cap_col], path, where), "kind": "designated",
                         "address": cells[address_col] or None,
                         "hazards": {key: _flag(record[k], f"{where}: {header[k]}", warnings) for key, k in flags.items()}})
            places.append(where)
    except csv.Error as exc:
        raise TwinInputError(f"{path}: line {reader.line_num}: not readable as CSV ({exc})") from None
    return ShelterList(path, layout, _finished(rows, path, warnings, places), warnings)


def _decoded(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TwinInputError(f"{path}: neither UTF-8 nor Shift_JIS (cp932) text")


def _column(columns: dict[str, int], names: tuple[str, ...], path: Path, required: bool = False) -> int:
    """The index of the first of ``names`` in the header; -1 (an empty cell) for an optional column
    the file lacks."""
    for name in names:
        if name in columns:
            return columns[name]
    if required:
        raise TwinInputError(f"{path}: no column {names[0]} (or {', '.join(names[1:])}); "
                             f"columns are {', '.join(columns)}")
    return -1


def _flag(value: object, where: str, warnings: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_FLAGS:
        return True
    if text not in FALSE_FLAGS:
        warnings.append(f"{where}: flag {value!r} not understood; taken as not designated")
    return False


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


def _finished(rows: list[dict[str, Any]], path: Path, warnings: list[str], places: list[str]) -> pd.DataFrame:
    """The sites as a table: positions checked (an error names the row's ``places`` entry and its id), a site
    listed twice kept once, a reused id made unique."""
    table = pd.DataFrame(rows, columns=[*COLUMNS, "address", "hazards"])
    bad = ~(table["lon"].between(-180, 180) & table["lat"].between(-90, 90))
    if bad.any():
        k = int(np.argmax(bad.to_numpy()))
        raise TwinInputError(f"{path}: {places[k]}: shelter {table['shelter_id'].iloc[k]}: ({table['lon'].iloc[k]}, "
                             f"{table['lat'].iloc[k]}) is not a lon/lat position")
    place = table["lon"].round(6).astype(str) + "," + table["lat"].round(6).astype(str)
    repeated = (table["shelter_id"] + "@" + place).duplicated()
    for sid in table["shelter_id"][repeated]:
        warnings.append(f"shelter id {sid} is listed twice at the same place; kept once")
    table = table[~repeated.to_numpy()].reset_index(drop=True)
    seen: dict[str, int] = {}
    ids = []
    for sid in table["shelter_id"]:
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:
            warnings.append(f"shelter id {sid} is used by {seen[sid]} different sites; the later one is {sid}#{seen[sid]}")
            sid = f"{sid}#{seen[sid]}"
        ids.append(sid)
    table["shelter_id"] = ids
    return table


def shelters_for_city(path: Path, bbox: Sequence[float] | None, crs: CRS | str, city: str) -> tuple[bytes, ShelterReport]:
    """A shelter list (any layout above) as the bytes of a City's ``shelters.geojson`` and its report: every
    readable site with its hazard flags, but for the sites farther than ``FAR_M`` from the City's lon/lat
    ``bbox`` (measured in its plane ``crs``; no box: none left out). TwinInputError when the file is unreadable,
    has no site, or none near the City (a list of another place)."""
    path = Path(path)
    shelters = read_shelter_list(path)
    sites = shelters.sites
    if len(sites) == 0:
        raise TwinInputError(f"{path}: no shelter in the file")
    distance = np.zeros(len(sites))
    if bbox is not None:
        distance = _metres_from(bbox, crs, sites["lon"].to_numpy(float), sites["lat"].to_numpy(float))
        if (distance > FAR_M).all():
            raise TwinInputError(f"{path}: none of its {len(sites)} sites lies within {FAR_M / 1000:g} km of {city} "
                                 f"(the nearest is {distance.min() / 1000:.0f} km away): a list of another place?")
    far = distance > FAR_M
    left_out = [f"{sid} {name} ({d / 1000:.1f} km away)" for sid, name, d
                in zip(sites["shelter_id"][far], sites["name"][far], distance[far])]
    kept = sites[~far].reset_index(drop=True)
    flood = int(sum(takes_floods({"hazards": h}) for h in kept["hazards"]))
    warnings = list(shelters.warnings)
    if flood == 0:
        warnings.append("no site is designated for floods (洪水): the evacuation and the public map will find "
                        "no flood shelter")
    report = ShelterReport(source=path.name, layout=shelters.layout, sites=len(sites), kept=len(kept),
                           flood_shelters=flood, left_out_far=left_out, warnings=warnings)
    return json.dumps(_feature_collection(kept, path.name), ensure_ascii=False).encode("utf-8"), report


def _metres_from(bbox: Sequence[float], crs: CRS | str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Distance (m) of each lon/lat from a lon/lat box, in the plane CRS ``crs``."""
    west, south, east, north = bbox[:4]
    to_map = from_lonlat(crs)
    corners = np.column_stack(to_map.transform([west, east, east, west], [south, south, north, north]))
    x, y = to_map.transform(lon, lat)
    return shapely.distance(shapely.Polygon(corners), shapely.points(np.column_stack([x, y])))


def _feature_collection(sites: pd.DataFrame, source: str) -> dict:
    def feature(row) -> dict:
        capacity = None if math.isnan(row.capacity) else int(row.capacity)
        props = {"id": row.shelter_id, "name": row.name, "name_en": row.name_en, "address": row.address,
                 "capacity": capacity, "kind": row.kind, "hazards": row.hazards}
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
                "properties": {k: v for k, v in props.items() if v is not None}}
    return {"type": "FeatureCollection", "source": source,
            "features": [feature(r) for r in sites.itertuples(index=False)]}


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
