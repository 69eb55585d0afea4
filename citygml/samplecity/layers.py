"""The dataset's files, layer by layer: which file holds what, and its features built on demand.

A file's gml:ids come from a generator seeded by (seed, file), so each file can be built
alone, in any order, as often as asked, and comes out the same: the writer builds one file,
writes it and lets it go, so memory does not grow with the city.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from citygml.meshcode import mesh_bbox, mesh_code
from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon, Surface
from citygml.samplecity.bridges import DECK_THICKNESS, BridgePlan
from citygml.samplecity.codelist_extra import label
from citygml.samplecity.features import BuildingBuilder, Ids, prism
from citygml.samplecity.floodmap import flood_runs
from citygml.samplecity.gmlwriter import CREATION_DATE
from citygml.samplecity.hazards import SCENARIOS, FloodScenario
from citygml.samplecity.river import RIVER_CLASS, RIVER_NAME, water_pieces
from citygml.samplecity.site import HEIGHT_DECIMALS
from citygml.samplecity.terrain import river_water_level
from citygml.samplecity.town import Town


class Layer(Protocol):
    """Files of one kind (``udx/<type>/…``) and the features each holds."""

    def paths(self) -> list[str]: ...

    def features(self, rel: str, ids: Ids) -> list[Feature]: ...


def layers(town: Town) -> list[Layer]:
    grid = _grid_latlon(town)
    return [BuildingFiles(town), ReliefFiles(town, grid), RoadFiles(town), FloodFiles(town, grid),
            BridgeFiles(town), RiverFiles(town), LandUseFiles(town)]


def _grid_latlon(town: Town) -> np.ndarray:
    """(lat, lon) of every DEM grid vertex, (ny, nx, 2)."""
    gx, gy = np.meshgrid(town.terrain.xs, town.terrain.ys)
    lat, lon = town.site.to_latlon(gx, gy)
    return np.stack([lat, lon], axis=-1)


def _in_mesh(lat: np.ndarray, lon: np.ndarray, mesh: str) -> np.ndarray:
    """Points in a mesh, its south and west edges included (each point in exactly one mesh)."""
    west, south, east, north = mesh_bbox(mesh)
    return (lat >= south) & (lat < north) & (lon >= west) & (lon < east)


def _meshes(town: Town, x: ArrayLike, y: ArrayLike, level: int) -> list[str]:
    lat, lon = town.site.to_latlon(np.asarray(x, float), np.asarray(y, float))
    return [mesh_code(float(a), float(o), level) for a, o in zip(lat, lon)]


def _creation(town: Town) -> dict[str, object]:
    return {"creationDate": CREATION_DATE} if town.iur == "3.1" else {}


# -- buildings ------------------------------------------------------------------------------


class BuildingFiles:
    """One file per 3rd-order mesh holding building centroids; LOD2 buildings' atlases beside."""

    def __init__(self, town: Town) -> None:
        self.town = town
        plans = town.plans
        meshes = _meshes(town, [p.centroid[0] for p in plans], [p.centroid[1] for p in plans], 3)
        self.groups: dict[str, list[int]] = defaultdict(list)
        for k, mesh in enumerate(meshes):
            self.groups[f"udx/bldg/{mesh}_bldg_6697_op.gml"].append(k)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        town = self.town
        plans = [town.plans[k] for k in self.groups[rel]]
        builder = BuildingBuilder(town.site, town.iur, ids, town.textures)
        mesh = rel.rsplit("/", 1)[1].split("_", 1)[0]
        return [builder.build(p, outlines, mesh, town.risks[p.number])
                for p, outlines in zip(plans, _footprints_latlon(town, plans))]

    def images(self, rel: str) -> list[tuple[str, int]]:
        """(image path, building number) of the textured LOD2 buildings of a file."""
        if not self.town.textures or rel not in self.groups:
            return []
        folder = rel.removesuffix("_op.gml") + "_appearance"  # as BuildingBuilder names them
        city = self.town.site.city_code
        return [(f"{folder}/{city}-bldg-{p.number}.png", p.number)
                for p in (self.town.plans[k] for k in self.groups[rel]) if p.lod2]


