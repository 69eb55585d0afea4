"""Features other than buildings as table rows: roads, official hazard areas, water bodies, land use,
bridges, and any other type as a generic feature.

Geometry is kept in 2D lon/lat (the union of the lowest LOD's surfaces, else its lines or points);
heights that matter are columns (a water body's surface level, a bridge's lowest and highest point).
"""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import MultiLineString, MultiPoint, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from citygml.model import Code, Feature
from twin.convert.building_rows import json_value, risk_json
from twin.convert.roughness import manning_of_land_use

#: PLATEAU packages of the official inundation layers.
HAZARD_TYPES = frozenset({"fld", "tnm", "htd", "ifld", "rfld"})


def area_geometry(feature: Feature) -> MultiPolygon | Polygon | None:
    """Union of the feature's (and its parts') lowest-LOD surfaces, projected to lon/lat."""
    geometries = [g for member in (feature, *feature.parts) for g in member.geometries]
    for lod in sorted({g.lod for g in geometries}):
        polygons = [
            Polygon(p.exterior[:, [1, 0]], [h[:, [1, 0]] for h in p.interiors])
            for g in geometries if g.lod == lod
            for p in g.polygons()
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


#: A height closer to 0 than this (m) means "drawn in 2D" (PLATEAU's land use, many roads and water
#: bodies, and single 2D pieces among 3D ones), not a point at T.P. 0 m: such heights are not used.
FLAT_2D_TOLERANCE = 1e-3


def road_row(feature: Feature) -> dict[str, object] | None:
    """A road's surface (LOD1, else its LOD2/3 traffic areas) with its class/function labels and LODs."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    return {
        "gml_id": feature.gml_id,
        "element": feature.element,
        "class_label": _label(feature, "class"),
        "function_label": _label(feature, "function"),
        "lods": list(feature.lods),
        "geometry": geometry,
    }


def water_row(feature: Feature) -> dict[str, object] | None:
    """A water body (river, lake, sea) with its class and, when drawn in 3D, its surface level."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    heights = _heights(feature)
    return {
        "gml_id": feature.gml_id,
        "name": str(feature.attributes["name"]) if "name" in feature.attributes else None,
        "class_code": _code(feature, "class"),
        "class_label": _label(feature, "class"),
        "function_label": _label(feature, "function"),
        "water_level": float(np.mean(heights)) if heights is not None else None,
        "geometry": geometry,
    }


def land_use_row(feature: Feature) -> dict[str, object] | None:
    """A land-use area with its use class and the Manning's n that class gives the ground."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    code = _code(feature, "class")
    return {
        "gml_id": feature.gml_id,
        "class_code": code,
        "class_label": _label(feature, "class"),
        "manning_n": manning_of_land_use(code),
        "geometry": geometry,
    }


def bridge_row(feature: Feature) -> dict[str, object] | None:
    """A bridge: its outline seen from above, class, function, year and height range."""
    geometry = area_geometry(feature)
    if geometry is None:
        return None
    heights = _heights(feature)
    year = feature.attributes.get("yearOfConstruction")
    return {
        "gml_id": feature.gml_id,
        "class_code": _code(feature, "class"),
        "class_label": _label(feature, "class"),
        "function_label": _label(feature, "function"),
        "year": int(year) if isinstance(year, (int, float)) else None,
        "lods": list(feature.lods),
        "height_min": float(heights.min()) if heights is not None else None,
        "height_max": float(heights.max()) if heights is not None else None,
        "geometry": geometry,
    }


def generic_row(feature: Feature) -> dict[str, object] | None:
    """Any other feature (furniture, vegetation, urban planning, landslide areas, ...): its type,
    element, LODs, decoded attributes and risks, height range and 2D geometry."""
    geometry = any_geometry(feature)
    if geometry is None:
        return None
    heights = _heights(feature)
    return {
        "gml_id": feature.gml_id,
        "type": feature.type,
        "element": feature.element,
        "class_label": _label(feature, "class"),
        "function_label": _label(feature, "function"),
        "lods": list(feature.lods),
        "attributes": json.dumps(feature.attributes, ensure_ascii=False, default=json_value),
        "risks": json.dumps([risk_json(r) for r in feature.all_risks], ensure_ascii=False),
        "height_min": float(heights.min()) if heights is not None else None,
        "height_max": float(heights.max()) if heights is not None else None,
        "geometry": geometry,
    }


def any_geometry(feature: Feature) -> BaseGeometry | None:
    """The feature's surfaces as ``area_geometry`` gives them, else its lines, else its points (lon/lat)."""
    surface = area_geometry(feature)
    if surface is not None:
        return surface
    members = [feature, *feature.parts]
    curves = [c[:, [1, 0]] for m in members for g in m.geometries for c in g.curves if len(c) >= 2]
    if curves:
        return MultiLineString(curves)
    points = [g.points[:, [1, 0]] for m in members for g in m.geometries if g.points is not None and len(g.points)]
    if points:
        return MultiPoint(np.concatenate(points))
    return None


def ground_points(feature: Feature) -> np.ndarray:
    """(n, 3) rows of lat, lon, h: the vertices of a road's or water body's LOD1+ surfaces that are drawn
    in 3D (none for 2D features). The estimated terrain interpolates between them."""
    rings = [p.exterior for g in feature.geometries if g.lod >= 1 for p in g.polygons()]
    if not rings:
        return np.zeros((0, 3))
    points = np.concatenate(rings)
    return points[np.isfinite(points).all(axis=1) & (np.abs(points[:, 2]) >= FLAT_2D_TOLERANCE)]


def _heights(feature: Feature) -> np.ndarray | None:
    """The heights of the feature's (and its parts') surfaces and lines, 2D ones left out; None without any."""
    members = [feature, *feature.parts]
    found = [p.exterior[:, 2] for m in members for g in m.geometries for p in g.polygons()]
    found += [c[:, 2] for m in members for g in m.geometries for c in g.curves]
    heights = np.concatenate(found) if found else np.zeros(0)
    heights = heights[np.isfinite(heights) & (np.abs(heights) >= FLAT_2D_TOLERANCE)]
    return heights if len(heights) else None


def _code(feature: Feature, name: str) -> str | None:
    value = feature.attributes.get(name)
    return value.code if isinstance(value, Code) else (str(value) if value is not None else None)


def _label(feature: Feature, name: str) -> str | None:
    value = feature.attributes.get(name)
    return str(value) if value is not None else None


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
