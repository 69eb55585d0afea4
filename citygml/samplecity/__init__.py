"""A synthetic but PLATEAU-conformant city (bldg, dem, tran, fld, codelists, shelters).

``plan`` builds everything in memory as the reader's model; ``generate`` writes it out.
Same arguments, same bytes.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citygml.meshcode import mesh_code
from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon, Surface
from citygml.samplecity.buildings import BuildingPlan, plan_buildings
from citygml.samplecity.codelist_data import label, write_codelists
from citygml.samplecity.features import BuildingBuilder, Ids, Risk
from citygml.samplecity.floodmap import flood_runs
from citygml.samplecity.gmlwriter import CREATION_DATE, URO_NAMESPACES, Writer
from citygml.samplecity.hazards import SCENARIOS, depth_rank, make_inland_flood
from citygml.samplecity.shelters import Shelter, choose_shelters, make_shelter, write_shelters
from citygml.samplecity.site import HEIGHT_DECIMALS, Site
from citygml.samplecity.streets import make_streets
from citygml.samplecity.terrain import Terrain, make_terrain, scarp_y
from citygml.samplecity.textures import atlas, write_atlas

__all__ = ["CityPlan", "SampleCity", "generate", "plan", "IUR_VERSIONS"]

IUR_VERSIONS = tuple(URO_NAMESPACES)
HIGH_GROUND = 14.0  # m T.P.: the terrace, above every flood assumption here
Progress = Callable[[int, int, str], None]


@dataclass
class CityPlan:
    """The whole dataset in memory: features per file (relative path), images, shelters."""

    site: Site
    iur: str
    files: dict[str, list[Feature]]
    images: dict[str, np.ndarray]
    shelters: list[Shelter]
    terrain: Terrain

    def features(self, types: set[str] | None = None) -> Iterator[Feature]:
        for features in self.files.values():
            for f in features:
                if types is None or f.type in types:
                    yield f


@dataclass
class SampleCity:
    """What ``generate`` wrote, with summary numbers."""

    out: Path
    counts: dict[str, int]
    bbox: tuple[float, float, float, float]  # west, south, east, north (degrees)
    buildings_with_flood_risk: int
    lod2_buildings: int
    files: list[Path]
    bytes_written: int
    seconds: float
    plan: CityPlan = field(repr=False)

    @property
    def features(self) -> Iterator[Feature]:
        return self.plan.features()


def plan(buildings: int = 2000, seed: int = 0, iur: str = "3.1", textures: bool = True) -> CityPlan:
    """Lay out the city and build every feature as the reader should return it."""
    if iur not in URO_NAMESPACES:
        raise ValueError(f"unknown i-UR generation {iur!r}; expected one of {', '.join(IUR_VERSIONS)}")
    if buildings < 0:
        raise ValueError("the number of buildings cannot be negative")
    site = Site()
    rng = np.random.default_rng(seed)
    terrain = make_terrain(site, rng)
    grid = make_streets(site, rng)
    plans = plan_buildings(site, grid, terrain, buildings, rng)
    inland = make_inland_flood(site.width, site.height, rng)
    ids = Ids(seed)
    files: dict[str, list[Feature]] = defaultdict(list)
    images: dict[str, np.ndarray] = {}
    builder = BuildingBuilder(site, iur, ids, textures)
    risks = _building_risks(plans, inland)
    footprints = _footprints_latlon(site, plans)
    for p, outlines in zip(plans, footprints):
        mesh = builder.mesh_of(p)
        feature = builder.build(p, outlines, mesh, risks[p.number])
        files[f"udx/bldg/{mesh}_bldg_6697_op.gml"].append(feature)
        if p.lod2 and textures:
            images[f"udx/bldg/{mesh}_bldg_6697_appearance/{site.city_code}-bldg-{p.number}.png"] = atlas(
                np.random.default_rng([seed, p.number])
            )
    files[f"udx/dem/{site.mesh2()}_dem_6697_op.gml"].append(_relief(site, terrain, ids))
    for path, feature in _roads(site, grid, terrain, iur, ids):
        files[path].append(feature)
    for path, feature in _water_bodies(site, terrain, iur, ids):
        files[path].append(feature)
    shelters = _shelters(site, plans, risks, inland)
    return CityPlan(site, iur, dict(sorted(files.items())), images, shelters, terrain)


def generate(
    out: Path,
    buildings: int = 2000,
    seed: int = 0,
    iur: str = "3.1",
    textures: bool = True,
    progress: Progress | None = None,
) -> SampleCity:
    """Write the sample city under ``out`` (udx/..., codelists/, shelters.*)."""
    start = time.perf_counter()
    city = plan(buildings, seed, iur, textures)
    out = Path(out)
    written: list[Path] = []
    total = len(city.files) + len(city.images)
    done = 0
    for rel, features in city.files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        lower, upper = _envelope(features)
        path.write_text(Writer(iur, rel).document(features, lower, upper), encoding="utf-8")
        written.append(path)
        done += 1
        if progress:
            progress(done, total, rel)
    for rel, image in city.images.items():
        write_atlas(out / rel, image)
        written.append(out / rel)
        done += 1
        if progress and done % 100 == 0:
            progress(done, total, rel)
    written += write_codelists(out / "codelists", iur)
    written += write_shelters(out, city.shelters)
    if progress:
        progress(total, total, "done")
    counts = Counter(f.type for f in city.features())
    bldgs = list(city.features({"bldg"}))
    lower, upper = _envelope(list(city.features()))
    return SampleCity(
        out=out,
        counts=dict(sorted(counts.items())),
        bbox=(float(lower[1]), float(lower[0]), float(upper[1]), float(upper[0])),
        buildings_with_flood_risk=sum(1 for b in bldgs if _flood_risks(b)),
        lod2_buildings=sum(1 for b in bldgs if 2 in b.lods),
        files=written,
        bytes_written=sum(p.stat().st_size for p in written),
        seconds=time.perf_counter() - start,
        plan=city,
    )


def _flood_risks(f: Feature) -> list[HazardRisk]:
    return f.flood_risks + [r for part in f.parts for r in part.flood_risks]


def _building_risks(plans: list[BuildingPlan], inland) -> dict[int, list[Risk]]:
    """Depth = flood water surface − ground where positive, per scenario, plus inland pools."""
    if not plans:
        return {}
    cx = np.array([p.centroid[0] for p in plans])
    cy = np.array([p.centroid[1] for p in plans])
    ground = np.array([p.ground for p in plans])
    result: dict[int, list[Risk]] = {p.number: [] for p in plans}
    for scenario in SCENARIOS:
        depth = np.round(scenario.surface(cx) - ground, HEIGHT_DECIMALS)
        duration = scenario.duration(depth)
        for k in np.flatnonzero(depth > 0):
            d = float(depth[k])
            dur = None if duration is None else float(duration[k])
            result[plans[k].number].append(Risk(scenario, d, str(depth_rank(d)), dur))
    pooled = inland.depth(cx, cy)
    for k in np.flatnonzero(pooled >= 0.05):
        d = float(pooled[k])
        result[plans[k].number].append(Risk(None, d, str(depth_rank(d)), None))
    return result


def _footprints_latlon(site: Site, plans: list[BuildingPlan]) -> list[list[np.ndarray]]:
    """Every part's outline in (lat, lon), converted in one batch."""
    outlines = [part.footprint for p in plans for part in p.parts]
    if not outlines:
        return []
    points = np.concatenate(outlines)
    lat, lon = site.to_latlon(points[:, 0], points[:, 1])
    latlon = np.column_stack([lat, lon])
    pieces = np.split(latlon, np.cumsum([len(o) for o in outlines])[:-1])
    result, k = [], 0
    for p in plans:
        result.append(pieces[k : k + len(p.parts)])
        k += len(p.parts)
    return result


