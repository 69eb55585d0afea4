"""The raster both schemes run on, and the maxima and arrival times recorded on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.flood.forcing import Boundaries


@dataclass
class Raster:
    """Bed, roughness and open fractions of a north-up grid (row 0 north) of square cells.

    ``phi`` is the open fraction of each cell (0 for a wall), ``wx``/``wy`` those of the faces:
    ``wx[r, c]`` is the west face of cell (r, c) (shape ny x nx+1), ``wy[r, c]`` its north face
    (shape ny+1 x nx). ``inv_width`` is 1 / (phi Δx), zero on walls.
    """

    z: np.ndarray
    n2: np.ndarray
    phi: np.ndarray
    wx: np.ndarray
    wy: np.ndarray
    inv_width: np.ndarray
    dx: float

    @classmethod
    def build(cls, z: np.ndarray, n2: np.ndarray, phi: np.ndarray, dx: float, boundaries: Boundaries) -> Raster:
        """Face widths are the smaller open fraction of the two cells; closed grid edges are walls."""
        ny, nx = phi.shape
        wx = np.empty((ny, nx + 1), phi.dtype)
        wx[:, 1:-1] = np.minimum(phi[:, :-1], phi[:, 1:])
        wx[:, 0] = phi[:, 0] if boundaries.west.kind != "closed" else 0
        wx[:, -1] = phi[:, -1] if boundaries.east.kind != "closed" else 0
        wy = np.empty((ny + 1, nx), phi.dtype)
        wy[1:-1] = np.minimum(phi[:-1], phi[1:])
        wy[0] = phi[0] if boundaries.north.kind != "closed" else 0
        wy[-1] = phi[-1] if boundaries.south.kind != "closed" else 0
        inv_width = np.where(phi > 0, 1 / (np.where(phi > 0, phi, 1) * dx), 0).astype(phi.dtype)
        return cls(z, n2, phi, wx, wy, inv_width, float(dx))

    @property
    def shape(self) -> tuple[int, int]:
        return self.phi.shape


@dataclass
class Tracks:
    """What a run records in every cell as it goes: maximum depth, maximum speed², and the time
    the depth first exceeded ``arrival_depth`` (+inf until then). Speeds count only where the
    water is deeper than ``velocity_depth``."""

    max_depth: np.ndarray
    arrival: np.ndarray
    max_speed2: np.ndarray
    arrival_depth: float
    velocity_depth: float
