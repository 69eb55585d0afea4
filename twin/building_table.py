"""One table row per building: footprint, key attributes and flood risks (for GeoParquet)."""

from __future__ import annotations

import json
import math

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from citygml.model import Code, Feature, HazardRisk

#: Columns of buildings.parquet besides ``geometry`` (footprint, lon/lat).
COLUMNS = (
    "gml_id", "building_id", "usage_code", "usage_label", "class_code", "class_label",
    "height", "storeys", "year", "lods", "has_flood_risk", "max_flood_depth", "max_flood_rank",
    "flood_risks", "attributes", "textured", "centroid_lon", "centroid_lat", "ground_height",
)
#: A horizontal face varies in height by less than this (metres).
FLAT_TOLERANCE = 0.05


def building_row(feature: Feature) -> dict[str, object]:
    """The buildings.parquet row of one Building (footprint None when it has no geometry)."""
    footprint = footprint_of(feature)
    centroid = footprint.centroid if footprint is not None and not footprint.is_empty else None
    risks = feature.all_risks
    flooding = feature.flood_risks
    depths = [r.depth_m for r in flooding if r.depth_m is not None]
    ranks = [int(r.rank.code) for r in flooding if r.rank is not None and r.rank.code.isdigit()]
    usage, kind = feature.usage, feature.building_class
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
        "attributes": json.dumps(feature.attributes, ensure_ascii=False, default=_json_value),
        "textured": _textured(feature),
        "centroid_lon": centroid.x if centroid is not None else None,
        "centroid_lat": centroid.y if centroid is not None else None,
        "ground_height": ground_height(feature),
        "geometry": footprint,
    }


def risk_json(risk: HazardRisk) -> dict[str, object]:
    """A risk as plain JSON (codes flattened to code + label)."""
    return {
        "kind": risk.kind,
        "source": str(risk.source) if risk.source else None,
        "scale": risk.scale,
        "rank": risk.rank.code if risk.rank else None,
        "rank_label": risk.rank.label if risk.rank else None,
        "depth_m": risk.depth_m,
        "duration_h": risk.duration_h,
    }


def footprint_of(feature: Feature) -> Polygon | MultiPolygon | None:
    """Ground outline in lon/lat: LOD0 footprint/roof edge, else the solid's base, else ground surfaces."""
    rings = _footprint_rings(feature)
    for part in feature.parts:
        rings.extend(_footprint_rings(part))
    rings = [r for r in rings if len(r) >= 3]
    if not rings:
        return None
    indices = np.repeat(np.arange(len(rings)), [len(r) for r in rings])
    shapes = shapely.polygons(shapely.linearrings(np.concatenate(rings)[:, [1, 0]], indices=indices))
    valid = shapely.is_valid(shapes)
    if not valid.all():
        shapes[~valid] = shapely.make_valid(shapes[~valid])
    shapes = shapes[shapely.area(shapes) > 0]
    if not len(shapes):
        return None
    merged = shapes[0] if len(shapes) == 1 else shapely.union_all(shapes)
    if merged.geom_type == "GeometryCollection":
        merged = shapely.union_all([g for g in merged.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
    return merged


def _footprint_rings(feature: Feature) -> list[np.ndarray]:
    for role in ("FootPrint", "RoofEdge"):
        geometry = feature.geometry(0, role)
        if geometry is not None:
            return [p.exterior for p in geometry.polygons()]
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


def _json_value(value: object) -> object:
    if isinstance(value, Code):
        return {"code": value.code, "label": value.label}
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
