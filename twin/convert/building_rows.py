"""One table row per building: footprint, key attributes and flood risks (for GeoParquet)."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from citygml.model import Code, Feature, HazardRisk
from twin.depth_classes import official_rank

#: Columns of buildings.parquet besides ``geometry`` (footprint, lon/lat).
COLUMNS = (
    "gml_id", "building_id", "usage_code", "usage_label", "class_code", "class_label",
    "height", "storeys", "year", "lods", "has_flood_risk", "max_flood_depth", "max_flood_rank",
    "flood_risks", "attributes", "textured", "centroid_lon", "centroid_lat", "ground_height",
)
#: A horizontal face varies in height by less than this (metres).
FLAT_TOLERANCE = 0.05


def building_row(feature: Feature) -> dict[str, object]:
    """The buildings.parquet row of one Building, its footprint still as rings.

    ``footprint_rings`` holds (lat, lon, h) rings; ``building_table`` turns the rows of
    many buildings into polygons and centroids in a few bulk shapely calls.
    """
    risks = feature.all_risks
    flooding = feature.flood_risks
    depths = [r.depth_m for r in flooding if r.depth_m is not None]
    # One MLIT rank from each risk's depth, else from the range its own rank list states: rank
    # codes of different lists (river, tsunami, a city's own classes) are never compared as codes.
    ranks = [rank for r in flooding if (rank := official_rank(r.depth_m, r.rank_depth_range)) is not None]
    usage, kind = feature.usage, feature.building_class
    rings = _footprint_rings(feature)
    for part in feature.parts:
        rings.extend(_footprint_rings(part))
    return {
        "gml_id": feature.gml_id,
        "building_id": feature.building_id,
        "usage_code": usage.code if usage else None,
        "usage_label": usage.label if usage else None,
        "class_code": kind.code if kind else None,
        "class_label": kind.label if kind else None,
        "height": _finite(feature.measured_height),
        "storeys": feature.storeys,
        "year": feature.year,
        "lods": list(feature.lods),
        "has_flood_risk": bool(flooding),
        "max_flood_depth": max(depths, default=None),
        "max_flood_rank": max(ranks, default=None),
        "flood_risks": json.dumps([risk_json(r) for r in risks], ensure_ascii=False),
        "attributes": json.dumps(feature.attributes, ensure_ascii=False, default=json_value),
        "textured": _textured(feature),
        "ground_height": ground_height(feature),
        "footprint_rings": [r for r in rings if len(r) >= 3],
    }


def building_table(rows: list[dict[str, object]], crs: str) -> gpd.GeoDataFrame:
    """Rows of ``building_row`` as a GeoDataFrame: footprint polygons (lon/lat) and centroids."""
    rings = [row.pop("footprint_rings") for row in rows]
    footprints = footprints_of(rings)
    centroids = shapely.centroid(footprints)
    frame = gpd.GeoDataFrame(rows, geometry=footprints, crs=crs)
    frame["centroid_lon"] = shapely.get_x(centroids)
    frame["centroid_lat"] = shapely.get_y(centroids)
    return frame[[*COLUMNS, "geometry"]]


def risk_json(risk: HazardRisk) -> dict[str, object]:
    """A risk as plain JSON (codes flattened to code + label)."""
    return {
        "kind": risk.kind,
        "source": str(risk.source) if risk.source else None,
        "scale": risk.scale,
        "rank": risk.rank.code if risk.rank else None,
        "rank_label": risk.rank.label if risk.rank else None,
        "rank_scheme": risk.rank_scheme.name if risk.rank_scheme else None,
        "rank_depth_m": list(stated) if (stated := risk.rank_depth_range) else None,
        "depth_m": risk.depth_m,
        "duration_h": risk.duration_h,
    }


def footprints_of(rings_per_building: list[list[np.ndarray]]) -> np.ndarray:
    """One ground outline (lon/lat) per building from its (lat, lon, h) rings, None without any.

    All rings become polygons in one call; only buildings with several pieces (parts,
    LOD0 footprints in pieces) or invalid rings take a per-building union or repair.
    """
    out = np.full(len(rings_per_building), None, dtype=object)
    counts = np.array([len(rings) for rings in rings_per_building], np.int64)
    flat = [ring for rings in rings_per_building for ring in rings]
    if not flat:
        return out
    owner = np.repeat(np.arange(len(rings_per_building)), counts)
    ring_index = np.repeat(np.arange(len(flat)), [len(r) for r in flat])
    shapes = shapely.polygons(shapely.linearrings(np.concatenate(flat)[:, [1, 0]], indices=ring_index))
    invalid = ~shapely.is_valid(shapes)
    if invalid.any():
        shapes[invalid] = shapely.make_valid(shapes[invalid])
    keep = shapely.area(shapes) > 0
    shapes, owner = shapes[keep], owner[keep]
    pieces = np.bincount(owner, minlength=len(out))
    single = pieces[owner] == 1
    out[owner[single]] = shapes[single]
    for building in np.flatnonzero(pieces > 1):
        out[building] = _union(shapes[owner == building])
    collections = np.flatnonzero(shapely.get_type_id(out) == 7)  # GeometryCollection
    for building in collections:
        out[building] = _union(shapes[owner == building])
    return out


def _union(shapes: np.ndarray) -> Polygon | MultiPolygon:
    merged = shapely.union_all(shapes)
    if merged.geom_type == "GeometryCollection":
        merged = shapely.union_all([g for g in merged.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
    return merged


def _footprint_rings(feature: Feature) -> list[np.ndarray]:
    outline = feature.lod0_outline()
    if outline is not None:
        return [p.exterior for p in outline.polygons()]
    for lod in (1, 2):
        solid = feature.geometry(lod, "Solid")
        if solid is not None:
            base = _lowest_flat_faces(solid.polygons())
            if base:
                return base
    for geometry in feature.geometries:
        if geometry.role == "boundedBy":
            grounds = [p.exterior for s in geometry.surfaces if s.semantic == "GroundSurface" for p in s.polygons]
            if grounds:
                return grounds
    return []


def _lowest_flat_faces(polygons) -> list[np.ndarray]:
    flat = [p.exterior for p in polygons if np.ptp(p.exterior[:, 2]) < FLAT_TOLERANCE]
    if not flat:
        return []
    lowest = min(float(r[:, 2].mean()) for r in flat)
    return [r for r in flat if abs(float(r[:, 2].mean()) - lowest) < FLAT_TOLERANCE]


def ground_height(feature: Feature) -> float | None:
    """Lowest height of the building's LOD1/LOD2 geometry (LOD0 roof edges sit at the roof)."""
    heights = [p.exterior[:, 2] for g in feature.geometries if g.lod >= 1 for p in g.polygons()]
    lows = [float(np.fmin.reduce(np.concatenate(heights)))] if heights else []
    lows += [h for part in feature.parts if (h := ground_height(part)) is not None]
    lows = [h for h in lows if math.isfinite(h)]
    return min(lows) if lows else None


def _textured(feature: Feature) -> bool:
    polygons = (p for g in feature.geometries for p in g.polygons())
    return any(p.texture is not None for p in polygons) or any(_textured(p) for p in feature.parts)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def json_value(value: object) -> object:
    """``json.dumps`` default for decoded attributes: a code becomes {code, label}."""
    if isinstance(value, Code):
        return {"code": value.code, "label": value.label}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
