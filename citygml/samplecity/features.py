"""The sample city as the reader's model: Features with geometry in (lat, lon, h) as written.

Coordinates are rounded here, before anything is written, so that a reader reading the
files back returns exactly these values.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from citygml.meshcode import mesh_code
from citygml.model import Code, Feature, Geometry, HazardRisk, Polygon, Surface, Texture
from citygml.samplecity.buildings import DEFAULT_LOD1_HEIGHT, UNKNOWN_HEIGHT, BuildingPlan, PartPlan
from citygml.samplecity.codelist_extra import label
from citygml.samplecity.gmlwriter import CREATION_DATE
from citygml.samplecity.hazards import INLAND_NAME, FloodScenario
from citygml.samplecity.site import HEIGHT_DECIMALS, LATLON_DECIMALS, Site

_M_PER_DEG_LAT = 110_940.0
_M_PER_DEG_LON_EQ = 111_320.0


class Ids:
    """Deterministic UUID-style gml:ids from one generator (seeded by an int or a string)."""

    def __init__(self, seed: int | str) -> None:
        self._rnd = random.Random(seed)

    def __call__(self, prefix: str) -> str:
        h = f"{self._rnd.getrandbits(128):032x}"
        return f"{prefix}_{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class Risk:
    """A building's exposure to one flood scenario (``scenario`` None: inland flooding)."""

    scenario: FloodScenario | None
    depth: float
    rank: str
    duration: float | None


def _h(value: float) -> float:
    return round(float(value), HEIGHT_DECIMALS)


def _ring(latlon: np.ndarray, heights) -> np.ndarray:
    h = np.broadcast_to(np.asarray(heights, float), (len(latlon),))
    return np.column_stack([latlon, h])