def _footprints_latlon(town: Town, plans) -> list[list[np.ndarray]]:
    """Every part's outline in (lat, lon), converted in one batch."""
    outlines = [part.footprint for p in plans for part in p.parts]
    if not outlines:
        return []
    points = np.concatenate(outlines)
    lat, lon = town.site.to_latlon(points[:, 0], points[:, 1])
    pieces = np.split(np.column_stack([lat, lon]), np.cumsum([len(o) for o in outlines])[:-1])
    result, k = [], 0
    for p in plans:
        result.append(pieces[k : k + len(p.parts)])
        k += len(p.parts)
    return result


# -- terrain --------------------------------------------------------------------------------


class ReliefFiles:
    """The TIN, one file per 2nd-order mesh; a triangle goes where its centroid lies."""

    def __init__(self, town: Town, grid: np.ndarray) -> None:
        self.town = town
        self.vertices = np.column_stack([grid.reshape(-1, 2), town.terrain.z.ravel()])
        self.triangles = town.terrain.triangles()
        centroids = self.vertices[self.triangles].mean(axis=1)
        self.groups = {}
        for mesh in town.site.meshes(2):
            chosen = np.flatnonzero(_in_mesh(centroids[:, 0], centroids[:, 1], mesh))
            if len(chosen):
                self.groups[f"udx/dem/{mesh}_dem_6697_op.gml"] = (mesh, chosen)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        mesh, chosen = self.groups[rel]
        feature = Feature(ids("dem"), "dem", "ReliefFeature", attributes={"name": mesh, "lod": "1"})
        feature.geometries.append(Geometry(1, "TIN", triangles=self.vertices[self.triangles[chosen]]))
        return [feature]


# -- roads ----------------------------------------------------------------------------------


class RoadFiles:
    """One Road per street and 3rd-order mesh; vertices take the TIN height."""

    def __init__(self, town: Town) -> None:
        self.town = town
        pieces = [(k, piece) for k, road in enumerate(town.grid.roads) for piece in road.polygons]
        points = [piece.representative_point() for _, piece in pieces]
        meshes = _meshes(town, [p.x for p in points], [p.y for p in points], 3)
        by_file: dict[str, dict[int, list]] = defaultdict(dict)
        for (k, piece), mesh in zip(pieces, meshes):
            by_file[f"udx/tran/{mesh}_tran_6697_op.gml"].setdefault(k, []).append(piece)
        self.groups = dict(by_file)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        town, iur = self.town, self.town.iur
        roads = self.groups[rel]
        rings = [np.asarray(piece.exterior.coords)[:-1] for pieces in roads.values() for piece in pieces]
        points = np.concatenate(rings)
        lat, lon = town.site.to_latlon(points[:, 0], points[:, 1])
        h = np.round(town.terrain.height_at(points[:, 0], points[:, 1]), HEIGHT_DECIMALS)
        rows = iter(np.split(np.column_stack([lat, lon, h]), np.cumsum([len(r) for r in rings])[:-1]))
        features = []
        for k, pieces in roads.items():
            main = town.grid.roads[k].main
            function, usage = ("3", "2") if main else ("4", "9")
            feature = Feature(ids("tran"), "tran", "Road", attributes=_creation(town))
            feature.attributes.update({
                "class": Code("1040", label(iur, "TransportationComplex_class", "1040")),
                "function": Code(function, label(iur, "Road_function", function)),
                "usage": Code(usage, label(iur, "Road_usage", usage)),
            })
            polygons = [Polygon(next(rows)) for _ in pieces]
            feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", polygons)]))
            features.append(feature)
        return features


# -- official flood extents -----------------------------------------------------------------


