"""Official inundation areas of a City (``hazards.parquet``) in MLIT depth classes, for the browser.

Each area's PLATEAU rank becomes an index into the MLIT standard depth classes
(水害ハザードマップ作成の手引き, 2016: < 0.5, 0.5–3, 3–5, 5–10, 10–20, ≥ 20 m). The rank's
decoded codelist label is read first, because generations differ: the i-UR 2.0–3.x codelists
``*RiskAttribute_rank.xml`` number the six standard classes 1–6, while some 2021 datasets
(e.g. Yokosuka's ``WaterBodyRiverFloodingRiskAttribute_rank.xml``) use nine finer classes
(0.01–0.3, 0.3–1, 1–2, 2–3, 3–4, 4–5, 5–10, 10–20, ≥ 20 m). A label's range goes to the
deepest standard class it reaches (0.3–1 m → 0.5–3 m: a hazard map errs on the deep side).
Without a label, codes 1–6 are taken as the standard classes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Point, mapping

#: Upper bounds (m) of the MLIT classes 0–4; class 5 is 20 m and more.
CLASS_BOUNDS = (0.5, 3.0, 5.0, 10.0, 20.0)
#: MLIT standard inundation-depth colours, one per class.
CLASS_COLOURS = ("#F7F5A9", "#FFD8C0", "#FFB7B7", "#FF9191", "#F285C9", "#DC7ADC")
CLASS_LABELS_JA = ("0.5m未満", "0.5m以上3m未満", "3m以上5m未満", "5m以上10m未満", "10m以上20m未満", "20m以上")
CLASS_LABELS_EN = ("< 0.5 m", "0.5–3 m", "3–5 m", "5–10 m", "10–20 m", "≥ 20 m")
LAYERS = ("fld", "tnm", "htd", "ifld", "rfld")
#: Simplification tolerance in degrees (about 1 m): invisible at street zoom, halves the vertices.
SIMPLIFY_DEG = 1e-5
_FROM = re.compile(r"(\d+(?:\.\d+)?)\s*m\s*以上")
_BELOW = re.compile(r"(\d+(?:\.\d+)?)\s*m\s*未満")


def depth_class_of_depth(depth_m: float) -> int:
    """MLIT class index (0–5) of a depth in metres."""
    return int(np.searchsorted(np.asarray(CLASS_BOUNDS), depth_m, side="right"))


def depth_class(rank_code: int | None, rank_label: str | None) -> int | None:
    """MLIT class index of a PLATEAU rank: from its label's depth range, else standard codes 1–6."""
    if rank_label:
        high = _BELOW.search(rank_label)
        if high:  # "0.5m未満", "0.3m以上1.0m未満": the class just below the upper bound
            return depth_class_of_depth(max(float(high.group(1)) - 1e-6, 0.0))
        low = _FROM.search(rank_label)
        if low:  # "20m以上"
            return depth_class_of_depth(float(low.group(1)))
    if rank_code is not None and 1 <= rank_code <= len(CLASS_COLOURS):
        return rank_code - 1
    return None


@dataclass(frozen=True)
class HazardAreas:
    """A city's hazard areas with their classes, simplified lon/lat geometry and a spatial index."""

    frame: gpd.GeoDataFrame  # layer, rank_code, rank_label, depth_class, colour, scale, description, water_level

    @classmethod
    def from_parquet(cls, path) -> HazardAreas:
        raw = gpd.read_parquet(path)
        if raw.crs is not None and raw.crs.to_epsg() not in (6668, 4326, 4612):
            raw = raw.to_crs("EPSG:6668")
        ranks = [None if r is None or (isinstance(r, float) and np.isnan(r)) else int(r) for r in raw["rank"]]
        labels = [lbl if isinstance(lbl, str) else None for lbl in raw["rank_label"]]
        classes = [depth_class(r, lbl) for r, lbl in zip(ranks, labels)]
        geometry = shapely.simplify(raw.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
        frame = gpd.GeoDataFrame({
            "gml_id": raw["gml_id"].astype(str),
            "layer": raw["layer"].astype(str),
            "rank_code": ranks,
            "rank_label": labels,
            "depth_class": classes,
            "colour": [CLASS_COLOURS[c] if c is not None else None for c in classes],
            "scale": [s if isinstance(s, str) else None for s in raw["scale"]],
            "description": [s if isinstance(s, str) else None for s in raw["source"]],
            "kind": [s if isinstance(s, str) else None for s in raw["kind"]],
            "water_level": [None if v is None or not np.isfinite(v) else round(float(v), 2) for v in raw["water_level"]],
        }, geometry=geometry, crs=raw.crs)
        frame["original"] = raw.geometry.to_numpy()  # exact geometry for point queries
        return cls(frame)

    def select(self, layer: str | None, bbox: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
        """Areas of ``layer`` (all layers if None) that meet ``bbox`` (lon/lat)."""
        frame = self.frame
        if bbox is not None:
            frame = frame.iloc[np.sort(frame.sindex.query(shapely.box(*bbox), predicate="intersects"))]
        if layer is not None:
            frame = frame[frame["layer"] == layer]
        return frame

    def at(self, lon: float, lat: float) -> gpd.GeoDataFrame:
        """Areas whose exact (unsimplified) polygon holds the point, deepest class first."""
        point = Point(lon, lat)
        rows = self.frame.iloc[self.frame.sindex.query(point, predicate="intersects")]
        rows = rows[shapely.intersects(rows["original"].to_numpy(), point)]
        return rows.sort_values("depth_class", ascending=False, na_position="last")


PROPERTIES = ("gml_id", "layer", "rank_code", "rank_label", "depth_class", "colour", "scale", "description", "kind",
              "water_level")


def area_properties(row) -> dict:
    """The public properties of one area row (plain Python values)."""
    out = {}
    for name in PROPERTIES:
        value = row[name]
        if isinstance(value, float) and np.isnan(value):
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        out[name] = value
    if out["depth_class"] is not None:
        out["depth_class"] = int(out["depth_class"])
        out["class_label_ja"] = CLASS_LABELS_JA[out["depth_class"]]
        out["class_label_en"] = CLASS_LABELS_EN[out["depth_class"]]
    return out


def feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """GeoJSON FeatureCollection (lon/lat, 6 decimals ≈ 0.1 m) of ``frame``'s simplified areas."""
    geometry = shapely.set_precision(frame.geometry.to_numpy(), 1e-6)
    features = [{"type": "Feature", "id": row.gml_id, "geometry": mapping(g) if g is not None and not g.is_empty else None,
                 "properties": area_properties(row._asdict())}
                for row, g in zip(frame.itertuples(index=False), geometry)]
    return {"type": "FeatureCollection", "numberMatched": len(features), "features": features}
