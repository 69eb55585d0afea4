"""The City's publishable layers: one entry each in ``LAYERS``.

A layer names the City file it comes from (a ``twin.city.layout.FILES`` key), how its features
are identified, which text columns hold JSON, the columns it adds (decoded classes) and, for
official hazard areas and the generic features, the columns that split it into one collection per
value (hazard and scale; PLATEAU package) with the names of those values.
A City that lacks a layer's file simply does not publish it. Adding a layer is one entry here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import shape

from twin import depth_classes
from twin.city.hazard_areas import area_ranks
from twin.city.layout import CityFolder
from twin.city.shelters import takes_floods
from twin.errors import TwinInputError
from twin.lonlat import LONLAT
from twin.opendata.tables import FrameTable, ParquetTable, Table


@dataclass(frozen=True)
class Derived:
    """Columns computed from others, batch by batch: ``outputs`` from ``inputs`` by ``compute``."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.DataFrame]


@dataclass(frozen=True)
class Layer:
    """One publishable layer of a City."""

    key: str  # collection id (or its stem when split), GeoPackage table name
    file: str  # key of twin.city.layout.FILES
    title: str  # Japanese
    title_en: str
    description: str
    id_column: str = "gml_id"
    json_columns: tuple[str, ...] = ()
    derived: Derived | None = None
    split_by: tuple[str, ...] = ()  # one collection per distinct value combination
    split_names: Mapping[str, tuple[str, str]] = field(default_factory=dict, hash=False)  # first split value → (ja, en)
    hidden: tuple[str, ...] = ()  # columns never published (local paths, internal bookkeeping)
    integers: tuple[str, ...] = ()  # whole numbers a table with missing values stores as floats
    #: Geometry type declared to GIS files: "MultiPolygon" (polygons promoted), "Unknown" (mixed), "" (as found).
    geometry: str = ""

    def open(self, city: CityFolder) -> Table | None:
        """The layer's table in ``city``, or None when the City does not have it."""
        if not city.has(self.file):
            return None
        path = city.require(self.file)
        return shelter_table(path) if self.file == "shelters" else ParquetTable(path)

    def columns(self, table: Table) -> list[str]:
        """The published columns (stored and derived), geometry aside."""
        stored = [c for c in table.columns if c not in self.hidden]
        return stored + [c for c in (self.derived.outputs if self.derived else ()) if c not in stored]

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A batch with the derived columns added (from those of their ``inputs`` it has; a City converted
        before a column existed lacks it) and hidden ones dropped."""
        if self.derived is not None and any(c in frame.columns for c in self.derived.inputs):
            added = self.derived.compute(frame)
            frame = frame.assign(**{c: added[c].to_numpy() for c in self.derived.outputs})
        whole = {c: pd.to_numeric(frame[c], errors="coerce").round().astype("Int64")
                 for c in self.integers if c in frame.columns}
        return frame.assign(**whole).drop(columns=[c for c in self.hidden if c in frame.columns])

    def types(self, table: Table) -> dict[str, str]:
        """JSON Schema type of each published scalar column (JSON text columns aside)."""
        found = {c: t for c, t in table.types.items() if c not in self.hidden and c not in self.json_columns}
        found.update({c: "integer" for c in self.integers if c in found})
        if self.derived is not None:
            found.update({c: "integer" if c == "depth_rank" else "string" for c in self.derived.outputs})
        return found

    def stored_columns(self, wanted: list[str]) -> list[str]:
        """The stored columns needed to produce ``wanted`` (derived ones replaced by their inputs)."""
        outputs = set(self.derived.outputs) if self.derived else set()
        needed = [c for c in wanted if c not in outputs]
        if self.derived and outputs & set(wanted):
            needed += list(self.derived.inputs)
        return list(dict.fromkeys(needed))


def _depth_class_columns(ranks: pd.Series) -> pd.DataFrame:
    """MLIT class label (ja, en) and colour of PLATEAU ranks 1–6 (missing elsewhere)."""
    rank = pd.to_numeric(ranks, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    known = (rank >= 1) & (rank <= len(depth_classes.CLASSES))
    index = np.where(known, np.nan_to_num(rank, nan=1.0).astype(int) - 1, 0)
    pick = {name: np.array([getattr(c, name) for c in depth_classes.CLASSES], object)
            for name in ("label_ja", "label_en", "colour")}
    missing = np.full(len(rank), None, object)
    return pd.DataFrame({f"flood_class_{k}": np.where(known, pick[name][index], missing)
                         for k, name in (("ja", "label_ja"), ("en", "label_en"), ("colour", "colour"))})


def _building_classes(frame: pd.DataFrame) -> pd.DataFrame:
    return _depth_class_columns(frame["max_flood_rank"])


def _hazard_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """Each area's MLIT rank as the public map ranks it (``area_ranks``), worked out once per distinct
    depth and label: a layer has a handful of ranks over thousands of areas (``area_ranks`` takes
    about 0.2 ms a row)."""
    columns = [c for c in ("depth_m", "depth_low_m", "depth_high_m", "rank_label") if c in frame.columns]
    codes = frame.groupby(columns, dropna=False, sort=False).ngroup().to_numpy()
    firsts = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
    ranks = list(np.array(area_ranks(frame.iloc[firsts][columns]), dtype=object)[codes])
    out = _depth_class_columns(pd.Series(ranks, dtype="float64"))
    out.insert(0, "depth_rank", pd.array(ranks, dtype="Int64"))
    return out


def _result_classes(frame: pd.DataFrame) -> pd.DataFrame:
    return _depth_class_columns(frame["simulated_rank"].where(frame["simulated_rank"] > 0))


#: Hazard layer codes of PLATEAU (the `layer` column of hazards.parquet) and their names.
HAZARD_NAMES = {"fld": ("洪水浸水想定区域", "River flooding"), "tnm": ("津波浸水想定", "Tsunami"),
                "htd": ("高潮浸水想定区域", "Storm surge"), "ifld": ("内水浸水想定区域", "Inland flooding"),
                "rfld": ("ため池浸水想定区域", "Reservoir flooding")}
#: PLATEAU packages that land in the generic features table (its `type` column) and their names
#: (国土交通省「3D都市モデル標準製品仕様書」第4.x版, 地物型の一覧); other codes are named by themselves.
FEATURE_TYPE_NAMES = {
    "frn": ("都市設備", "City furniture"), "veg": ("植生", "Vegetation"), "tun": ("トンネル", "Tunnels"),
    "cons": ("その他の構造物", "Other constructions"), "urf": ("都市計画決定情報", "Urban planning decisions"),
    "lsld": ("土砂災害警戒区域", "Landslide hazard areas"), "gen": ("汎用都市オブジェクト", "Generic city objects"),
    "ubld": ("地下街", "Underground malls"), "unf": ("地下埋設物", "Underground utilities"),
    "area": ("区域", "Areas"), "grp": ("グループ", "Groups"), "wwy": ("航路", "Waterways"),
    "rwy": ("鉄道", "Railways"), "trk": ("徒歩道", "Tracks"), "squr": ("広場", "Squares"),
}
BUILDINGS = "buildings"
LAYERS: tuple[Layer, ...] = (
    Layer(BUILDINGS, "buildings", "建築物", "Buildings",
          "PLATEAU buildings: footprints, decoded usage, class, measured height, storeys, year of construction, "
          "the official (PLATEAU) maximum flood depth and its MLIT depth class, and every decoded attribute.",
          json_columns=("flood_risks", "attributes"), integers=("storeys", "year", "max_flood_rank"),
          hidden=("ground_from_terrain",),
          derived=Derived(("max_flood_rank",), ("flood_class_ja", "flood_class_en", "flood_class_colour"),
                          _building_classes)),
    Layer("hazards", "hazards", "浸水想定区域", "Official inundation areas",
          "Official inundation areas (PLATEAU fld/tnm/htd/ifld/rfld) with their depth rank and MLIT depth class; "
          "one collection per hazard and scale (L1 planned, L2 maximum assumed).",
          json_columns=("risks",), split_by=("layer", "scale"), split_names=HAZARD_NAMES, hidden=("file",),
          geometry="MultiPolygon",
          derived=Derived(("depth_m", "depth_low_m", "depth_high_m", "rank_label"),
                          ("depth_rank", "flood_class_ja", "flood_class_en", "flood_class_colour"), _hazard_classes)),
    Layer("roads", "roads", "道路", "Roads", "PLATEAU road surfaces (tran) with their class and function.",
          geometry="MultiPolygon"),
    Layer("water", "water", "水部", "Water bodies",
          "PLATEAU water bodies (wtr): rivers, lakes, sea, with their class and, when drawn in 3D, the water level "
          "(m, T.P.).", geometry="MultiPolygon"),
    Layer("land_use", "land_use", "土地利用", "Land use",
          "PLATEAU land use (luse) with its decoded use class and the Manning's roughness n the flood model gives "
          "that class.", geometry="MultiPolygon"),
    Layer("bridges", "bridges", "橋梁", "Bridges",
          "PLATEAU bridges (brid): outline seen from above, class, function, year of construction and the lowest "
          "and highest point (m, T.P.).", integers=("year",), geometry="MultiPolygon"),
    Layer("features", "features", "その他の地物", "Other city objects",
          "Every other PLATEAU feature type (city furniture, vegetation, urban planning, landslide areas, …) with its "
          "decoded attributes and risks; one collection per PLATEAU package.",
          json_columns=("attributes", "risks"), split_by=("type",), split_names=FEATURE_TYPE_NAMES,
          geometry="Unknown"),
    Layer("shelters", "shelters", "指定緊急避難場所", "Designated emergency evacuation sites",
          "The City's designated emergency evacuation sites with their hazard flags; `takes_floods` is the "
          "rule the evacuation and the public map use.", id_column="id"),
)
#: The published results of one scenario, per building, on the City's footprints.
SCENARIO_RESULTS = Layer(
    "scenario", "buildings", "浸水シミュレーション結果（建物別）", "Simulated flood per building",
    "A finished flood scenario (a simulation, not an official map): per building the maximum depth next to it, "
    "when it first got wet, and its simulated and official MLIT ranks.", integers=("official_rank", "simulated_rank"),
    derived=Derived(("simulated_rank",), ("flood_class_ja", "flood_class_en", "flood_class_colour"),
                    _result_classes))
#: Layers built from the database per request (the routes build their tables): the public footfall
#: aggregates (``twin.opendata.footfall_days``) and the sensor stations staff see
#: (``twin.opendata.sensor_stations``). They have no City file.
FOOTFALL = Layer("footfall", "", "人流（エリア別・日別、k-匿名化）", "Footfall per area and day (k-anonymised)",
                 "People counted per named area and local day (JST). Hours counting fewer than k people and areas "
                 "with fewer counters than the minimum are withheld and add to no total; no counter's own series "
                 "is published. `datetime` picks the days.", id_column="id")
SENSORS = Layer("sensors", "", "センサー（職員のみ）", "Sensor stations (staff only)",
                "River gauges, rain gauges and other stations with their datastreams and latest value. People "
                "counters are not listed.", id_column="id")
SHELTER_HAZARDS = ("flood", "landslide", "storm_surge", "earthquake", "tsunami", "large_fire", "inland_flood",
                   "volcano")


def layer(key: str) -> Layer:
    for entry in LAYERS:
        if entry.key == key:
            return entry
    raise KeyError(key)


def shelter_table(path: Path) -> FrameTable:
    """``shelters.geojson`` as a table: id, names, address, capacity, one column per hazard flag, takes_floods."""
    try:
        features = json.loads(path.read_text(encoding="utf-8-sig"))["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TwinInputError(f"{path}: not a GeoJSON FeatureCollection ({exc})") from None
    rows, geometries = [], []
    for k, feature in enumerate(features):
        props = (feature or {}).get("properties") or {}
        hazards = props["hazards"] if isinstance(props.get("hazards"), dict) else {}
        try:
            geometries.append(shape(feature["geometry"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TwinInputError(f"{path}: feature {k}: unreadable geometry ({exc})") from None
        rows.append({"id": str(props.get("id", feature.get("id", k))), "name": props.get("name"),
                     "name_en": props.get("name_en"), "address": props.get("address"),
                     "capacity": props.get("capacity"), "building_id": props.get("building_id"),
                     **{f"hazard_{h}": hazards.get(h) for h in SHELTER_HAZARDS},
                     "takes_floods": takes_floods(props)})
    frame = pd.DataFrame(rows, columns=["id", "name", "name_en", "address", "capacity", "building_id",
                                        *(f"hazard_{h}" for h in SHELTER_HAZARDS), "takes_floods"])
    frame["capacity"] = pd.to_numeric(frame["capacity"], errors="coerce").astype("Int64")
    for h in SHELTER_HAZARDS:
        frame[f"hazard_{h}"] = frame[f"hazard_{h}"].astype("boolean")
    return FrameTable(path, gpd.GeoDataFrame(frame, geometry=geometries, crs=LONLAT))
