"""Walkable rasters for the RiMEA 3.0 guideline tests (rimea.de, Richtlinie 3.0.0) and helpers
to place crowds in them. Geometry is in map metres with the walkable interior starting at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(slots=True)
class Layout:
    """A walls raster with its cell size and origin (west edge x, north edge y)."""

    walls: np.ndarray
    cell_size: float
    origin: tuple[float, float]

    def cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of map points."""
        h = self.cell_size
        return ((self.origin[1] - np.asarray(y)) // h).astype(int), ((np.asarray(x) - self.origin[0]) // h).astype(int)

    def walkable_at(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        r, c = self.cell(x, y)
        ny, nx = self.walls.shape
        ok = (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
        out = np.zeros(np.shape(r), dtype=bool)
        out[ok] = ~self.walls[r[ok], c[ok]]
        return out


def box(x0: float, y0: float, x1: float, y1: float, cell_size: float = 0.25, wall: float = 0.25) -> Layout:
    """A closed rectangle of walkable space [x0, x1] × [y0, y1] with walls ``wall`` thick round it."""
    h = cell_size
    nx = int(round((x1 - x0 + 2 * wall) / h))
    ny = int(round((y1 - y0 + 2 * wall) / h))
    walls = np.ones((ny, nx), dtype=bool)
    lay = Layout(walls, h, (x0 - wall, y1 + wall))
    carve(lay, x0, y0, x1, y1)
    return lay


def carve(lay: Layout, x0: float, y0: float, x1: float, y1: float, value: bool = False) -> None:
    """Set the cells whose centres lie in [x0, x1] × [y0, y1] to walkable (or to wall)."""
    h = lay.cell_size
    ny, nx = lay.walls.shape
    xc = lay.origin[0] + (np.arange(nx) + 0.5) * h
    yc = lay.origin[1] - (np.arange(ny) + 0.5) * h
    rows = (yc > y0) & (yc < y1)
    cols = (xc > x0) & (xc < x1)
    lay.walls[np.ix_(rows, cols)] = value


def hex_crowd(x0: float, y0: float, x1: float, y1: float, density: float, rng: np.random.Generator,
              body: float = 0.46) -> tuple[np.ndarray, np.ndarray]:
    """Points at ``density`` (m⁻²) on a hexagonal lattice filling the rectangle, each moved at
    random by up to 45% of the room its neighbours leave it (so bodies never overlap)."""
    a = np.sqrt(2.0 / (np.sqrt(3.0) * density))
    jitter = max(0.45 * (a - body), 0.0)
    rows = max(1, int(np.floor((y1 - y0) / (a * np.sqrt(3) / 2))))
    dy = (y1 - y0) / rows
    n = int(round(density * (x1 - x0) * (y1 - y0)))
    per_row = int(np.ceil(n / rows))
    dx = (x1 - x0) / per_row
    xs, ys = [], []
    for k in range(rows):
        xs.append(x0 + dx * (np.arange(per_row) + 0.25 + 0.5 * (k % 2)))
        ys.append(np.full(per_row, y0 + dy * (k + 0.5)))
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    x = np.clip(x + rng.uniform(-jitter, jitter, n), x0 + 0.01, x1 - 0.01)
    return x, np.clip(y + rng.uniform(-jitter, jitter, n), y0 + 0.01, y1 - 0.01)


def random_crowd(x0: float, y0: float, x1: float, y1: float, density: float, rng: np.random.Generator,
                 body: float = 0.46, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Points at ``density`` (m⁻²) thrown at random, each at least ``body`` from the others
    (random sequential addition; feasible up to about 3 m⁻² for 0.46 m bodies)."""
    n = int(round(density * (x1 - x0) * (y1 - y0)))
    xs = np.empty(n)
    ys = np.empty(n)
    k = 0
    for _ in range(200 * n):
        if k == n:
            break
        x = rng.uniform(x0 + margin, x1 - margin)
        y = rng.uniform(y0 + margin, y1 - margin)
        if k == 0 or np.min((xs[:k] - x) ** 2 + (ys[:k] - y) ** 2) >= body * body:
            xs[k], ys[k] = x, y
            k += 1
    if k < n:
        raise ValueError(f"could not place {n} bodies of {body} m at {density} m⁻²")
    return xs, ys


def room_crowd(x0: float, y0: float, x1: float, y1: float, n: int, rng: np.random.Generator,
               spacing: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random, non-overlapping positions (at least ``spacing`` apart) in a rectangle."""
    gx = np.arange(x0 + spacing / 2, x1 - spacing / 4, spacing)
    gy = np.arange(y0 + spacing / 2, y1 - spacing / 4, spacing)
    xx, yy = np.meshgrid(gx, gy)
    pick = rng.choice(xx.size, size=n, replace=False)
    return xx.ravel()[pick], yy.ravel()[pick]


def agents_table(x: np.ndarray, y: np.ndarray, **columns) -> pd.DataFrame:
    """An agents table with ids 0..n-1."""
    return pd.DataFrame({"id": np.arange(len(x)), "x": x, "y": y, **columns})


def rimea9(open_doors: int = 4, cell_size: float = 0.25) -> tuple[Layout, pd.DataFrame]:
    """Test 9: a 30 m × 20 m room, 1 m doors at x 4–5 and 25–26 m in both long walls (as in
    JuPedSim's RiMEA suite); with two doors, those in the north wall are closed. Each exit is
    the door opening itself: a 0.5 m circle at the outer face of the doorway."""
    lay = box(0.0, 0.0, 30.0, 20.0, cell_size)
    doors = [(4.5, 0.0), (25.5, 0.0), (4.5, 20.0), (25.5, 20.0)][:open_doors]
    exits = []
    for k, (xd, yd) in enumerate(doors):
        carve(lay, xd - 0.5, yd - 0.25, xd + 0.5, yd + 0.25)
        exits.append((f"door{k + 1}", xd, yd - 0.25 if yd == 0.0 else yd + 0.25, 0.5))
    return lay, pd.DataFrame(exits, columns=["id", "x", "y", "radius_m"])