class FloodFiles:
    """Per river and scale, one WaterBody per (3rd-order mesh, depth rank)."""

    def __init__(self, town: Town, grid: np.ndarray) -> None:
        self.town = town
        self.groups: dict[str, dict[str, tuple[FloodScenario, list[Polygon]]]] = {}
        for scenario in SCENARIOS:
            surface = scenario.surface(town.terrain.xs)
            runs = flood_runs(town.terrain, town.site, scenario)
            by_key: dict[tuple[str, str], list[Polygon]] = defaultdict(list)
            for run in runs:
                j, i0, i1 = run.j, run.i0, run.i1
                corners = np.array([grid[j, i0], grid[j, i1], grid[j + 1, i1], grid[j + 1, i0]])
                heights = [surface[i0], surface[i1], surface[i1], surface[i0]]
                centre = corners.mean(axis=0)
                by_key[(mesh_code(float(centre[0]), float(centre[1]), 3), run.rank)].append(
                    Polygon(np.column_stack([corners, heights])))
            level = scenario.scale.lower()
            for (mesh, rank), polygons in sorted(by_key.items()):
                rel = f"udx/fld/{scenario.river.folder}/{mesh}_fld_6697_{level}_op.gml"
                self.groups.setdefault(rel, {})[rank] = (scenario, polygons)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        iur = self.town.iur
        features = []
        for rank, (scenario, polygons) in self.groups[rel].items():
            river = scenario.river
            feature = Feature(ids("fld"), "fld", "WaterBody")
            feature.attributes.update({
                "name": river.name,
                "class": Code("1140", label(iur, "WaterBody_class", "1140")),
                "function": Code("1", label(iur, "WaterBody_function", "1")),
            })
            if iur == "1.4":
                feature.attributes.update({"規模": scenario.scale, "浸水ランク": rank})
            else:
                lists = "RiverFloodingRiskAttribute" if iur == "3.1" else "WaterBodyRiverFloodingRiskAttribute"
                rank_list = f"{lists}_rank" if iur == "3.1" else f"{lists}_rankOrg"
                feature.risks.append(HazardRisk(
                    "river",
                    source=Code(river.code, river.name),
                    scale=scenario.scale,
                    rank=Code(rank, label(iur, rank_list, rank)),
                    admin_type=Code(river.admin_type, label(iur, f"{lists}_adminType", river.admin_type)),
                ))
            feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", list(polygons))]))
            features.append(feature)
        return features


# -- bridges --------------------------------------------------------------------------------


class BridgeFiles:
    """Bridges in the file of the 3rd-order mesh holding the deck's centre."""

    def __init__(self, town: Town) -> None:
        self.town = town
        frame = town.grid.frame
        centres = [frame.to_xy((b.u0 + b.u1) / 2, (b.v[0] + b.v[3]) / 2) for b in town.bridges]
        meshes = _meshes(town, [c[0] for c in centres], [c[1] for c in centres], 3)
        self.groups: dict[str, list[BridgePlan]] = defaultdict(list)
        for bridge, mesh in zip(town.bridges, meshes):
            self.groups[f"udx/brid/{mesh}_brid_6697_op.gml"].append(bridge)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        return [self._bridge(b, ids) for b in self.groups[rel]]

    def _bridge(self, b: BridgePlan, ids: Ids) -> Feature:
        town, iur = self.town, self.town.iur
        feature = Feature(ids("brid"), "brid", "Bridge", attributes=_creation(town))
        feature.attributes.update({
            "class": Code(b.bridge_class, label(iur, "Bridge_class", b.bridge_class)),
            "function": Code("01", label(iur, "Bridge_function", "01")),
            "yearOfConstruction": b.year,
        })
        edges = b.stations(town.grid.frame)  # (2 sides, 4 stations, 2)
        lat, lon = town.site.to_latlon(edges[..., 0], edges[..., 1])
        ll = np.stack([lat, lon], axis=-1)
        top = np.array(b.heights)
        bottom = np.round(top - DECK_THICKNESS, HEIGHT_DECIMALS)
        outline = np.array([ll[0, 0], ll[1, 0], ll[1, 3], ll[0, 3]])  # counter-clockwise
        feature.geometries.append(Geometry(1, "Solid", [Surface("", prism(outline, b.water, float(top.max())))]))
        surfaces = _deck_surfaces(ll, top, bottom, ids)
        solid = [p for s in surfaces for p in s.polygons]
        feature.geometries.append(Geometry(2, "Solid", [Surface("", solid)]))
        feature.geometries.append(Geometry(2, "boundedBy", surfaces))
        return feature