def _grid_latlon(site: Site, terrain: Terrain) -> np.ndarray:
    gx, gy = np.meshgrid(terrain.xs, terrain.ys)
    lat, lon = site.to_latlon(gx, gy)
    return np.stack([lat, lon], axis=-1)  # (ny, nx, 2)


def _relief(site: Site, terrain: Terrain, ids: Ids) -> Feature:
    grid = _grid_latlon(site, terrain).reshape(-1, 2)
    vertices = np.column_stack([grid, terrain.z.ravel()])
    tin = vertices[terrain.triangles()]
    feature = Feature(ids("dem"), "dem", "ReliefFeature", attributes={"name": site.mesh2(), "lod": "1"})
    feature.geometries.append(Geometry(1, "TIN", triangles=tin))
    return feature


def _roads(site: Site, grid, terrain: Terrain, iur: str, ids: Ids) -> Iterator[tuple[str, Feature]]:
    """One Road per street and 3rd-order mesh; vertices take the TIN height."""
    for road in grid.roads:
        by_mesh: dict[str, list[Polygon]] = defaultdict(list)
        for piece in road.polygons:
            xy = np.asarray(piece.exterior.coords)[:-1]
            lat, lon = site.to_latlon(xy[:, 0], xy[:, 1])
            h = np.round(terrain.height_at(xy[:, 0], xy[:, 1]), HEIGHT_DECIMALS)
            c = piece.representative_point()
            clat, clon = site.to_latlon(np.array([c.x]), np.array([c.y]))
            mesh = mesh_code(float(clat[0]), float(clon[0]), 3)
            by_mesh[mesh].append(Polygon(np.column_stack([lat, lon, h])))
        function = "3" if road.main else "4"
        usage = "2" if road.main else "9"
        for mesh, polygons in by_mesh.items():
            feature = Feature(ids("tran"), "tran", "Road")
            if iur == "3.1":
                feature.attributes["creationDate"] = CREATION_DATE
            feature.attributes.update({
                "class": Code("1040", label(iur, "TransportationComplex_class", "1040")),
                "function": Code(function, label(iur, "Road_function", function)),
                "usage": Code(usage, label(iur, "Road_usage", usage)),
            })
            feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", polygons)]))
            yield f"udx/tran/{mesh}_tran_6697_op.gml", feature


