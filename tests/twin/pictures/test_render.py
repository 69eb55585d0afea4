"""``twin render``: an offscreen picture of a City that shows something."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from twin.errors import TwinInputError
from twin.pictures.render import RenderOptions, render_city


def test_render_draws_the_city(converted_city, tmp_path):
    out = render_city(converted_city, tmp_path / "city.png", RenderOptions(colour_by="usage", size=(480, 300)))
    pixels = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert pixels.shape == (300, 480, 3)
    assert pixels.std() > 10  # not a blank frame
    # Usage colours (e.g. houses #EDC948, offices #4E79A7) appear somewhere in the picture.
    distinct = {tuple(p) for p in pixels.reshape(-1, 3)[::7].astype(int)}
    assert len(distinct) > 50


def test_colour_modes_differ(converted_city, tmp_path):
    pictures = [np.asarray(Image.open(render_city(converted_city, tmp_path / f"{mode}.png",
                                                  RenderOptions(colour_by=mode, size=(320, 200)))), dtype=float)
                for mode in ("usage", "height")]
    changed = np.abs(pictures[0] - pictures[1]).sum(axis=2) > 30
    assert changed.mean() > 0.001  # the buildings' pixels (a small share of a 320x200 frame) differ


def test_not_a_city_is_a_clear_error(tmp_path):
    with pytest.raises(TwinInputError, match="not a City folder"):
        render_city(tmp_path, tmp_path / "x.png")
