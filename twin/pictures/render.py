"""Offscreen pictures of a City (pyvista): terrain, extruded buildings, an optional flood.

Buildings are their buildings.parquet footprints extruded from the ground height to the
measured height (a default where unknown), in the City's local plane-rectangular CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import mapbox_earcut
import numpy as np
import rasterio
import shapely

from twin import depth_classes
from twin.city.heights import drawn_heights
from twin.city.layout import CityFolder
from twin.errors import TwinInputError

NO_RISK = "#D9D9D9"
USAGE_COLOURS = {  # Building_usage codes, grouped: offices, commerce, homes, public, industry
    "401": "#4E79A7", "402": "#F28E2B", "403": "#F28E2B", "404": "#F28E2B", "411": "#EDC948",
    "412": "#E15759", "413": "#FF9DA7", "414": "#FF9DA7", "415": "#FF9DA7", "421": "#76B7B2",
    "422": "#59A14F", "431": "#9C755F", "441": "#BAB0AC",
}
COLOUR_MODES = ("usage", "height", "flood")
MAX_TERRAIN_CELLS = 400_000


@dataclass(frozen=True)
class RenderOptions:
    colour_by: str = "flood"
    camera: str = "oblique"  # or "top"
    size: tuple[int, int] = (1600, 1000)
    flood_result: Path | None = None


def render_city(city: Path, out: Path, options: RenderOptions = RenderOptions()) -> Path:
    """Write a PNG of the City folder ``city``."""
    import pyvista as pv

    folder = CityFolder.open(city)
    if options.colour_by not in COLOUR_MODES:
        raise TwinInputError(f"--colour-by {options.colour_by!r}: choose one of {', '.join(COLOUR_MODES)}")
    pv.OFF_SCREEN = True
    plotter = pv.Plotter(off_screen=True, window_size=list(options.size))
    plotter.set_background("#F4F6F8", top="#C9D6E3")  # type: ignore[arg-type]  # pyvista's stubs miss ``top``
    terrain, z_range = _terrain(pv, folder.require("terrain"))
    low, high = z_range
    plotter.add_mesh(terrain, scalars="height", cmap="bone", clim=(low - 1.5 * (high - low), high),
                     show_scalar_bar=False, smooth_shading=True, ambient=0.25)
    if options.flood_result is not None:
        _add_flood(pv, plotter, options.flood_result, terrain)
    buildings = folder.buildings(folder.local_crs)
    mesh, colours = _buildings(pv, buildings, options.colour_by)
    plotter.add_mesh(mesh, scalars=colours, rgb=True, ambient=0.3, diffuse=0.8)
    plotter.add_text(f"{folder.manifest.get('name', folder.id)} — {len(buildings)} buildings, coloured by {options.colour_by}",
                     font_size=10, color="#333333")
    # VTK's bundled font has no kana or kanji: the credit is given in English here.
    plotter.add_text("Source: MLIT Japan, Project PLATEAU / machi-twin", position="lower_right",
                     font_size=8, color="#555555")
    _camera(plotter, terrain, options.camera)
    out.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(out))
    plotter.close()
    return out


def _terrain(pv, path: Path):
    with rasterio.open(path) as src:
        step = max(1, int(np.ceil(np.sqrt(src.width * src.height / MAX_TERRAIN_CELLS))))
        heights = src.read(1)[::step, ::step].astype(float)
        t = src.transform
        xs = t.c + t.a * (np.arange(0, src.width, step) + 0.5)
        ys = t.f + t.e * (np.arange(0, src.height, step) + 0.5)
    x, y = np.meshgrid(xs, ys)
    grid = pv.StructuredGrid(x, y, heights)
    grid["height"] = heights.ravel(order="F")
    finite = heights[np.isfinite(heights)]
    return grid.extract_surface(algorithm="dataset_surface"), (float(finite.min()), float(finite.max()) + 1.0)


def _add_flood(pv, plotter, result: Path, terrain) -> None:
    path = result / "max_depth.tif" if result.is_dir() else result
    if not path.is_file():
        raise TwinInputError(f"{result}: no max_depth.tif (a folder written by twin flood run)")
    with rasterio.open(path) as src:
        depth = src.read(1, masked=True).filled(0).astype(float)
        t = src.transform
        xs = t.c + t.a * (np.arange(src.width) + 0.5)
        ys = t.f + t.e * (np.arange(src.height) + 0.5)
    x, y = np.meshgrid(xs, ys)
    ground = _sample_height(terrain, x, y)
    grid = pv.StructuredGrid(x, y, ground + depth)
    grid["depth"] = depth.ravel(order="F")
    wet = grid.threshold(depth_classes.WET_DEPTH_M - depth_classes.WET_TOLERANCE_M, scalars="depth")
    if wet.n_points:
        colours = np.array([_rgb(_depth_colour(d)) for d in wet["depth"]])
        plotter.add_mesh(wet, scalars=colours, rgb=True, opacity=0.8)


def _sample_height(terrain, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    points = terrain.points
    order = np.lexsort((points[:, 0], points[:, 1]))
    xs, ys = np.unique(points[:, 0]), np.unique(points[:, 1])
    z = points[order, 2].reshape(len(ys), len(xs))
    col = np.clip(np.searchsorted(xs, x) - 1, 0, len(xs) - 1)
    row = np.clip(np.searchsorted(ys, y) - 1, 0, len(ys) - 1)
    return z[row, col]


def _buildings(pv, buildings: gpd.GeoDataFrame, colour_by: str):
    """One PolyData of all extruded footprints, and an RGB colour per face."""
    points: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    face_colour: list[np.ndarray] = []
    offset = 0
    heights = drawn_heights(buildings)
    grounds = buildings["ground_height"].astype(float).fillna(0.0).to_numpy()
    colours = _colours(buildings, colour_by)
    for geometry, base, height, colour in zip(buildings.geometry, grounds, heights, colours):
        for polygon in shapely.get_parts(geometry) if geometry is not None else ():
            ring = np.asarray(polygon.exterior.coords)[:-1, :2]
            if len(ring) < 3:
                continue
            prism_points, prism_faces = _prism(ring, base, base + max(height, 1.0))
            points.append(prism_points)
            faces.append(_offset_faces(prism_faces, offset))
            face_colour.append(np.tile(colour, (len(prism_faces), 1)))
            offset += len(prism_points)
    if not points:
        raise TwinInputError("the City has no building footprints to draw")
    mesh = pv.PolyData(np.concatenate(points), np.concatenate(faces))
    return mesh, np.concatenate(face_colour)


def _prism(ring: np.ndarray, bottom: float, top: float) -> tuple[np.ndarray, list[list[int]]]:
    n = len(ring)
    points = np.vstack([np.column_stack([ring, np.full(n, bottom)]), np.column_stack([ring, np.full(n, top)])])
    roof = mapbox_earcut.triangulate_float64(ring, np.array([n], dtype=np.uint32)).reshape(-1, 3)
    faces = [[int(a) + n, int(b) + n, int(c) + n] for a, b, c in roof]
    faces += [[i, (i + 1) % n, (i + 1) % n + n, i + n] for i in range(n)]
    return points, faces


def _offset_faces(faces: list[list[int]], offset: int) -> np.ndarray:
    return np.concatenate([[len(f), *(v + offset for v in f)] for f in faces])


def _colours(buildings: gpd.GeoDataFrame, colour_by: str) -> np.ndarray:
    if colour_by == "usage":
        codes = buildings["usage_code"].fillna("")
        return np.array([_rgb(USAGE_COLOURS.get(code, "#CCCCCC")) for code in codes])
    if colour_by == "height":
        import matplotlib

        heights = drawn_heights(buildings)
        scaled = np.clip(heights / max(np.nanpercentile(heights, 98), 1.0), 0, 1)
        return (matplotlib.colormaps["viridis"](scaled)[:, :3] * 255).astype(np.uint8)
    depths = buildings["max_flood_depth"].astype(float).to_numpy()
    return np.array([_rgb(_depth_colour(d)) if np.isfinite(d) else _rgb(NO_RISK) for d in depths])


def _depth_colour(depth: float) -> str:
    return depth_classes.of_rank(depth_classes.rank_of_any_depth(depth)).colour


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


def _camera(plotter, terrain, mode: str) -> None:
    xmin, xmax, ymin, ymax, zmin, zmax = terrain.bounds
    centre = np.array([(xmin + xmax) / 2, (ymin + ymax) / 2, zmin])
    span = max(xmax - xmin, ymax - ymin)
    if mode == "top":
        plotter.camera_position = [tuple(centre + [0, 0, 1.6 * span]), tuple(centre), (0, 1, 0)]
    else:
        plotter.camera_position = [tuple(centre + [0.55 * span, -0.75 * span, 0.6 * span]), tuple(centre), (0, 0, 1)]
