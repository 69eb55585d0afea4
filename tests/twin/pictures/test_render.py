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
