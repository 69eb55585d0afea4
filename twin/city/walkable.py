"""The walkable part of a City's grid and where a shelter joins it.

Open cells (not inside a building footprint) fall into connected regions (4-connected: the fast
marching that measures walks steps to side neighbours only). The streets of a town make large
regions; the gap between two houses or a courtyard closed on all sides by footprints makes small
pockets that lead nowhere (the footprint masks have no doors). A shelter point usually lies inside
its building (a school), and the open cell nearest to it is often such a pocket: a shelter snapped
there is out of everyone's reach, and the people around it walk to a farther one until that fills,
then stop. So shelters join the grid at the nearest open cell of a region that is not a pocket:
the evacuation (``twin.evacuation.placement``) and the public map's walk
(``twin.hazardmap.shelter_walk``) alike.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Open regions smaller than this (m²) are pockets: a 50 m × 50 m courtyard still is one, a block of
#: streets is not (the sample city's streets are 11,000 cells of 4 m; its pockets 1 to 22 cells).
POCKET_M2 = 2_500.0


def streets(walls: np.ndarray, cell_size: float) -> np.ndarray:
    """Open cells of regions of at least ``POCKET_M2``; where no region is that large, the largest."""
    labels, count = ndimage.label(~walls)
    if count == 0:
        return np.zeros(walls.shape, bool)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    big = sizes * cell_size * cell_size >= POCKET_M2
    if not big.any():
        big[int(np.argmax(sizes))] = True
    return big[labels]


def entrance(street: np.ndarray, r: int, c: int, radius: int) -> tuple[int, int] | None:
    """The street cell nearest to (r, c) within ``radius`` cells (a square window), or None."""
    r0, c0 = max(r - radius, 0), max(c - radius, 0)
    rows, cols = np.nonzero(street[r0:r + radius + 1, c0:c + radius + 1])
    if rows.size == 0:
        return None
    k = int(np.argmin((rows + r0 - r) ** 2 + (cols + c0 - c) ** 2))
    return int(rows[k] + r0), int(cols[k] + c0)
