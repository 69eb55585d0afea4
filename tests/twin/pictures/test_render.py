"""``twin render``: an offscreen picture of a City that shows something."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from PIL import Image

from twin.errors import TwinInputError
from twin.pictures.render import RenderOptions, render_city


def hue_pixels(path, colour: str) -> int:
    """Pixels of a picture with ``colour``'s hue (±8°) and some saturation (lighting changes the
    brightness of a face, not its hue; the grey terrain and sky have little saturation)."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=float).reshape(-1, 3) / 255
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in pixels])
    target = colorsys.rgb_to_hsv(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))[0]
    gap = np.abs(hsv[:, 0] - target)
    return int(((np.minimum(gap, 1 - gap) < 8 / 360) & (hsv[:, 1] > 0.35)).sum())


def test_render_draws_the_city_in_its_usage_colours(converted_city, tmp_path):
    out = render_city(converted_city, tmp_path / "city.png", RenderOptions(colour_by="usage", size=(720, 450)))
    pixels = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert pixels.shape == (450, 720, 3)
    assert pixels.std() > 10  # not a blank frame
    # The sample city's commonest usages are offices (401, #4E79A7 in the render palette) and
    # shops (402, #F28E2B): their hues cover hundreds of pixels in usage colours and next to none
    # when the same city is coloured by official flood depth (MLIT yellows and pinks, grey).
    flood = render_city(converted_city, tmp_path / "flood.png", RenderOptions(colour_by="flood", size=(720, 450)))
    for colour in ("#4E79A7", "#F28E2B"):
        shown, absent = hue_pixels(out, colour), hue_pixels(flood, colour)
        assert shown > 200 and absent < shown / 10, (colour, shown, absent)


def test_colour_modes_differ(converted_city, tmp_path):
    pictures = [np.asarray(Image.open(render_city(converted_city, tmp_path / f"{mode}.png",
                                                  RenderOptions(colour_by=mode, size=(320, 200)))), dtype=float)
                for mode in ("usage", "height")]
    changed = np.abs(pictures[0] - pictures[1]).sum(axis=2) > 30
    assert changed.mean() > 0.001  # the buildings' pixels (a small share of a 320x200 frame) differ


def test_not_a_city_is_a_clear_error(tmp_path):
    with pytest.raises(TwinInputError, match="not a City folder"):
        render_city(tmp_path, tmp_path / "x.png")


def _shallow_flood(city, folder, share: float, seed: int = 4):
    """A max_depth.tif on the City's grid: ``share`` of the cells 0.12-0.45 m deep (MLIT class < 0.5 m)."""
    import rasterio

    from twin.files.rasters import Grid, write_grid

    with rasterio.open(city / "terrain.tif") as src:
        transform, crs, shape = src.transform, src.crs, src.shape
    rng = np.random.default_rng(seed)
    # patches of 40 x 40 cells (80 m), so that each is many pixels wide in a city-wide picture
    patches = rng.random((shape[0] // 40 + 1, shape[1] // 40 + 1)) < share
    wet = np.kron(patches, np.ones((40, 40), bool))[:shape[0], :shape[1]]
    depth = np.where(wet, rng.uniform(0.12, 0.45, shape), 0.0).astype(np.float32)
    folder.mkdir()
    write_grid(folder / "max_depth.tif", Grid(depth, transform, crs))
    return wet.mean()


def _scene_share(plotter, colour: str) -> float:
    """Of the pixels showing the scene (a finite depth buffer: not the sky), the share in ``colour``'s
    hue (±8°, lighting changes a face's brightness, not its hue) with some saturation."""
    image = plotter.screenshot(return_img=True).astype(float) / 255
    scene = np.isfinite(plotter.get_image_depth(fill_value=np.nan))
    plotter.close()
    hsv = np.array([colorsys.rgb_to_hsv(*p) for p in image[scene]])
    target = colorsys.rgb_to_hsv(*(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)))
    gap = np.abs(hsv[:, 0] - target[0])
    return float(((np.minimum(gap, 1 - gap) < 8 / 360) & (hsv[:, 1] > 0.5 * target[1])).mean())


@pytest.mark.parametrize("camera", ["top", "oblique"])
def test_shallow_water_shows_wherever_it_is_in_either_view(converted_city, tmp_path, camera):
    from twin.depth_classes import CLASSES
    from twin.pictures.render import city_plotter

    wet = _shallow_flood(converted_city, tmp_path / "flood", share=0.93)
    assert 0.88 < wet < 0.98
    plotter = city_plotter(converted_city, RenderOptions(colour_by="flood", camera=camera, size=(800, 500),
                                                         flood_result=tmp_path / "flood"))
    shown = _scene_share(plotter, CLASSES[0].colour)
    # The share of the drawn scene in the < 0.5 m yellow follows the share of wet cells: less the
    # sample city's buildings (a few % of the picture) and, seen obliquely, the slopes that face away;
    # a separate water surface over the coarsened terrain showed about a fifth of it.
    assert shown > wet - 0.1, (camera, shown, wet)
    dry = city_plotter(converted_city, RenderOptions(colour_by="flood", camera=camera, size=(800, 500)))
    assert _scene_share(dry, CLASSES[0].colour) < 0.02  # the terrain itself has no such colour
