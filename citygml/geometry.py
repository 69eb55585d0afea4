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


_WALK = ("{*}Polygon", "{*}Triangle", "{*}LinearRing", "{*}posList", "{*}pos", "{*}surfaceMember",
         "{*}LineString", "{*}LineStringSegment", "{*}Point")

#: A polygon as collected: its id and its rings as (ring id, coordinate text).
_Collected = tuple[str | None, list[tuple[str | None, str]]]


#: What one geometry property holds: polygons, xlink targets instead of polygons, lines ((n, 3)
#: arrays) and points (one (m, 3) array or None). A plain tuple: one is made per property.
GeometryParts = tuple[list[Polygon], list[str], list[np.ndarray], np.ndarray | None]


class GeometryReader:
    """Turns one file's geometry properties into polygons (lat/lon/h rings)."""

    def __init__(self, dimension: int, fix: CoordinateFix | None, textures: dict[str, Texture] | None) -> None:
        self.dimension = dimension
        self.fix = fix
        self.textures = textures

    def polygons(self, container: etree._Element, problems: list[str]) -> tuple[list[Polygon], list[str]]:
        """Polygons under a geometry property, and the xlink:href targets it points at instead."""
        polygons, links, _, _ = self.read(container, problems)
        return polygons, links

    def read(self, container: etree._Element, problems: list[str]) -> GeometryParts:
        """Everything under a geometry property: polygons, xlink targets, lines and points."""
        collected, links, curve_texts, point_texts = _walk(container)
        curves = []
        for text in curve_texts:
            line = self._line(text, problems)
            if line is not None:
                curves.append(line)
        points = None
        if point_texts:
            try:
                points = self._points(parse_numbers(" ".join(point_texts)))
            except GeometryError as exc:
                problems.append(f"points skipped: {exc}")
        return self._build(collected, problems), links, curves, points

    def _line(self, text: str, problems: list[str]) -> np.ndarray | None:
        try:
            points = self._points(parse_numbers(text))
        except GeometryError as exc:
            problems.append(f"line skipped: {exc}")
            return None
        if len(points) < 2:
            problems.append("line with fewer than two points skipped")
            return None
        return points

    def _build(self, collected: list[_Collected], problems: list[str]) -> list[Polygon]:
        if not collected:
            return []
        texts = [text.strip() for _, rings in collected for _, text in rings]
        counts = [text.count(" ") + 1 if text else 0 for text in texts]
        try:
            values = parse_numbers(" ".join(texts))
        except GeometryError:
            values = np.empty(0)
        dimension = self.dimension
        if values.size != sum(counts) or values.size % dimension:
            return self._one_by_one(collected, problems)
        if self.fix is not None or dimension != 3:
            points = values.reshape(-1, dimension)
            values = (self.fix(points) if self.fix is not None else _pad(points)).ravel()
            counts = [c // dimension * 3 for c in counts]
        polygons = []
        end = 0
        ring_index = 0
        for polygon_id, rings in collected:
            arrays = []
            problem = None if rings else "polygon without an exterior LinearRing"
            for _ in rings:
                start, end = end, end + counts[ring_index]
                ring_index += 1
                try:
                    arrays.append(_ring(values[start:end]))
                except GeometryError as exc:
                    problem = str(exc)
            if problem:
                problems.append(f"polygon {polygon_id or '(no id)'} skipped: {problem}")
                continue
            polygons.append(self._polygon(polygon_id, rings[0][0], arrays))
        return polygons

    def _one_by_one(self, collected: list[_Collected], problems: list[str]) -> list[Polygon]:
        """The slow path, for irregular whitespace or a bad ring: each ring on its own."""
        polygons = []
        for polygon_id, rings in collected:
            try:
                if not rings:
                    raise GeometryError("polygon without an exterior LinearRing")
                arrays = [_ring(self._points(parse_numbers(text)).ravel()) for _, text in rings]
            except GeometryError as exc:
                problems.append(f"polygon {polygon_id or '(no id)'} skipped: {exc}")
                continue
            polygons.append(self._polygon(polygon_id, rings[0][0], arrays))
        return polygons

    def _points(self, values: np.ndarray) -> np.ndarray:
        if values.size % self.dimension:
            raise GeometryError(f"{values.size} coordinates do not make {self.dimension}D points")
        points = values.reshape(-1, self.dimension)
        if self.fix is not None:
            return self.fix(points)
        return points if self.dimension == 3 else _pad(points)

    def _polygon(self, polygon_id: str | None, ring_id: str | None, rings: list[np.ndarray]) -> Polygon:
        polygon = Polygon(rings[0], rings[1:], polygon_id or None, ring_id)
        textures = self.textures
        if textures and ring_id in textures:
            texture = textures[ring_id]
            if len(texture.uv) == len(polygon.exterior):
                polygon.texture = texture
        return polygon

    def surfaces(self, bounded_by: etree._Element, problems: list[str]) -> list[tuple[int, Surface]]:
        """(LOD, Surface) for each semantic surface (RoofSurface, TrafficArea, ...) in a property."""
        found: list[tuple[int, Surface]] = []
        for surface in bounded_by:
            semantic = local_name(surface.tag)
            if not semantic:
                continue
            for prop in surface:
                name = local_name(prop.tag)
                if name.startswith("lod") and name[3:4].isdigit():
                    polygons, _ = self.polygons(prop, problems)
                    found.append((int(name[3]), Surface(semantic, polygons, gml_id(surface))))
        return found

    def tin(self, relief: etree._Element) -> np.ndarray:
        """All gml:Triangle patches under a TIN relief as one (m, 3, 3) array."""
        return parse_tin(relief, self.dimension, self.fix)


def _walk(container: etree._Element) -> tuple[list[_Collected], list[str], list[str], list[str]]:
    """Polygons with their rings' ids and coordinate text, xlink targets, lines and points, in document order.

    GML puts a polygon's exterior ring before its interiors, so the first ring is the exterior.
    A posList belongs to the ring, line or point opened just before it (GML's preorder).
    """
    collected: list[_Collected] = []
    links: list[str] = []
    curves: list[str] = []
    points: list[str] = []
    rings: list[tuple[str | None, str]] = []
    mode = ""
    for element in container.iter(*_WALK):
        name = local_name(element.tag)
        if name == "posList" or name == "pos":
            text = element.text or ""
            if mode == "ring":
                if rings:
                    rings[-1] = (rings[-1][0], text if name == "posList" else f"{rings[-1][1]} {text}")
            elif mode == "curve":
                curves[-1] = text if name == "posList" else f"{curves[-1]} {text}"
            elif mode == "point":
                points.append(text)
        elif name == "LinearRing":
            attrib = element.attrib
            rings.append((attrib.get(GML_ID) or attrib.get(GML32_ID), ""))
            mode = "ring"
        elif name == "Polygon" or name == "Triangle":
            attrib = element.attrib
            rings = []
            collected.append((attrib.get(GML_ID) or attrib.get(GML32_ID), rings))
        elif name == "LineString" or name == "LineStringSegment":
            curves.append("")
            mode = "curve"
        elif name == "Point":
            mode = "point"
        else:  # surfaceMember
            href = element.get(XLINK_HREF)
            if href:
                links.append(href.lstrip("#"))
    return collected, links, curves, points


def _ring(flat: np.ndarray) -> np.ndarray:
    """(n, 3) ring from flat lat/lon/h values, closing point dropped; at least 3 points."""
    if flat.size > 3 and flat[:3].tolist() == flat[-3:].tolist():
        flat = flat[:-3]
    if flat.size < 9:
        raise GeometryError(f"ring with {flat.size // 3} distinct points (a ring needs 3)")
    return flat.reshape(-1, 3)
