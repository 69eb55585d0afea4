"""GML geometry → numpy rings: posList parsing, polygons, surfaces, TIN triangles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from lxml import etree

from citygml.model import Polygon, Surface, Texture
from citygml.xmlparse import local_name

GML_ID = "{http://www.opengis.net/gml}id"
GML32_ID = "{http://www.opengis.net/gml/3.2}id"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"

#: Turns a flat coordinate array into (n, 3) lat/lon/h rows (reprojecting, padding 2D).
CoordinateFix = Callable[[np.ndarray], np.ndarray]


class GeometryError(ValueError):
    """A ring or polygon that cannot be used (too few points, odd coordinate count)."""


def gml_id(element: etree._Element) -> str | None:
    return element.get(GML_ID) or element.get(GML32_ID)


def ring_coordinates(ring: etree._Element, dimension: int, fix: CoordinateFix | None) -> np.ndarray:
    """(n, 3) coordinates of a LinearRing (posList or pos list), closing point dropped."""
    first = ring[0] if len(ring) else None
    if first is not None and local_name(first.tag) == "posList":
        text = first.text or ""
        dim = int(first.get("srsDimension") or dimension)
    else:
        text = " ".join(p.text or "" for p in ring.iterfind("{*}pos"))
        dim = dimension
    values = parse_numbers(text)
    if values.size % dim:
        raise GeometryError(f"{values.size} coordinates do not make {dim}D points")
    if values.size > dim and values[:dim].tolist() == values[-dim:].tolist():
        values = values[:-dim]
    if values.size < 3 * dim:
        raise GeometryError(f"ring with {values.size // dim} distinct points (a ring needs 3)")
    points = values.reshape(-1, dim)
    if fix is not None:
        return fix(points)
    return points if dim == 3 else _pad(points)


def parse_numbers(text: str) -> np.ndarray:
    """Whitespace-separated numbers as float64; GeometryError if any is not a number."""
    try:
        return np.fromstring(text, sep=" ") if text.strip() else np.empty(0)
    except ValueError:
        raise GeometryError("coordinates that are not numbers") from None


def _pad(points: np.ndarray) -> np.ndarray:
    out = np.full((len(points), 3), np.nan)
    out[:, : points.shape[1]] = points[:, :3]
    return out


def parse_polygon(
    polygon: etree._Element,
    dimension: int,
    fix: CoordinateFix | None,
    textures: dict[str, Texture] | None,
) -> Polygon:
    """A gml:Polygon (or Triangle) with its holes and, when the ring is textured, its UVs."""
    exterior = None
    interiors = []
    for boundary in polygon:
        name = local_name(boundary.tag)
        if name in ("exterior", "interior") and len(boundary):
            if name == "exterior":
                exterior = boundary[0]
            else:
                interiors.append(ring_coordinates(boundary[0], dimension, fix))
    if exterior is None:
        raise GeometryError("polygon without an exterior LinearRing")
    attrib = exterior.attrib
    ring_id = attrib.get(GML_ID) or attrib.get(GML32_ID)
    result = Polygon(ring_coordinates(exterior, dimension, fix), interiors, gml_id(polygon), ring_id)
    if textures and ring_id in textures:
        texture = textures[ring_id]
        if len(texture.uv) == len(result.exterior):
            result.texture = texture
    return result


def parse_tin(relief: etree._Element, dimension: int, fix: CoordinateFix | None) -> np.ndarray:
    """All gml:Triangle patches under a TIN relief as one (m, 3, 3) array."""
    texts = [p.text or "" for p in relief.iter("{*}posList")]
    if not texts:
        texts = [" ".join(p.text or "" for p in t.iter("{*}pos")) for t in relief.iter("{*}Triangle")]
    values = parse_numbers(" ".join(texts))
    per_triangle = 4 * dimension  # closed rings of four points
    if values.size % per_triangle or len(texts) * per_triangle != values.size:
        raise GeometryError("TIN triangles must be closed rings of four points")
    points = values.reshape(-1, dimension)
    if fix is not None or dimension != 3:
        points = fix(points) if fix is not None else _pad(points)
    return points.reshape(-1, 4, 3)[:, :3, :].copy()


def collect_polygons(
    container: etree._Element,
    dimension: int,
    fix: CoordinateFix | None,
    textures: dict[str, Texture] | None,
    problems: list[str],
) -> tuple[list[Polygon], list[str]]:
    """Polygons under a geometry property, and the xlink:href targets it points at instead."""
    polygons: list[Polygon] = []
    links: list[str] = []
    for element in container.iter("{*}Polygon", "{*}Triangle", "{*}surfaceMember"):
        if local_name(element.tag) == "surfaceMember":
            href = element.get(XLINK_HREF)
            if href:
                links.append(href.lstrip("#"))
            continue
        try:
            polygons.append(parse_polygon(element, dimension, fix, textures))
        except GeometryError as exc:
            problems.append(f"polygon {gml_id(element) or '(no id)'} skipped: {exc}")
    return polygons, links


def semantic_surfaces(
    bounded_by: etree._Element,
    dimension: int,
    fix: CoordinateFix | None,
    textures: dict[str, Texture] | None,
    problems: list[str],
) -> list[tuple[int, Surface]]:
    """(LOD, Surface) for each semantic surface (RoofSurface, TrafficArea, ...) in a property."""
    found: list[tuple[int, Surface]] = []
    for surface in bounded_by:
        semantic = local_name(surface.tag)
        if not semantic:
            continue
        for prop in surface:
            name = local_name(prop.tag)
            if not (name.startswith("lod") and name[3:4].isdigit()):
                continue
            polygons, _ = collect_polygons(prop, dimension, fix, textures, problems)
            found.append((int(name[3]), Surface(semantic, polygons, gml_id(surface))))
    return found
