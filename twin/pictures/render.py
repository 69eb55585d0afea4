"""Offscreen pictures of a City (pyvista): terrain, extruded buildings, an optional flood.

Buildings are their buildings.parquet footprints extruded from the ground height to the
measured height (a default where unknown), in the City's local plane-rectangular CRS.

A flood is painted onto the terrain as a texture at the flood grid's own resolution (MLIT colours
where the water reaches the wet depth, the terrain's colour elsewhere), not drawn as a second
surface a few decimetres above it: shallow water over a terrain mesh coarsened for drawing lay
under the mesh's triangles (and within the depth buffer's resolution of them at city scale), so an
oblique view showed about a fifth of a flooded area.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import geopandas as gpd
import mapbox_earcut
import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling

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
#: Largest side of a flood texture, pixels (beyond it the flood is sampled more coarsely).
MAX_TEXTURE_SIDE = 8192
TERRAIN_COLOURS: Final = "bone"


@dataclass(frozen=True)
class RenderOptions:
    colour_by: str = "flood"
    camera: str = "oblique"  # or "top"
    size: tuple[int, int] = (1600, 1000)
    flood_result: Path | None = None
    wet_depth_m: float = depth_classes.WET_DEPTH_M  # the flood's own (``JobFiles.wet_depth``)


def render_city(city: Path, out: Path, options: RenderOptions = RenderOptions()) -> Path:
    """Write a PNG of the City folder ``city``."""
    plotter = city_plotter(city, options)
    out.parent.mkdir(parents=True, exist_ok=True)
    plotter.screenshot(str(out))
    plotter.close()
    return out


def city_plotter(city: Path, options: RenderOptions = RenderOptions()):
    """The offscreen pyvista plotter of the City folder ``city``, its scene set up (the caller
    screenshots and closes it)."""
    import pyvista as pv

    folder = CityFolder.open(city)
    if options.colour_by not in COLOUR_MODES:
        raise TwinInputError(f"--colour-by {options.colour_by!r}: choose one of {', '.join(COLOUR_MODES)}")
    pv.OFF_SCREEN = True
    if not os.environ.get("DISPLAY"):
        # VTK's default window tries an X server first and logs "bad X server connection" on every
        # picture of a server without one; its EGL window renders offscreen without (libEGL).
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    plotter = pv.Plotter(off_screen=True, window_size=list(options.size))
    plotter.set_background("#F4F6F8", top="#C9D6E3")  # type: ignore[arg-type]  # pyvista's stubs miss ``top``
    terrain, z_range = _terrain(pv, folder.require("terrain"))
    low, high = z_range
    clim = (low - 1.5 * (high - low), high)
    if options.flood_result is None:
        plotter.add_mesh(terrain, scalars="height", cmap=TERRAIN_COLOURS, clim=clim,
                         show_scalar_bar=False, smooth_shading=True, ambient=0.25)
    else:
        texture = _flood_texture(pv, terrain, folder.require("terrain"), options, clim)
        plotter.add_mesh(terrain, texture=texture, smooth_shading=True, ambient=0.25)
    buildings = folder.buildings(folder.local_crs)
    mesh, colours = _buildings(pv, buildings, options.colour_by)
    plotter.add_mesh(mesh, scalars=colours, rgb=True, ambient=0.3, diffuse=0.8)
    plotter.add_text(f"{folder.manifest.get('name', folder.id)} — {len(buildings)} buildings, coloured by {options.colour_by}",
                     font_size=10, color="#333333")
    # VTK's bundled font has no kana or kanji: the credit is given in English here.
    plotter.add_text("Source: MLIT Japan, Project PLATEAU / machi-twin", position="lower_right",
                     font_size=8, color="#555555")
    _camera(plotter, terrain, options.camera)
    return plotter


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


def _flood_texture(pv, terrain, terrain_tif: Path, options: RenderOptions, clim: tuple[float, float]):
    """The terrain's colours with the flood's maximum depth painted in MLIT colours where wet, as a
    texture over the terrain mesh (texture coordinates set on ``terrain``)."""
    import matplotlib

    result = options.flood_result
    assert result is not None
    path = result / "max_depth.tif" if result.is_dir() else result
    if not path.is_file():
        raise TwinInputError(f"{result}: no max_depth.tif (a folder written by twin flood run)")
    with rasterio.open(path) as src:
        depth = src.read(1, masked=True).filled(0).astype(float)
        flood = src.transform
    xmin, xmax, ymin, ymax, _, _ = terrain.bounds
    pixel = max(abs(flood.a), (xmax - xmin) / MAX_TEXTURE_SIDE, (ymax - ymin) / MAX_TEXTURE_SIDE)
    width, height = max(1, round((xmax - xmin) / pixel)), max(1, round((ymax - ymin) / pixel))
    # image row 0 is the north edge (pyvista turns it to VTK's t = 1); each pixel takes the flood
    # cell under its centre
    x = xmin + (np.arange(width) + 0.5) * (xmax - xmin) / width
    y = ymax - (np.arange(height) + 0.5) * (ymax - ymin) / height
    cols = np.floor((x - flood.c) / flood.a).astype(int)
    rows = np.floor((y - flood.f) / flood.e).astype(int)
    inside = (rows[:, None] >= 0) & (rows[:, None] < depth.shape[0]) & (cols >= 0) & (cols < depth.shape[1])
    water = np.where(inside, depth[np.clip(rows, 0, depth.shape[0] - 1)][:, np.clip(cols, 0, depth.shape[1] - 1)], 0)
    with rasterio.open(terrain_tif) as src:
        ground = src.read(1, out_shape=(height, width), resampling=Resampling.average)
    ground = np.nan_to_num(ground.astype(float), nan=clim[0])
    shade = matplotlib.colormaps[TERRAIN_COLOURS]((ground - clim[0]) / (clim[1] - clim[0]))[..., :3]
    rgb = (shade * 255).astype(np.uint8)
    ranks = depth_classes.rank_of_depth(water, options.wet_depth_m)
    palette = np.array([[0, 0, 0], *(_rgb(c.colour) for c in depth_classes.CLASSES)], dtype=np.uint8)
    rgb[ranks > 0] = palette[ranks[ranks > 0]]
    points = terrain.points
    terrain.active_texture_coordinates = np.column_stack([(points[:, 0] - xmin) / (xmax - xmin),
                                                          (points[:, 1] - ymin) / (ymax - ymin)])
    return pv.Texture(rgb)


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
