"""Area features as table rows: road surfaces and official hazard-layer water bodies."""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from citygml.model import Feature
from twin.convert.building_rows import risk_json

#: PLATEAU packages of the official inundation layers.
HAZARD_TYPES = frozenset({"fld", "tnm", "htd", "ifld", "rfld"})


def area_geometry(feature: Feature) -> MultiPolygon | Polygon | None:
    """Union of the feature's lowest-LOD surfaces, projected to lon/lat."""
    for geometry in sorted(feature.geometries, key=lambda g: g.lod):
        polygons = [
            Polygon(p.exterior[:, [1, 0]], [h[:, [1, 0]] for h in p.interiors])
            for p in geometry.polygons()
            if len(p.exterior) >= 3
        ]
        polygons = [p if p.is_valid else shapely.make_valid(p) for p in polygons]
        polygons = [p for p in polygons if p.area > 0]
        if polygons:
            merged = shapely.union_all(polygons)
            if merged.geom_type == "GeometryCollection":
                merged = shapely.union_all([g for g in merged.geoms if g.area > 0])
            return merged
    return None


def road_row(feature: Feature) -> dict[str, object] | None:
    """A tran feature's surface with its class/function labels."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    attributes = feature.attributes
    return {
        "gml_id": feature.gml_id,
        "element": feature.element,
        "class_label": str(attributes["class"]) if "class" in attributes else None,
        "function_label": str(attributes["function"]) if "function" in attributes else None,
        "geometry": geometry,
    }


def hazard_row(feature: Feature, file_name: str) -> dict[str, object] | None:
    """One official inundation area: kind, scale, depth rank and water surface height."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    risk = feature.risks[0] if feature.risks else None
    stated = risk.rank_depth_range if risk else None
    heights = [p.exterior[:, 2] for g in feature.geometries for p in g.polygons()]
    level = float(np.nanmean(np.concatenate(heights))) if heights else None
    return {
        "gml_id": feature.gml_id,
        "layer": feature.type,
        "file": file_name,
        "kind": risk.kind if risk else None,
        "scale": risk.scale if risk else _scale_from_name(file_name),
        "rank": int(risk.rank.code) if risk and risk.rank and risk.rank.code.isdigit() else None,
        "rank_label": risk.rank.label if risk and risk.rank else None,
        "rank_scheme": risk.rank_scheme.name if risk and risk.rank_scheme else None,
        "depth_low_m": stated[0] if stated else None,  # the depth range the rank's own code list states
        "depth_high_m": stated[1] if stated else None,  # inf for "and deeper"
        "source": str(risk.source) if risk and risk.source else None,
        "depth_m": risk.depth_m if risk else None,
        "water_level": level,
        "risks": json.dumps([risk_json(r) for r in feature.risks], ensure_ascii=False),
        "geometry": geometry,
    }


def _scale_from_name(file_name: str) -> str | None:
    """``_l1`` / ``_l2`` in fld file names say planned or maximum assumed scale."""
    for scale in ("l1", "l2"):
        if f"_{scale}_" in file_name or file_name.endswith(f"_{scale}.gml"):
            return scale.upper()
    return None
