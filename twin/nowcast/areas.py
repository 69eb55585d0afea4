"""Per area "time left to leave": a forecast's buildings grouped by area, each area's worst case.

The areas are the City's named areas when it has some (``twin.sensors.footfall_areas``, the
polygons area management draws), buildings outside all of them in one ``outside`` row; else
the JIS X 0410 地域メッシュ (standard grid square) 1/4 mesh, 7.5″ of latitude × 11.25″ of
longitude (about 250 m):

- 1st mesh (4 digits): ``pp = floor(lat × 1.5)``, ``uu = floor(lon) − 100``; 40′ × 1°.
- 2nd mesh (+2 digits): the 1st split 8 × 8, row ``q`` then column ``v``; 5′ × 7.5′.
- 3rd mesh (+2 digits): the 2nd split 10 × 10, row ``r`` then column ``w``; 30″ × 45″ (≈1 km).
- 1/2 mesh (+1 digit) and 1/4 mesh (+1 digit): each split 2 × 2, numbered 1 south-west,
  2 south-east, 3 north-west, 4 north-east.

So a 1/4 mesh code has 10 digits, ``ppuuqvrwab``. Per area: the buildings in it, those the
water reaches at the alert depth, the least time left to leave (the worst building, with its
id), how many have less than 0 s (too late: the water comes before the walk ends) and how many
the water reaches with no shelter reachable on foot (no time left to leave can be given).
Buildings without a centroid form an ``unplaced`` row.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import shapely

from twin.sensors.footfall_areas import Area

#: The 1/4 mesh's size: 7.5″ of latitude, 11.25″ of longitude (JIS X 0410 地域メッシュ).
QUARTER_MESH_DEG = (7.5 / 3600, 11.25 / 3600)
MESH_KIND = "JIS X 0410 1/4 地域メッシュ (250 m)"
OUTSIDE = {"id": "outside", "name": "名前のある区域の外", "name_en": "outside the named areas"}
UNPLACED = {"id": "unplaced", "name": "位置不明", "name_en": "no location"}  # buildings without a centroid


def quarter_mesh(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per point its 1/4 mesh code (10 digits) and the mesh's south-west corner (lon, lat)."""
    # whole 1/4 meshes north of the equator and east of 100° E
    rows = np.floor(np.asarray(lat, float) * 3600 / 7.5 + 1e-9).astype(np.int64)
    cols = np.floor((np.asarray(lon, float) - 100) * 3600 / 11.25 + 1e-9).astype(np.int64)
    p, rest_r = np.divmod(rows, 320)  # a 1st mesh is 8 × 10 × 2 × 2 = 320 quarter meshes a side
    u, rest_c = np.divmod(cols, 320)
    q, rest_r = np.divmod(rest_r, 40)  # a 2nd mesh, 10 × 2 × 2
    v, rest_c = np.divmod(rest_c, 40)
    r, rest_r = np.divmod(rest_r, 4)  # a 3rd mesh, 2 × 2
    w, rest_c = np.divmod(rest_c, 4)
    half = 1 + 2 * (rest_r // 2) + rest_c // 2
    quarter = 1 + 2 * (rest_r % 2) + rest_c % 2
    codes = np.array([f"{a:02d}{b:02d}{c}{d}{e}{f}{g}{h}" for a, b, c, d, e, f, g, h
                      in zip(p, u, q, v, r, w, half, quarter)], dtype=object)
    return codes, cols * QUARTER_MESH_DEG[1] + 100, rows * QUARTER_MESH_DEG[0]


def area_table(buildings: pd.DataFrame, areas: list[Area]) -> dict[str, Any]:
    """The forecast's per-building table (``time_to_leave_s``, ``alert_in_s``, ``walk_s``,
    centroids) summed up per area, least time left first (areas the water does not reach last)."""
    lon = buildings["centroid_lon"].to_numpy(float)
    lat = buildings["centroid_lat"].to_numpy(float)
    placed = np.isfinite(lon) & np.isfinite(lat)
    described: dict[str, dict[str, Any]] = {UNPLACED["id"]: {**UNPLACED, "bounds": None}}
    if areas:
        keys = np.full(len(buildings), OUTSIDE["id"], dtype=object)
        for area in reversed(areas):  # the first area listed wins where areas overlap
            keys[shapely.contains_xy(area.geometry, lon, lat)] = area.id
        described |= {a.id: {"id": a.id, "name": a.name, "name_en": a.name_en,
                             "bounds": [round(b, 6) for b in a.geometry.bounds]} for a in areas}
        described[OUTSIDE["id"]] = {**OUTSIDE, "bounds": None}
        kind = "named areas"
    else:
        keys, west, south = quarter_mesh(np.where(placed, lon, 100.0), np.where(placed, lat, 0.0))
        d_lat, d_lon = QUARTER_MESH_DEG
        described |= {k: {"id": k, "name": k, "name_en": k,
                          "bounds": [round(x, 6), round(y, 6), round(x + d_lon, 6), round(y + d_lat, 6)]}
                      for k, x, y in zip(keys[placed], west[placed], south[placed])}
        kind = MESH_KIND
    keys = np.where(placed, keys, UNPLACED["id"])
    rows = []
    frame = buildings.assign(area=keys)
    for key, group in frame.groupby("area", sort=False):
        leave = group["time_to_leave_s"].to_numpy(float)
        reached = group["alert_in_s"].notna().to_numpy()
        finite = np.isfinite(leave)
        worst = int(np.argmin(np.where(finite, leave, np.inf))) if finite.any() else None
        rows.append({**described[str(key)], "buildings": int(len(group)), "at_alert_depth": int(reached.sum()),
                     "min_time_to_leave_s": None if worst is None else round(float(leave[worst]), 1),
                     "worst_building": None if worst is None else str(group["gml_id"].iloc[worst]),
                     "too_late": int((leave < 0).sum()),
                     "no_shelter": int((reached & group["walk_s"].isna().to_numpy()).sum())})
    rows.sort(key=lambda a: (a["min_time_to_leave_s"] is None,
                             a["min_time_to_leave_s"] if a["min_time_to_leave_s"] is not None else math.inf,
                             a["id"]))
    return {"areas_from": kind, "areas": rows}
