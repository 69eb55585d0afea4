"""The river itself (wtr:WaterBody): its water at normal level, in pieces along its course.

The water surface falls linearly eastward (:func:`river_water_level`), so every piece,
whatever its outline, is planar; the banks are where the channel's parabolic section
meets that level (``WATER_HALF_WIDTH`` either side of the centreline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citygml.samplecity.site import Site
from citygml.samplecity.terrain import WATER_HALF_WIDTH, river_centre_y

RIVER_NAME = "新河岸川"
RIVER_CLASS = "1030"  # WaterBody_class: river / stream（河川/小川）
PIECE_LENGTH = 300.0  # m of river per polygon
BANK_STEP = 20.0  # m between bank vertices


@dataclass(frozen=True)
class WaterPiece:
    """One polygon of the river: ring (k, 2) counter-clockwise in local metres."""

    ring: np.ndarray
    x_mid: float


def water_pieces(site: Site) -> list[WaterPiece]:
    """The river across the site, cut every ``PIECE_LENGTH`` metres eastward."""
    edges = np.append(np.arange(0.0, site.width, PIECE_LENGTH), site.width)
    pieces = []
    for x0, x1 in zip(edges[:-1], edges[1:]):
        x = np.linspace(x0, x1, max(2, int(np.ceil((x1 - x0) / BANK_STEP)) + 1))
        yc = river_centre_y(x, site)
        south = np.c_[x, yc - WATER_HALF_WIDTH]
        north = np.c_[x[::-1], yc[::-1] + WATER_HALF_WIDTH]
        pieces.append(WaterPiece(np.concatenate([south, north]), float((x0 + x1) / 2)))
    return pieces
