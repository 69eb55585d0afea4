"""CityJSON 2.0 of a City's buildings: LOD1 and LOD2 solids with semantic surfaces and attributes.

The geometry comes from the City's PLATEAU inputs (``source_datasets``), read again with ``citygml`` (the
City folder keeps footprints and meshes, not the CityGML solids), for the buildings the
City holds. Vertices are in the City's plane-rectangular CRS (easting, northing; x, y as
CityJSON orders them) with PLATEAU's orthometric heights, in millimetres from a translation
(CityJSON §"Transform Object"); the reference system is the matching compound EPSG CRS
(zones I–XIII: EPSG:10162–10174, "JGD2011 / Japan Plane Rectangular CS N + JGD2011 (vertical)
height"), the plane CRS alone for zones XIV–XIX, which have no compound code.

Semantic surfaces: LOD2 surfaces keep PLATEAU's (RoofSurface, WallSurface, GroundSurface, …),
matched to the polygons of ``bldg:lod2Solid`` by id. LOD1 solids carry none in PLATEAU; each
face is classed by its normal (Newell's method): facing up a RoofSurface, down a GroundSurface,
otherwise a WallSurface.

The file is written object by object; vertices are kept as int32 triples (12 bytes each) until
the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from citygml.dataset import open_dataset
from citygml.model import Code, Feature, Geometry, Polygon
from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.files.atomic import replacing
from twin.lonlat import from_lonlat
from twin.opendata import licence

VERSION = "2.0"
SCALE = 0.001  # metres per vertex unit: millimetres
#: |z| of a unit normal above which an LOD1 face is a roof (up) or a ground (down) surface.
HORIZONTAL = 0.5
_PLANE_EPSG = range(6669, 6688)  # JGD2011 / Japan Plane Rectangular CS I–XIX
_COMPOUND_ZONES = 13  # zones I–XIII have compound codes 10162–10174
_OGC_EPSG = "https://www.opengis.net/def/crs/EPSG/0/"


def reference_system(plane: CRS) -> str:
    """The CityJSON ``referenceSystem`` URL of a plane-rectangular CRS with PLATEAU's heights."""
    epsg = plane.to_epsg()
    if epsg is None or epsg not in _PLANE_EPSG:
        raise TwinInputError(f"CityJSON export needs a JGD2011 plane-rectangular CRS, not {plane.name}")
    zone = epsg - 6668
    return f"{_OGC_EPSG}{10161 + zone}" if zone <= _COMPOUND_ZONES else f"{_OGC_EPSG}{epsg}"


def source_datasets(city: CityFolder) -> list[Path]:
    """The City's PLATEAU inputs (the manifest's ``inputs`` of kind ``plateau``; a City converted before
    several inputs existed names one ``source``), those still where they were converted from."""
    inputs = city.manifest.get("inputs")
    if isinstance(inputs, list):
        paths = [Path(str(i["path"])) for i in inputs if isinstance(i, dict) and i.get("kind") == "plateau" and i.get("path")]
    else:
        paths = [Path(str(city.manifest["source"]))] if city.manifest.get("source") else []
    return [p for p in paths if p.exists()]


def write_cityjson(city: CityFolder, out: Path, source: Path | None = None) -> dict[str, int]:
    """The City's buildings as CityJSON 2.0 at ``out`` (read from ``source``, else from the City's PLATEAU
    inputs); counts of objects and geometries written."""
    if not city.has("buildings"):
        raise TwinInputError(f"{city.path}: the City has no buildings; CityJSON holds the buildings (export its "
                             "other layers with --format gpkg)")
    datasets = [source] if source is not None else source_datasets(city)
    if not datasets or not all(p.exists() for p in datasets):
        raise TwinInputError(f"{city.path}: the City's PLATEAU source dataset is not here; "
                             "give it with --source PATH (CityJSON is built from the CityGML solids)")
    plane = city.local_crs
    table = pd.read_parquet(city.require("buildings"), columns=["gml_id", "max_flood_depth", "max_flood_rank"])
    wanted = table.set_index("gml_id")
    origin = _origin(city, plane)
    writer = _Writer(plane, origin)
    with replacing(out) as tmp, tmp.open("w", encoding="utf-8") as file:
        file.write('{"type":"CityJSON","version":"2.0","CityObjects":{')
        first, written = True, set()
        for path in datasets:
            with open_dataset(path) as dataset:
                for feature in dataset.features(types=["bldg"], textures=False):
                    if feature.element != "Building" or feature.gml_id not in wanted.index or feature.gml_id in written:
                        continue
                    written.add(feature.gml_id)  # inputs that overlap hold some buildings twice
                    for ident, body in writer.objects(feature, wanted.loc[feature.gml_id]):
                        file.write(("" if first else ",\n") + json.dumps(ident, ensure_ascii=False) + ":"
                                   + json.dumps(body, ensure_ascii=False, separators=(",", ":")))
                        first = False
        file.write('},"vertices":[')
        writer.write_vertices(file)
        file.write("],")
        tail = {"transform": {"scale": [SCALE, SCALE, SCALE], "translate": list(origin)},
                "metadata": {"title": f"{city.manifest.get('name') or city.id}: 建築物 / buildings. "
                                      f"{licence.attribution(city.manifest).one_line()}",
                             "identifier": city.id, "referenceSystem": reference_system(plane),
                             "geographicalExtent": writer.extent()}}
        file.write(json.dumps(tail, ensure_ascii=False)[1:] + "\n")
    return {"buildings": writer.buildings, "parts": writer.parts, "geometries": writer.geometries,
            "vertices": writer.vertex_count}


