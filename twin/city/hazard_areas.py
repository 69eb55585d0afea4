"""Official inundation areas of a City (``hazards.parquet``) in MLIT depth classes, for the browser.

Each area gets one MLIT class (``area_ranks``): from its official depth, else from the depth
range its rank's own code list states (kept by the conversion), else from its rank label;
areas are simplified for drawing and indexed for point queries on their exact polygons.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, mapping

from twin import depth_classes
from twin.lonlat import LONLAT

LAYERS = ("fld", "tnm", "htd", "ifld", "rfld")
#: Simplification tolerance in degrees (about 1 m): invisible at street zoom, halves the vertices.
SIMPLIFY_DEG = 1e-5


def area_ranks(areas: pd.DataFrame) -> list[int | None]:
    """One MLIT rank per row of ``hazards.parquet`` (None: the area states no depth at all)."""
    def number(row: pd.Series, name: str) -> float | None:
        value = row.get(name)
        return None if value is None or pd.isna(value) else float(value)

    out = []
    for _, row in areas.iterrows():
        low, high = number(row, "depth_low_m"), number(row, "depth_high_m")
        if low is not None and high is not None:
            out.append(depth_classes.official_rank(number(row, "depth_m"), (low, high)))
        else:  # a City converted before the ranges were kept: the label states them
            label = row.get("rank_label")
            depth = number(row, "depth_m")
            out.append(depth_classes.official_rank(depth, None) if depth is not None
                       else depth_classes.rank_of_label(label if isinstance(label, str) else None))
    return out


@dataclass(frozen=True)
class HazardAreas:
    """A city's hazard areas with their classes, simplified lon/lat geometry and a spatial index."""

    frame: gpd.GeoDataFrame  # layer, rank_code, rank_label, depth_class, colour, scale, description, water_level

    @classmethod
    def from_parquet(cls, path) -> HazardAreas:
        raw = gpd.read_parquet(path)
        if raw.crs is not None and raw.crs.to_epsg() not in (6668, 4326, 4612):
            raw = raw.to_crs(LONLAT)
        ranks = [None if r is None or (isinstance(r, float) and np.isnan(r)) else int(r) for r in raw["rank"]]
        labels = [lbl if isinstance(lbl, str) else None for lbl in raw["rank_label"]]
        classes = [depth_classes.api_class(rank) for rank in area_ranks(raw)]
        geometry = shapely.simplify(raw.geometry.to_numpy(), SIMPLIFY_DEG, preserve_topology=True)
        frame = gpd.GeoDataFrame({
            "gml_id": raw["gml_id"].astype(str),
            "layer": raw["layer"].astype(str),
            "rank_code": ranks,
            "rank_label": labels,
            "depth_class": classes,
            "colour": [depth_classes.CLASSES[c].colour if c is not None else None for c in classes],
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
        shown = depth_classes.CLASSES[out["depth_class"]]
        out["class_label_ja"], out["class_label_en"] = shown.label_ja, shown.label_en
    return out


def feature_collection(frame: gpd.GeoDataFrame) -> dict:
    """GeoJSON FeatureCollection (lon/lat, 6 decimals ≈ 0.1 m) of ``frame``'s simplified areas."""
    geometry = shapely.set_precision(frame.geometry.to_numpy(), 1e-6)
    features = [{"type": "Feature", "id": row.gml_id, "geometry": mapping(g) if g is not None and not g.is_empty else None,
                 "properties": area_properties(row._asdict())}
                for row, g in zip(frame.itertuples(index=False), geometry)]
    return {"type": "FeatureCollection", "numberMatched": len(features), "features": features}
