"""How tall a building stands when PLATEAU gives no measured height: its storeys × 3 m, else 6 m.

The 3D Tiles, the flat map's extrusions, the offscreen pictures and the population estimate
(floors from a height) all use these, so a building is the same height everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Metres per storey above ground (a planning figure for Japanese buildings, floor to floor).
STOREY_HEIGHT_M = 3.0
#: Height of a building with neither a measured height nor storeys: two storeys.
DEFAULT_HEIGHT_M = 6.0


def drawn_heights(frame: pd.DataFrame) -> np.ndarray:
    """Per row of a buildings table: ``height``, else ``storeys`` × ``STOREY_HEIGHT_M``, else the default."""
    n = len(frame)
    height = frame["height"].to_numpy(float, na_value=np.nan) if "height" in frame else np.full(n, np.nan)
    storeys = frame["storeys"].to_numpy(float, na_value=np.nan) if "storeys" in frame else np.full(n, np.nan)
    fallback = np.where(np.isfinite(storeys) & (storeys > 0), storeys * STOREY_HEIGHT_M, DEFAULT_HEIGHT_M)
    return np.where(np.isfinite(height) & (height > 0), height, fallback)
