"""The records the reader yields: features, their geometry and decoded attributes.

Coordinates stay as PLATEAU stores them: EPSG:6697 rows of (lat, lon, h), heights
orthometric. Rings are open (the closing point that repeats the first is dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from citygml.ranks import RankScheme

#: Kinds of hazard risk; all but landslide are flooding.
RISK_KINDS = ("river", "tsunami", "high_tide", "inland", "reservoir", "landslide")
FLOODING_KINDS = frozenset(RISK_KINDS[:5])


@dataclass(frozen=True, slots=True)
class Code:
    """A coded value and its label from the dataset's codelist (None when unknown)."""

    code: str
    label: str | None = None

    def __str__(self) -> str:
        return self.label if self.label is not None else self.code


@dataclass(slots=True)
class Texture:
    """A ParameterizedTexture applied to one ring: image path and one (u, v) per vertex."""

    image: str
    uv: np.ndarray  # (n, 2) float64, same length as the ring it textures


@dataclass(slots=True)
class Polygon:
    """A planar polygon: an exterior ring and optional holes, each an (n, 3) array."""

    exterior: np.ndarray
    interiors: list[np.ndarray] = field(default_factory=list)
    id: str | None = None
    ring_id: str | None = None
    texture: Texture | None = None


@dataclass(slots=True)
class Surface:
    """Polygons under one semantic surface (RoofSurface, WallSurface, ...; '' if none)."""

    semantic: str
    polygons: list[Polygon]
    id: str | None = None


@dataclass(slots=True)
class Geometry:
    """One geometry property of a feature at one LOD.

    ``role`` is the property name without its LOD prefix: ``FootPrint``, ``RoofEdge``,
    ``Solid``, ``MultiSurface``, ``MultiCurve``, ``Geometry``, ``boundedBy`` (semantic
    surfaces, CityGML 2.0 ``boundedBy`` and 3.0 ``boundary`` alike), ``TIN``.
    A TIN keeps its triangles as one (m, 3, 3) array instead of polygons; lines are
    ``curves`` ((n, 3) arrays) and points one (m, 3) array.
    """

    lod: int
    role: str
    surfaces: list[Surface] = field(default_factory=list)
    triangles: np.ndarray | None = None
    curves: list[np.ndarray] = field(default_factory=list)
    points: np.ndarray | None = None

    def polygons(self) -> list[Polygon]:
        return [p for s in self.surfaces for p in s.polygons]


@dataclass(frozen=True, slots=True)
class HazardRisk:
    """One hazard-risk entry of a building or water body, whatever i-UR generation said it.

    ``scale`` is ``L1`` (planned scale) or ``L2`` (maximum assumed) where known,
    otherwise the source's own wording. ``depth_m`` is the official depth in metres;
    ``rank`` the rank code with the label of its own list, and ``rank_scheme`` that list:
    ranks compare only within one scheme (:meth:`RankScheme.comparable`).
    """

    kind: str
    source: Code | None = None
    scale: str | None = None
    rank: Code | None = None
    depth_m: float | None = None
    duration_h: float | None = None
    admin_type: Code | None = None
    rank_scheme: RankScheme | None = None

    @property
    def is_flooding(self) -> bool:
        return self.kind in FLOODING_KINDS

    @property
    def rank_depth_range(self) -> tuple[float, float] | None:
        """Depth range (m) the rank's label states, e.g. (0.5, 3.0); None if unknown."""
        if self.rank is None or self.rank_scheme is None:
            return None
        return self.rank_scheme.depth_range(self.rank.code)


@dataclass(slots=True)
class Feature:
    """A top-level city object (or a BuildingPart inside one).

    ``type`` is the PLATEAU package code (bldg, dem, tran, brid, fld, tnm, ...);
    ``element`` the CityGML element name (Building, Road, WaterBody, TINRelief, ...).
    ``attributes`` maps attribute names (local names; nested i-UR values as
    ``Parent/child``) to str, int, float or Code.
    """

    gml_id: str
    type: str
    element: str
    geometries: list[Geometry] = field(default_factory=list)
    attributes: dict[str, object] = field(default_factory=dict)
    risks: list[HazardRisk] = field(default_factory=list)
    parts: list[Feature] = field(default_factory=list)
    source: str = ""
    line: int | None = None

    @property
    def lods(self) -> tuple[int, ...]:
        """LODs present in this feature or any of its parts."""
        found = {g.lod for g in self.geometries}
        for part in self.parts:
            found.update(part.lods)
        return tuple(sorted(found))

    def geometry(self, lod: int, role: str) -> Geometry | None:
        return next((g for g in self.geometries if g.lod == lod and g.role == role), None)

    @property
    def all_risks(self) -> list[HazardRisk]:
        """Risks of this feature and of its parts."""
        return [*self.risks, *(r for part in self.parts for r in part.all_risks)]

    @property
    def flood_risks(self) -> list[HazardRisk]:
        """Flooding risks (all kinds but landslide) of this feature and its parts."""
        return [r for r in self.all_risks if r.is_flooding]

    # Typed views of the common building attributes.
    @property
    def measured_height(self) -> float | None:
        return _float(self.attributes.get("measuredHeight"))

    @property
    def storeys(self) -> int | None:
        value = self.attributes.get("storeysAboveGround")
        return None if value is None else int(value)  # type: ignore[arg-type]

    @property
    def usage(self) -> Code | None:
        value = self.attributes.get("usage")
        return value if isinstance(value, Code) else None

    @property
    def building_class(self) -> Code | None:
        value = self.attributes.get("class")
        return value if isinstance(value, Code) else None

    @property
    def year(self) -> int | None:
        """Year of construction; None where unknown (PLATEAU writes 0001, the reader drops it)."""
        value = self.attributes.get("yearOfConstruction")
        return None if value is None else int(value)  # type: ignore[arg-type]

    @property
    def building_id(self) -> str | None:
        """建物ID: ``uro:buildingID`` (i-UR 2.0+) or the 2020 generation's generic ``建物ID``."""
        value = _first(self.attributes, "buildingIDAttribute/buildingID", "建物ID")
        return None if value is None else str(value)

    @property
    def prefecture(self) -> str | None:
        """Prefecture code (JIS X 0401, two digits) from the i-UR attributes or the building ID."""
        code = self._area_code(("buildingIDAttribute/prefecture", "buildingDetails/prefecture"), 2)
        return None if code is None else code.zfill(2)

    @property
    def city(self) -> str | None:
        """Municipality code (five digits) from the i-UR attributes or the building ID."""
        return self._area_code(("buildingIDAttribute/city", "buildingDetails/city"), 5)

    def _area_code(self, keys: tuple[str, ...], digits: int) -> str | None:
        """A code of the first of ``keys`` present, else the building ID's first digits (``13111-bldg-524``)."""
        value = _first(self.attributes, *keys)
        if value is not None:
            return str(getattr(value, "code", value))
        building_id = self.building_id
        return building_id[:digits] if building_id and building_id[:digits].isdigit() else None

    def lod0_outline(self) -> Geometry | None:
        """The LOD0 outline: 2.0's ``lod0FootPrint`` or ``lod0RoofEdge``, or 3.0's ``lod0MultiSurface``."""
        for role in ("FootPrint", "RoofEdge", "MultiSurface"):
            geometry = self.geometry(0, role)
            if geometry is not None:
                return geometry
        return None


def _first(attributes: dict[str, object], *keys: str) -> object:
    return next((attributes[k] for k in keys if attributes.get(k) is not None), None)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