def _deck_surfaces(ll: np.ndarray, top: np.ndarray, bottom: np.ndarray, ids: Ids) -> list[Surface]:
    """The deck as a closed solid: floor on top, ceiling beneath, walls along the sides and ends.

    ``ll`` is (side u0/u1, station 0..3, lat/lon); ring orientation follows the LOD2 buildings'
    (outward normals, counter-clockwise seen from outside).
    """
    def at(side: int, station: int, h: np.ndarray) -> list[float]:
        return [*ll[side, station], float(h[station])]

    floors = [np.array([at(0, i, top), at(1, i, top), at(1, i + 1, top), at(0, i + 1, top)]) for i in range(3)]
    ceilings = [np.array([at(0, i, bottom), at(0, i + 1, bottom), at(1, i + 1, bottom), at(1, i, bottom)])
                for i in range(3)]
    east = [at(1, i, bottom) for i in range(4)] + [at(1, i, top) for i in reversed(range(4))]
    west = [at(0, i, bottom) for i in reversed(range(4))] + [at(0, i, top) for i in range(4)]
    south = [at(0, 0, bottom), at(1, 0, bottom), at(1, 0, top), at(0, 0, top)]
    north = [at(1, 3, bottom), at(0, 3, bottom), at(0, 3, top), at(1, 3, top)]
    walls = [np.array(w) for w in (east, west, south, north)]
    made = []
    for semantic, rings in (("OuterFloorSurface", floors), ("OuterCeilingSurface", ceilings), ("WallSurface", walls)):
        polygons = [Polygon(r, id=ids("poly"), ring_id=ids("ring")) for r in rings]
        made.append(Surface(semantic, polygons, id=ids("surf")))
    return made


# -- the river ------------------------------------------------------------------------------


class RiverFiles:
    """The river's water, one WaterBody per 2nd-order mesh it crosses."""

    def __init__(self, town: Town) -> None:
        self.town = town
        pieces = water_pieces(town.site)
        centres = [p.ring.mean(axis=0) for p in pieces]
        meshes = _meshes(town, [c[0] for c in centres], [c[1] for c in centres], 2)
        self.groups: dict[str, list] = defaultdict(list)
        for piece, mesh in zip(pieces, meshes):
            self.groups[f"udx/wtr/{mesh}_wtr_6697_op.gml"].append(piece)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        town = self.town
        polygons = []
        for piece in self.groups[rel]:
            lat, lon = town.site.to_latlon(piece.ring[:, 0], piece.ring[:, 1])
            polygons.append(Polygon(np.column_stack([lat, lon, river_water_level(piece.ring[:, 0])])))
        feature = Feature(ids("wtr"), "wtr", "WaterBody", attributes={"name": RIVER_NAME, **_creation(town)})
        feature.attributes["class"] = Code(RIVER_CLASS, label(town.iur, "WaterBody_class", RIVER_CLASS))
        feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", polygons)]))
        return [feature]


# -- land use -------------------------------------------------------------------------------


class LandUseFiles:
    """Land-use polygons (height 0, as PLATEAU's 2D land use), one file per 2nd-order mesh."""

    def __init__(self, town: Town) -> None:
        self.town = town
        centres = [max(p.rings, key=len).mean(axis=0) for p in town.land_use]
        meshes = _meshes(town, [c[0] for c in centres], [c[1] for c in centres], 2)
        self.groups: dict[str, list] = defaultdict(list)
        for plan, mesh in zip(town.land_use, meshes):
            self.groups[f"udx/luse/{mesh}_luse_6697_op.gml"].append(plan)

    def paths(self) -> list[str]:
        return list(self.groups)

    def features(self, rel: str, ids: Ids) -> list[Feature]:
        town = self.town
        plans = self.groups[rel]
        rings = [r for p in plans for r in p.rings]
        points = np.concatenate(rings)
        lat, lon = town.site.to_latlon(points[:, 0], points[:, 1])
        rows = iter(np.split(np.column_stack([lat, lon, np.zeros(len(points))]), np.cumsum([len(r) for r in rings])[:-1]))
        features = []
        for plan in plans:
            feature = Feature(ids("luse"), "luse", "LandUse", attributes=_creation(town))
            feature.attributes["class"] = Code(plan.code, label(town.iur, "Common_landUseType", plan.code))
            polygons = [Polygon(next(rows)) for _ in plan.rings]
            feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", polygons)]))
            features.append(feature)
        return features


def all_paths(layer_list: list[Layer]) -> Iterator[tuple[str, Layer]]:
    """Every file with its layer, sorted by path."""
    return iter(sorted(((rel, layer) for layer in layer_list for rel in layer.paths()), key=lambda t: t[0]))
