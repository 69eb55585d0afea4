"""Draw docs/img/open-data-gpkg.png from a GeoPackage that ``twin export`` wrote, as any GIS would:
the layers read back with pyogrio, nothing else from the twin.

    twin sample-city SRC --buildings 2000 --seed 1 && twin convert SRC -o CITY
    twin flood run --city CITY --scenario river-breach --cell-size 16 --duration 3600 -o FLOOD
    twin export CITY --format gpkg --scenario FLOOD -o city.gpkg
    python docs/img/open_data_gpkg.py city.gpkg docs/img/open-data-gpkg.png
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib
import matplotlib.font_manager

matplotlib.use("Agg")
# Kana and kanji (the attribution) need a CJK font: Debian's fonts-noto-cjk when installed.
NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
if NOTO_CJK.is_file():
    matplotlib.font_manager.fontManager.addfont(str(NOTO_CJK))
    matplotlib.rcParams["font.family"] = ["Noto Sans CJK JP", "sans-serif"]
import matplotlib.pyplot as plt  # noqa: E402
import pyogrio  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

DRY = "#8a94a6"


def main(gpkg: str, out: str) -> None:
    tables = dict(pyogrio.list_layers(gpkg))
    scenario = next(name for name in tables if name.startswith("scenario_"))
    read = lambda name: pyogrio.read_dataframe(gpkg, layer=name) if name in tables else None  # noqa: E731
    buildings, land_use, water, roads, bridges, shelters = (
        read(n) for n in (scenario, "land_use", "water", "roads", "bridges", "shelters"))
    hazards = read(next((n for n in tables if n.startswith("hazards_") and n.endswith("_l2")), ""))

    fig, ax = plt.subplots(figsize=(13.2, 9.46), dpi=100)
    if land_use is not None:
        land_use.plot(ax=ax, color="#eef3e6", edgecolor="#dfe8d2", linewidth=0.2)
    if hazards is not None:
        hazards.plot(ax=ax, color=hazards["flood_class_colour"].fillna("#ffffff"), alpha=0.35, linewidth=0)
    if water is not None:
        water.plot(ax=ax, color="#9cc9ef", edgecolor="#5b9bd5", linewidth=0.4)
    if roads is not None:
        roads.plot(ax=ax, color="#cccccc", linewidth=0)
    if bridges is not None:
        bridges.plot(ax=ax, color="#7a6a58", linewidth=0)
    wet = buildings["simulated_rank"].fillna(0) > 0
    buildings[~wet].plot(ax=ax, color=DRY, linewidth=0)
    buildings[wet].plot(ax=ax, color=buildings.loc[wet, "flood_class_colour"], edgecolor="#333333", linewidth=0.3)
    if shelters is not None:
        flood = shelters[shelters["takes_floods"].astype(bool)]
        flood.plot(ax=ax, marker="^", color="#1f6fd1", edgecolor="white", markersize=90, linewidth=0.6, zorder=5)

    # The view: the buildings, widened to the water bodies beside them (the river the flood comes from).
    x0, y0, x1, y1 = buildings.total_bounds
    if water is not None:
        beside = water.clip((x0, y0 - (y1 - y0), x1, y1 + (y1 - y0)))
        if len(beside):
            wx0, wy0, wx1, wy1 = beside.total_bounds
            y0, y1 = min(y0, wy0), max(y1, wy1)
    pad = 0.04 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad
    # As wide as the figure (1.5 : 1) at this latitude (a degree of longitude is cos(lat) of one of latitude).
    half = 0.75 * (y1 - y0) / math.cos(math.radians((y0 + y1) / 2))
    ax.set_xlim((x0 + x1) / 2 - half, (x0 + x1) / 2 + half)
    ax.set_ylim(y0, y1)

    classes = buildings[wet].drop_duplicates("simulated_rank").sort_values("simulated_rank")
    legend = [Patch(color=c, label=label) for c, label in zip(classes["flood_class_colour"], classes["flood_class_en"])]
    legend += [Patch(color=DRY, label="dry"), Patch(color="#ffd9c7", alpha=0.6, label="official L2 areas (faint, MLIT colours)"),
               Patch(color="#9cc9ef", label="water bodies"), Patch(color="#7a6a58", label="bridges"),
               Patch(color="#eef3e6", label="land use"),
               Line2D([], [], marker="^", color="#1f6fd1", linestyle="", markersize=10, label="flood shelter")]
    ax.legend(handles=legend, loc="lower left", title="simulated depth at each building", framealpha=0.95)
    ax.set_title(f"{gpkg.rsplit('/', 1)[-1]} in a GIS: buildings by simulated depth ({scenario}), official river-flood "
                 "areas (L2), water, bridges, land use, roads, shelters", fontsize=10)
    ax.set_axis_off()
    fig.text(0.01, 0.01, "出典：国土交通省 Project PLATEAU（machi-twin が加工して作成）, CC BY 4.0 — sample city", fontsize=9)
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