def _origin(city: CityFolder, plane: CRS) -> tuple[float, float, float]:
    """A round translation near the City's south-west corner (vertices then fit int32 millimetres)."""
    west, south, _, _ = city.manifest.get("bbox") or (139.0, 35.0, 0, 0)
    x, y = from_lonlat(plane).transform(west, south)
    return float(np.floor(x / 1000) * 1000), float(np.floor(y / 1000) * 1000), 0.0


class _Writer:
    """Turns features into CityObjects, collecting their vertices."""

    def __init__(self, plane: CRS, origin: tuple[float, float, float]) -> None:
        self._to_plane = from_lonlat(plane)
        self._origin = np.array(origin)
        self._chunks: list[np.ndarray] = []
        self.vertex_count = 0
        self.buildings = self.parts = self.geometries = 0
        self._low = np.full(3, np.inf)
        self._high = np.full(3, -np.inf)

    def objects(self, feature: Feature, row: pd.Series) -> Iterator[tuple[str, dict[str, Any]]]:
        """The Building and its BuildingParts as (id, CityObject)."""
        children = [part.gml_id for part in feature.parts]
        body: dict[str, Any] = {"type": "Building", "attributes": {**_attributes(feature), **_flood(row)},
                                "geometry": self._geometries(feature)}
        if children:
            body["children"] = children
        self.buildings += 1
        yield feature.gml_id, body
        for part in feature.parts:
            self.parts += 1
            yield part.gml_id, {"type": "BuildingPart", "parents": [feature.gml_id],
                                "attributes": _attributes(part), "geometry": self._geometries(part)}

    def _geometries(self, feature: Feature) -> list[dict[str, Any]]:
        found = []
        lod1 = feature.geometry(1, "Solid")
        if lod1 is not None and lod1.polygons():
            polygons = lod1.polygons()
            found.append(self._solid(polygons, [_lod1_semantic(ring) for ring in self._exteriors(polygons)], "1"))
        lod2 = feature.geometry(2, "Solid")
        bounded = feature.geometry(2, "boundedBy")
        if lod2 is not None and lod2.polygons():
            kinds = _semantics_by_id(bounded)
            found.append(self._solid(lod2.polygons(), [kinds.get(p.id or "", "") for p in lod2.polygons()], "2"))
        elif bounded is not None and bounded.polygons():
            found.append(self._surfaces(bounded))
        self.geometries += len(found)
        return found

    def _solid(self, polygons: list[Polygon], kinds: list[str], lod: str) -> dict[str, Any]:
        surfaces = self._boundaries(polygons)
        body: dict[str, Any] = {"type": "Solid", "lod": lod, "boundaries": [surfaces]}
        if any(kinds):
            types = sorted({k for k in kinds if k})
            body["semantics"] = {"surfaces": [{"type": t} for t in types],
                                 "values": [[types.index(k) if k else None for k in kinds]]}
        return body

    def _surfaces(self, bounded: Geometry) -> dict[str, Any]:
        surfaces = self._boundaries(bounded.polygons())
        kinds = [surface.semantic for surface in bounded.surfaces for _ in surface.polygons]
        types = sorted({k for k in kinds if k})
        return {"type": "MultiSurface", "lod": "2", "boundaries": surfaces,
                "semantics": {"surfaces": [{"type": t} for t in types],
                              "values": [types.index(k) if k else None for k in kinds]}}

    def _plane(self, points: np.ndarray) -> np.ndarray:
        """(lat, lon, h) rows as plane coordinates (x east, y north, z height), metres."""
        x, y = self._to_plane.transform(points[:, 1], points[:, 0])
        return np.column_stack([x, y, points[:, 2]])

    def _exteriors(self, polygons: list[Polygon]) -> list[np.ndarray]:
        """Each polygon's exterior ring in plane coordinates (one transformation for all)."""
        metric = self._plane(np.concatenate([p.exterior for p in polygons]))
        return np.split(metric, np.cumsum([len(p.exterior) for p in polygons])[:-1])

    def _boundaries(self, polygons: list[Polygon]) -> list[list[list[int]]]:
        """Each polygon's rings as vertex indices; the vertices (one transformation, duplicates merged) are kept."""
        rings = [ring for p in polygons for ring in (p.exterior, *p.interiors)]
        metric = self._plane(np.concatenate(rings))
        self._low = np.minimum(self._low, metric.min(axis=0))
        self._high = np.maximum(self._high, metric.max(axis=0))
        units = np.round((metric - self._origin) / SCALE).astype(np.int64)
        if np.abs(units).max(initial=0) >= 2**31:
            raise TwinInputError("CityJSON export: a vertex lies more than 2,147 km from the City's origin")
        unique, inverse = np.unique(units, axis=0, return_inverse=True)
        self._chunks.append(unique.astype(np.int32))
        indices = (inverse.reshape(-1) + self.vertex_count).tolist()
        self.vertex_count += len(unique)
        ends = np.cumsum([len(r) for r in rings]).tolist()
        as_lists = [indices[a:b] for a, b in zip([0, *ends[:-1]], ends)]
        out, k = [], 0
        for polygon in polygons:
            count = 1 + len(polygon.interiors)
            out.append(as_lists[k:k + count])
            k += count
        return out

    def write_vertices(self, file) -> None:
        first = True
        for chunk in self._chunks:
            text = ",".join(f"[{x},{y},{z}]" for x, y, z in chunk.tolist())
            if text:
                file.write(("" if first else ",") + text)
                first = False

    def extent(self) -> list[float]:
        if not np.isfinite(self._low).all():
            return [0.0] * 6
        return [round(float(v), 3) for v in (*self._low, *self._high)]


