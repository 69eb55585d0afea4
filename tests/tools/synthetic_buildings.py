"""Hand-made building features for mesh and tile tests, laid out in metres near Yokosuka."""

from __future__ import annotations

import numpy as np

from citygml.model import Feature, Geometry, Polygon, Surface, Texture
from twin.tiles.enu import LocalFrame, ecef_to_geodetic

SITE = LocalFrame(139.67, 35.28, 0.0)


def to_plateau(enu: np.ndarray, frame: LocalFrame = SITE) -> np.ndarray:
    """ENU metres about ``frame`` → PLATEAU (lat, lon, h) rows."""
    geo = ecef_to_geodetic(frame.to_ecef(np.asarray(enu, float).reshape(-1, 3)))
    return np.column_stack([geo[:, 1], geo[:, 0], geo[:, 2]])


def box_polygons(x0: float, y0: float, z0: float, dx: float, dy: float, dz: float) -> list[Polygon]:
    """Six outward-facing quads of an axis-aligned box (exteriors anticlockwise seen from outside)."""
    corners = np.array([[x0 + i * dx, y0 + j * dy, z0 + k * dz]
                        for k in (0, 1) for j in (0, 1) for i in (0, 1)])
    faces = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [1, 3, 7, 5], [3, 2, 6, 7], [2, 0, 4, 6]]
    return [Polygon(to_plateau(corners[f])) for f in faces]


def footprint(x0: float, y0: float, z0: float, dx: float, dy: float) -> Polygon:
    return Polygon(to_plateau([[x0, y0, z0], [x0 + dx, y0, z0], [x0 + dx, y0 + dy, z0], [x0, y0 + dy, z0]]))


def box_building(gml_id: str, x0: float, y0: float, dx: float, dy: float, dz: float,
                 z0: float = 5.0, **attributes: object) -> Feature:
    """A LOD0 footprint + LOD1 solid box building."""
    return Feature(gml_id, "bldg", "Building", [
        Geometry(0, "FootPrint", [Surface("", [footprint(x0, y0, z0, dx, dy)])]),
        Geometry(1, "Solid", [Surface("", box_polygons(x0, y0, z0, dx, dy, dz))]),
    ], {"measuredHeight": dz, **attributes})


def textured_wall(image: str, x0: float = 0.0) -> Polygon:
    """A 10 m × 5 m wall facing south (−y) with a full-image texture."""
    ring = to_plateau([[x0, 0, 0], [x0 + 10, 0, 0], [x0 + 10, 0, 5], [x0, 0, 5]])
    return Polygon(ring, texture=Texture(image, np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)))


def city(n: int, seed: int = 0, spacing: float = 25.0) -> list[Feature]:
    """``n`` LOD1 box buildings on a jittered grid with random sizes and heights."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    features = []
    for k in range(n):
        i, j = divmod(k, side)
        dx, dy = rng.uniform(6, 18, 2)
        x, y = i * spacing + rng.uniform(0, 4), j * spacing + rng.uniform(0, 4)
        features.append(box_building(f"bldg_{k:05d}", x, y, dx, dy, float(rng.uniform(3, 40)),
                                     z0=float(rng.uniform(0, 20)), storeysAboveGround=int(rng.integers(1, 12))))
    return features