def _water_bodies(site: Site, terrain: Terrain, iur: str, ids: Ids) -> Iterator[tuple[str, Feature]]:
    """Per river and scale, one WaterBody per (3rd-order mesh, depth rank)."""
    grid = _grid_latlon(site, terrain)
    for scenario in SCENARIOS:
        surface = scenario.surface(terrain.xs)
        groups: dict[tuple[str, str], list[Polygon]] = defaultdict(list)
        for run in flood_runs(terrain, site, scenario):
            j, i0, i1 = run.j, run.i0, run.i1
            corners = np.array([grid[j, i0], grid[j, i1], grid[j + 1, i1], grid[j + 1, i0]])
            heights = [surface[i0], surface[i1], surface[i1], surface[i0]]
            centre = corners.mean(axis=0)
            mesh = mesh_code(float(centre[0]), float(centre[1]), 3)
            groups[(mesh, run.rank)].append(Polygon(np.column_stack([corners, heights])))
        river = scenario.river
        level = scenario.scale.lower()
        for (mesh, rank), polygons in sorted(groups.items()):
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
            feature.geometries.append(Geometry(1, "MultiSurface", [Surface("", polygons)]))
            yield f"udx/fld/{river.folder}/{mesh}_fld_6697_{level}_op.gml", feature


def _shelters(site: Site, plans: list[BuildingPlan], risks: dict[int, list[Risk]], inland) -> list[Shelter]:
    count = max(3, min(40, len(plans) // 150))
    chosen = choose_shelters(plans, count, HIGH_GROUND)
    if not chosen:
        return []
    cx = np.array([p.centroid[0] for p in chosen])
    cy = np.array([p.centroid[1] for p in chosen])
    lat, lon = site.to_latlon(cx, cy)
    near_scarp = np.abs(cy - scarp_y(cx, site)) < 80.0
    shelters = []
    for k, p in enumerate(chosen):
        entries = risks.get(p.number, [])
        river = max((r.depth for r in entries if r.scenario is not None), default=0.0)
        pooled = max((r.depth for r in entries if r.scenario is None), default=0.0)
        shelters.append(make_shelter(
            k, p, float(lat[k]), float(lon[k]), site.city_code, site.city_name,
            river, pooled, bool(near_scarp[k]), f"{site.city_code}-bldg-{p.number}",
        ))
    return shelters


def _envelope(features: list[Feature]) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) corners (lat, lon, h) over every coordinate of the features."""
    lows, highs = [], []
    for f in features:
        for member in [f, *f.parts]:
            for g in member.geometries:
                arrays = [g.triangles.reshape(-1, 3)] if g.triangles is not None else [
                    p.exterior for p in g.polygons()
                ]
                for a in arrays:
                    lows.append(a.min(axis=0))
                    highs.append(a.max(axis=0))
    if not lows:
        return np.zeros(3), np.zeros(3)
    return np.min(lows, axis=0), np.max(highs, axis=0)