def _semantics_by_id(bounded: Geometry | None) -> dict[str, str]:
    if bounded is None:
        return {}
    return {p.id: s.semantic for s in bounded.surfaces for p in s.polygons if p.id and s.semantic}


def _lod1_semantic(ring: np.ndarray) -> str:
    """RoofSurface, GroundSurface or WallSurface by the ring's outward normal (Newell's method)."""
    following = np.roll(ring, -1, axis=0)
    normal = np.array([np.sum((ring[:, 1] - following[:, 1]) * (ring[:, 2] + following[:, 2])),
                       np.sum((ring[:, 2] - following[:, 2]) * (ring[:, 0] + following[:, 0])),
                       np.sum((ring[:, 0] - following[:, 0]) * (ring[:, 1] + following[:, 1]))])
    length = np.linalg.norm(normal)
    if length == 0:
        return "WallSurface"
    z = normal[2] / length
    return "RoofSurface" if z > HORIZONTAL else "GroundSurface" if z < -HORIZONTAL else "WallSurface"


def _attributes(feature: Feature) -> dict[str, Any]:
    """The feature's decoded attributes: a coded value as its label, with the code beside it."""
    out: dict[str, Any] = {}
    for name, value in feature.attributes.items():
        if isinstance(value, Code):
            out[name] = value.label if value.label is not None else value.code
            out[f"{name}_code"] = value.code
        elif isinstance(value, str | int | float | bool):
            out[name] = value
    return out


def _flood(row: pd.Series) -> dict[str, Any]:
    depth, rank = row.get("max_flood_depth"), row.get("max_flood_rank")
    out: dict[str, Any] = {}
    if depth is not None and np.isfinite(depth):
        out["max_flood_depth"] = float(depth)
    if rank is not None and np.isfinite(rank):
        out["max_flood_rank"] = int(rank)
    return out
