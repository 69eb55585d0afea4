"""Small texture atlases for LOD2 buildings: roof in the upper half, facade in the lower half."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ATLAS_SIZE = 32
ROOF_COLOURS = np.array([[96, 96, 104], [120, 72, 60], [70, 84, 110], [150, 150, 142]], np.uint8)
WALL_COLOURS = np.array([[222, 214, 196], [200, 200, 205], [186, 160, 130], [235, 232, 226]], np.uint8)


def atlas(rnd: np.random.Generator) -> np.ndarray:
    """An (n, n, 3) image: in PNG rows run top to bottom, so row 0 is v = 1 (the roof)."""
    n = ATLAS_SIZE
    img = np.empty((n, n, 3), np.uint8)
    roof = ROOF_COLOURS[rnd.integers(len(ROOF_COLOURS))].astype(int)
    wall = WALL_COLOURS[rnd.integers(len(WALL_COLOURS))].astype(int)
    shade = rnd.integers(-8, 9, (n // 2, 1, 1))
    img[: n // 2] = np.clip(roof + shade, 0, 255)
    img[n // 2 :] = wall
    rows, cols = np.meshgrid(np.arange(n // 2), np.arange(n), indexing="ij")
    windows = (rows % 4 == 1) & (cols % 4 != 0)
    img[n // 2 :][windows] = (70, 90, 110)
    return img


def write_atlas(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, "RGB").save(path, format="PNG", optimize=False)