def _mid(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.round((a + b) / 2, LATLON_DECIMALS)


def risk_model(risk: Risk, iur: str, city: str) -> HazardRisk:
    """The HazardRisk a reader should decode from what the writer writes for ``risk``."""
    rank_list = "RiverFloodingRiskAttribute_rank" if iur == "3.1" else "BuildingRiverFloodingRiskAttribute_rank"
    rank = Code(risk.rank, None if iur == "1.4" else label(iur, rank_list, risk.rank))
    if iur == "1.4":  # the set name carries the source; inland sets are maximum-scale maps
        if risk.scenario is None:
            return HazardRisk("inland", source=Code(city, city), scale="L2", rank=rank, depth_m=risk.depth)
        name = risk.scenario.river.name
        return HazardRisk("river", source=Code(name, name), scale=risk.scenario.scale, rank=rank,
                          depth_m=risk.depth, duration_h=risk.duration)
    if risk.scenario is None:
        return HazardRisk("inland", source=Code("1", INLAND_NAME), rank=rank, depth_m=risk.depth)
    river = risk.scenario.river
    admin = "RiverFloodingRiskAttribute_adminType" if iur == "3.1" else "BuildingRiverFloodingRiskAttribute_adminType"
    return HazardRisk(
        "river",
        source=Code(river.code, river.name),
        scale=risk.scenario.scale,
        rank=rank,
        depth_m=risk.depth,
        duration_h=risk.duration if iur == "3.1" else None,
        admin_type=Code(river.admin_type, label(iur, admin, river.admin_type)),
    )


class BuildingBuilder:
    """Turns building plans into Features; textured LOD2 polygons carry gml:ids and UVs."""

    def __init__(self, site: Site, iur: str, ids: Ids, textures: bool) -> None:
        self.site, self.iur, self.ids, self.textures = site, iur, ids, textures

    def mesh_of(self, plan: BuildingPlan) -> str:
        lat, lon = self.site.to_latlon(np.array([plan.centroid[0]]), np.array([plan.centroid[1]]))
        return mesh_code(float(lat[0]), float(lon[0]), 3)

    def build(self, plan: BuildingPlan, footprints: list[np.ndarray], mesh: str, risks: list[Risk]) -> Feature:
        """``footprints``: each part's outline as (k, 2) (lat, lon), already rounded."""
        city = self.site.city_code
        building_id = f"{city}-bldg-{plan.number}"
        image = f"udx/bldg/{mesh}_bldg_6697_appearance/{building_id}.png" if plan.lod2 and self.textures else None
        feature = Feature(self.ids("bldg"), "bldg", "Building")
        hazard = [risk_model(r, self.iur, self.site.city_name) for r in risks]
        if len(plan.parts) == 1:
            self._fill(feature, plan, plan.parts[0], footprints[0], building_id, None, hazard, image)
            return feature
        feature.attributes.update(self._id_attributes(building_id, None))
        for k, (part, outline) in enumerate(zip(plan.parts, footprints), start=1):
            child = Feature(self.ids("bldg"), "bldg", "BuildingPart")
            self._fill(child, plan, part, outline, building_id, k, hazard, image)
            feature.parts.append(child)
        return feature

    def _id_attributes(self, building_id: str, part: int | None) -> dict[str, object]:
        if self.iur == "1.4":
            return {"建物ID": building_id}
        attrs: dict[str, object] = {"creationDate": CREATION_DATE} if self.iur == "3.1" else {}
        attrs["buildingIDAttribute/buildingID"] = building_id
        if part is not None:
            attrs["buildingIDAttribute/partID"] = str(part)
        site = self.site
        attrs["buildingIDAttribute/prefecture"] = Code(site.prefecture_code, site.prefecture_name)
        attrs["buildingIDAttribute/city"] = Code(site.city_code, site.prefecture_name + site.city_name)
        return attrs

    def _fill(self, f: Feature, plan, part: PartPlan, outline, building_id, part_no, hazard, image) -> None:
        iur = self.iur
        a = f.attributes
        a["class"] = Code(plan.building_class, label(iur, "Building_class", plan.building_class))
        a["usage"] = Code(plan.usage, label(iur, "Building_usage", plan.usage))
        if plan.year is not None:
            a["yearOfConstruction"] = plan.year
        known = part.measured_height != UNKNOWN_HEIGHT
        a["measuredHeight"] = part.measured_height if known else None  # the file says -9999
        if part.storeys is not None:
            a["storeysAboveGround"] = part.storeys
        a.update(self._id_attributes(building_id, part_no))
        f.risks.extend(hazard)
        g = plan.ground
        top = part.measured_height if known else DEFAULT_LOD1_HEIGHT
        lod1_top = _h(g + (part.eave_height + top) / 2 if part.roof == "gable" else g + top)
        if iur == "2.0":
            f.geometries.append(Geometry(0, "FootPrint", [Surface("", [Polygon(_ring(outline, g))])]))
        else:
            lod0_h = 0.0 if iur == "3.1" else g
            f.geometries.append(Geometry(0, "RoofEdge", [Surface("", [Polygon(_ring(outline, lod0_h))])]))
        f.geometries.append(Geometry(1, "Solid", [Surface("", prism(outline, g, lod1_top))]))
        if plan.lod2:
            surfaces = self._lod2(outline, g, part, top)
            solid = [p for s in surfaces for p in s.polygons]
            f.geometries.append(Geometry(2, "Solid", [Surface("", solid)]))
            f.geometries.append(Geometry(2, "boundedBy", surfaces))
            if image:
                for s in surfaces:
                    if s.semantic != "GroundSurface":
                        for p in s.polygons:
                            p.texture = Texture(image, _uv(p.exterior, s.semantic == "RoofSurface"))

    def _lod2(self, outline: np.ndarray, g: float, part: PartPlan, top: float) -> list[Surface]:
        top_h = _h(g + top)
        ground = [outline[::-1]]
        if part.roof == "gable":
            c = outline
            if np.linalg.norm(c[1] - c[0]) < np.linalg.norm(c[2] - c[1]):
                c = np.roll(c, -1, axis=0)
            he = _h(g + part.eave_height)
            m03, m12 = _mid(c[0], c[3]), _mid(c[1], c[2])
            roofs = [
                np.array([[*c[0], he], [*c[1], he], [*m12, top_h], [*m03, top_h]]),
                np.array([[*c[2], he], [*c[3], he], [*m03, top_h], [*m12, top_h]]),
            ]
            walls = [
                np.array([[*c[0], g], [*c[1], g], [*c[1], he], [*c[0], he]]),
                np.array([[*c[1], g], [*c[2], g], [*c[2], he], [*m12, top_h], [*c[1], he]]),
                np.array([[*c[2], g], [*c[3], g], [*c[3], he], [*c[2], he]]),
                np.array([[*c[3], g], [*c[0], g], [*c[0], he], [*m03, top_h], [*c[3], he]]),
            ]
        else:
            roofs = [_ring(outline, top_h)]
            walls = [_wall(outline, i, g, top_h) for i in range(len(outline))]
        made = []
        for semantic, rings in (("RoofSurface", roofs), ("WallSurface", walls),
                                ("GroundSurface", [_ring(r, g) for r in ground])):
            polygons = [Polygon(np.asarray(r, float), id=self.ids("poly"), ring_id=self.ids("ring")) for r in rings]
            made.append(Surface(semantic, polygons, id=self.ids("surf")))
        return made


def _wall(outline: np.ndarray, i: int, bottom: float, top: float) -> np.ndarray:
    a, b = outline[i], outline[(i + 1) % len(outline)]
    return np.array([[*a, bottom], [*b, bottom], [*b, top], [*a, top]])


def prism(outline: np.ndarray, bottom: float, top: float) -> list[Polygon]:
    """LOD1 solid of a (lat, lon) outline: bottom (facing down), walls, top, as PLATEAU orders them."""
    polys = [Polygon(_ring(outline[::-1], bottom))]
    polys += [Polygon(_wall(outline, i, bottom, top)) for i in range(len(outline))]
    polys.append(Polygon(_ring(outline, top)))
    return polys


def _uv(ring: np.ndarray, roof: bool) -> np.ndarray:
    """Texture coordinates: roofs in the atlas's upper half, walls in the lower half."""
    lat0 = ring[0, 0]
    east = (ring[:, 1] - ring[0, 1]) * _M_PER_DEG_LON_EQ * np.cos(np.radians(lat0))
    north = (ring[:, 0] - lat0) * _M_PER_DEG_LAT
    d = np.array([east[1] - east[0], north[1] - north[0]])
    d = d / (np.linalg.norm(d) or 1.0)
    s = east * d[0] + north * d[1]
    t = (north * d[0] - east * d[1]) if roof else ring[:, 2]
    u = 0.02 + 0.96 * _unit(s)
    v = (0.52 if roof else 0.02) + 0.46 * _unit(t)
    return np.round(np.column_stack([u, v]), 6)


def _unit(q: np.ndarray) -> np.ndarray:
    return (q - q.min()) / ((q.max() - q.min()) or 1.0)
