"""The official flood depths PLATEAU records on each building, looked up at a place.

PLATEAU gives buildings inside an official inundation area that area's depth at the building
(i-UR ``uro:BuildingRiverFloodingRiskAttribute`` and siblings; 2020 data as generic attributes;
``buildings.parquet``'s ``flood_risks``): river or source name, scale (L1 planned, L2 maximum
assumed), rank and depth. Where a City has no area polygons for a layer (many downloads carry
only the buildings), these are the official answer. A place answers from the building whose
footprint holds it; a place between buildings from the nearest buildings within ``NEARBY_M``
metres (at most ``NEARBY_MAX``), each depth shown as the range over them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from twin import depth_classes

#: i-UR risk kind → the hazard layer it belongs to (PLATEAU's udx folder names).
LAYER_OF_KIND = {"river": "fld", "tsunami": "tnm", "high_tide": "htd", "inland": "ifld", "reservoir": "rfld"}
#: How far (m) from a place between buildings the buildings' depths still describe it: about a
#: street and its two building fronts (a 2-lane street with pavements is 10-16 m wide).
NEARBY_M = 30.0
NEARBY_MAX = 5


@dataclass(frozen=True)
class BuildingDepths:
    """A City's building footprints (local metres) with their flood risks, indexed for point queries."""

    frame: gpd.GeoDataFrame  # gml_id, flood_risks (JSON text); geometry in the City's local CRS
    has_risks: bool  # whether any building records a flood depth or rank

    @classmethod
    def of_table(cls, buildings: gpd.GeoDataFrame, crs: CRS) -> BuildingDepths:
        """From ``buildings.parquet`` (lon/lat) in the City's plane-rectangular ``crs``."""
        frame = buildings[["gml_id", "flood_risks", "geometry"]].copy()
        frame = frame[frame.geometry.notna()].to_crs(crs).reset_index(drop=True)
        flagged = buildings["has_flood_risk"].fillna(False).astype(bool) if "has_flood_risk" in buildings else []
        return cls(frame, bool(np.any(flagged)))

    def at(self, x: float, y: float) -> dict[str, Any] | None:
        """What the buildings say at map point (x, y), in the City's local CRS: None when no
        building holds the point and none lies within ``NEARBY_M``."""
        point = shapely.Point(x, y)
        holding = self.frame.sindex.query(point, predicate="intersects")
        if len(holding):
            rows, basis = holding[:1], "tapped"
            distances = np.zeros(1)
        else:
            near = self.frame.sindex.query(point, predicate="dwithin", distance=NEARBY_M)
            if not len(near):
                return None
            distances = shapely.distance(self.frame.geometry.to_numpy()[near], point)
            order = np.argsort(distances, kind="stable")
            rows, distances, basis = near[order], distances[order], "nearby"
            risky = np.array([bool(_flooding(self.frame["flood_risks"].iat[r])) for r in rows])
            rows, distances = rows[risky][:NEARBY_MAX], distances[risky][:NEARBY_MAX]
            if not len(rows):
                return None
        risks = [(str(self.frame["gml_id"].iat[r]), risk) for r in rows
                 for risk in _flooding(self.frame["flood_risks"].iat[r])]
        return {"source": "building-attributes", "basis": basis, "radius_m": NEARBY_M,
                "buildings": [{"gml_id": str(self.frame["gml_id"].iat[r]), "distance_m": round(float(d), 1)}
                              for r, d in zip(rows, distances)],
                "depths": summarise(risks)}


def _flooding(text: object) -> list[dict[str, Any]]:
    """The flooding entries of one building's ``flood_risks`` JSON (landslide left out)."""
    try:
        risks = json.loads(text) if isinstance(text, str) and text else []
    except json.JSONDecodeError:
        return []
    return [r for r in risks if isinstance(r, dict) and r.get("kind") in LAYER_OF_KIND
            and (r.get("depth_m") is not None or r.get("rank") is not None)]


def summarise(risks: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per (layer, river or source, scale) over the buildings' risks: the depth range, the
    deepest class (from the depth where recorded, else the rank's code list label), deepest first."""
    groups: dict[tuple[str, str | None, str | None], list[tuple[str, dict[str, Any]]]] = {}
    for gml_id, risk in risks:
        groups.setdefault((LAYER_OF_KIND[risk["kind"]], risk.get("source"), risk.get("scale")), []).append(
            (gml_id, risk))
    out = []
    for (layer, source, scale), members in groups.items():
        depths = [float(r["depth_m"]) for _, r in members if r.get("depth_m") is not None]
        ranks = [_rank(r) for _, r in members]
        rank = max((k for k in ranks if k), default=None)
        shown = depth_classes.of_rank(rank) if rank else None
        durations = [float(r["duration_h"]) for _, r in members if r.get("duration_h") is not None]
        coded = isinstance(source, str) and source.isdigit()  # a code the dataset's code lists did not name
        out.append({
            "source": "building-attributes", "layer": layer, "kind": members[0][1]["kind"], "scale": scale,
            "description": None if coded else source, "description_code": source if coded else None,
            "depth_m": max(depths) if depths else None, "depth_min_m": min(depths) if depths else None,
            "buildings": len({g for g, _ in members}),
            "rank_label": next((r.get("rank_label") for _, r in members if r.get("rank_label")), None),
            "depth_class": depth_classes.api_class(rank), "colour": shown.colour if shown else None,
            "class_label_ja": shown.label_ja if shown else None, "class_label_en": shown.label_en if shown else None,
            "duration_h": max(durations) if durations else None,
        })
    return sorted(out, key=lambda d: (-(d["depth_class"] if d["depth_class"] is not None else -1),
                                      -(d["depth_m"] or 0.0), d["layer"], str(d["scale"])))


def _rank(risk: dict[str, Any]) -> int | None:
    """MLIT rank 1–6 of one risk entry: from its depth (however shallow: an official depth is water),
    else from the depth range its own rank list states (``rank_depth_m``, or read from its label);
    rank codes are never compared across lists."""
    depth = risk.get("depth_m")
    stated = risk.get("rank_depth_m")
    rank = depth_classes.official_rank(float(depth) if depth is not None else None,
                                       (float(stated[0]), float(stated[1])) if stated else None)
    return rank if rank is not None else depth_classes.rank_of_label(risk.get("rank_label"))


def official_verdict(areas: list[dict[str, Any]], buildings: dict[str, Any] | None,
                     area_layers: list[str]) -> dict[str, Any]:
    """``buildings`` (the building answer kept only for layers no area covers at the place, None
    when nothing is left) and the ``verdict``: ``in-area`` (an official area holds the place),
    ``building-attributes`` (no area does, buildings there record depths), ``outside-areas`` (the
    City has official areas of ``area_layers``, none holds the place and no building records a
    depth) or ``no-data`` (the City knows nothing of floods here; not that it stays dry)."""
    covered = {a["layer"] for a in areas}
    if buildings is not None:
        kept = [d for d in buildings["depths"] if d["layer"] not in covered]
        tapped_without = buildings["basis"] == "tapped" and not buildings["depths"]
        buildings = {**buildings, "depths": kept} if kept or (tapped_without and not areas) else None
    if areas:
        verdict = "in-area"
    elif buildings is not None and buildings["depths"]:
        verdict = "building-attributes"
    else:
        verdict = "outside-areas" if area_layers else "no-data"
    return {"buildings": buildings, "verdict": verdict}
