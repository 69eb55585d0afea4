"""Synthetic ground: an alluvial lowland along a river, levees, and a terrace to the south.

Heights are orthometric metres on a regular grid of local metres; the TIN splits every
cell along its south-west/north-east diagonal, and ``height_at`` interpolates on exactly
those triangles with the rounded vertex heights the DEM file holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citygml.samplecity.site import HEIGHT_DECIMALS, Site

#: River channel half-width and the levee-to-levee corridor half-width, m.
CHANNEL_HALF_WIDTH = 28.0
CORRIDOR_HALF_WIDTH = 70.0
#: Normal water depth over the bed, m; the channel is 4.2 m deep at its centre.
WATER_DEPTH = 1.5
_CHANNEL_DEPTH = 4.2
#: Half-width of the water at normal level: where the parabolic bank meets it.
WATER_HALF_WIDTH = CHANNEL_HALF_WIDTH * float(np.sqrt(WATER_DEPTH / _CHANNEL_DEPTH))


def river_centre_y(x: np.ndarray | float, site: Site) -> np.ndarray:
    """Northing of the river's centreline; the river flows east across the north of the site."""
    s = site.scale
    return site.height * 0.80 + 110.0 * s * np.sin(2 * np.pi * np.asarray(x) / (2300.0 * s) + 0.6)


def river_water_level(x: np.ndarray) -> np.ndarray:
    """Normal water surface of the river (T.P. m), planar: it falls 0.5 m/km eastward with the bed."""
    return np.round(3.2 + WATER_DEPTH - 0.0005 * np.asarray(x, float), HEIGHT_DECIMALS)


def scarp_y(x: np.ndarray | float, site: Site) -> np.ndarray:
    """Northing of the terrace edge (段丘崖); the terrace lies south of it."""
    x = np.asarray(x)
    s = site.scale
    return site.height * 0.42 + 220.0 * s * np.sin(2 * np.pi * x / (2900.0 * s)) - 0.08 * (x - site.width / 2)


def river_distance(x: np.ndarray, y: np.ndarray, site: Site) -> np.ndarray:
    """Approximate distance to the river centreline (vertical offset, good for a gentle meander)."""
    return np.abs(np.asarray(y) - river_centre_y(x, site))


def ground_height(x: np.ndarray, y: np.ndarray, site: Site, phases: np.ndarray) -> np.ndarray:
    """Analytic ground surface, m; ``phases`` (4 values) vary the low relief per seed."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    d = river_distance(x, y, site)
    lowland = 7.4 - 0.0005 * x + 0.0016 * np.minimum(d, 1400.0)
    levee = 2.6 * np.exp(-(((d - 48.0) / 16.0) ** 2))
    bed = 3.2 - 0.0005 * x  # _CHANNEL_DEPTH below the lowland at the centreline
    channel = np.clip(1.0 - (d / CHANNEL_HALF_WIDTH) ** 2, 0.0, 1.0)
    low = lowland + levee - (lowland - bed) * channel
    terrace = 18.6 - 0.0008 * x + 0.8 * np.sin(x / 310.0 + phases[0]) * np.sin(y / 270.0 + phases[1])
    t = 0.5 * (1.0 - np.tanh((y - scarp_y(x, site)) / 45.0))
    relief = 0.35 * np.sin(x / 140.0 + phases[2]) * np.cos(y / 170.0 + phases[3])
    return low * (1.0 - t) + terrace * t + relief * (1.0 - channel)


@dataclass
class Terrain:
    """The DEM grid: vertex coordinates (local metres) and rounded heights."""

    xs: np.ndarray  # (nx,)
    ys: np.ndarray  # (ny,)
    z: np.ndarray  # (ny, nx), rounded to the written precision
    phases: np.ndarray  # the seed's draw of the low relief (see ground_height)

    def triangles(self) -> np.ndarray:
        """Vertex indices (m, 3) into the flattened grid, counter-clockwise seen from above."""
        ny, nx = self.z.shape
        j, i = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
        v00 = (j * nx + i).ravel()
        v10, v01, v11 = v00 + 1, v00 + nx, v00 + nx + 1
        lower = np.stack([v00, v10, v11], axis=1)
        upper = np.stack([v00, v11, v01], axis=1)
        return np.stack([lower, upper], axis=1).reshape(-1, 3)

    def height_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Height on the TIN (linear inside each written triangle)."""
        return interpolate_on_grid(self.xs, self.ys, self.z, x, y)


def interpolate_on_grid(xs, ys, values, x, y) -> np.ndarray:
    """Linear interpolation of grid ``values`` on the SW–NE split triangles of each cell."""
    s = xs[1] - xs[0]
    fx = (np.asarray(x, float) - xs[0]) / s
    fy = (np.asarray(y, float) - ys[0]) / s
    i = np.clip(np.floor(fx).astype(int), 0, len(xs) - 2)
    j = np.clip(np.floor(fy).astype(int), 0, len(ys) - 2)
    fx, fy = fx - i, fy - j
    z00, z10 = values[j, i], values[j, i + 1]
    z01, z11 = values[j + 1, i], values[j + 1, i + 1]
    lower = z00 + fx * (z10 - z00) + fy * (z11 - z10)
    upper = z00 + fy * (z01 - z00) + fx * (z11 - z01)
    return np.where(fx >= fy, lower, upper)


def make_terrain(site: Site, rng: np.random.Generator, spacing: float = 30.0) -> Terrain:
    """Sample the analytic ground on a grid covering the site."""
    xs = np.arange(0.0, site.width + spacing / 2, spacing)
    ys = np.arange(0.0, site.height + spacing / 2, spacing)
    gx, gy = np.meshgrid(xs, ys)
    phases = rng.uniform(0, 2 * np.pi, 4)
    z = np.round(ground_height(gx, gy, site, phases), HEIGHT_DECIMALS)
    return Terrain(xs, ys, z, phases)
