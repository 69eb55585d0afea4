"""A dataset's summary, as ``twin inspect`` prints it: files, feature counts, LODs, CRS, risks."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from citygml.crs import choose_zone, zone_epsg
from citygml.dataset import Dataset, DatasetFile, feature_bbox
from citygml.errors import CityGMLError
from citygml.model import Feature

#: Called after each file with (file, features read so far).
Progress = Callable[[DatasetFile, int], None]


@dataclass(slots=True)
class DatasetSummary:
    """Counts per PLATEAU type: features, their CityGML elements, LODs, semantic surfaces
    (RoofSurface, TrafficArea, …) and geometry (polygons, lines, points, TIN triangles)."""

    path: str
    files: int = 0
    features: dict[str, int] = field(default_factory=dict)
    elements: dict[str, dict[str, int]] = field(default_factory=dict)
    lods: dict[str, dict[str, int]] = field(default_factory=dict)
    surfaces: dict[str, dict[str, int]] = field(default_factory=dict)
    geometry: dict[str, dict[str, int]] = field(default_factory=dict)
    buildings_with_flood_risk: int = 0
    buildings_with_textures: int = 0
    bbox: list[float] | None = None
    crs: list[str] = field(default_factory=list)
    local_crs: str | None = None
    iur_versions: list[str] = field(default_factory=list)
    citygml_versions: list[str] = field(default_factory=list)
    meshes: list[str] = field(default_factory=list)
    codelists_missing: list[str] = field(default_factory=list)
    codelists_bundled: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total_features(self) -> int:
        return sum(self.features.values())

    def to_dict(self) -> dict:
        return asdict(self)


class _Tally:
    """Counts gathered while features stream past."""

    def __init__(self) -> None:
        self.features: Counter[str] = Counter()
        self.elements: dict[str, Counter[str]] = defaultdict(Counter)
        self.lods: dict[str, Counter[int]] = defaultdict(Counter)
        self.surfaces: dict[str, Counter[str]] = defaultdict(Counter)
        self.geometry: dict[str, Counter[str]] = defaultdict(Counter)
        self.flood = 0
        self.textured = 0
        self.box: list[float] | None = None
        self.prefecture: int | None = None

    def add(self, feature: Feature) -> None:
        kind = feature.type
        self.features[kind] += 1
        self.elements[kind][feature.element] += 1
        for lod in feature.lods:
            self.lods[kind][lod] += 1
        self._geometry(kind, feature)
        if feature.element == "Building":
            self.flood += bool(feature.flood_risks)
            self.textured += _has_texture(feature)
            if self.prefecture is None and feature.prefecture and feature.prefecture.isdigit():
                self.prefecture = int(feature.prefecture)
        box = feature_bbox(feature)
        if box is not None:
            self.box = list(box) if self.box is None else [
                min(self.box[0], box[0]), min(self.box[1], box[1]),
                max(self.box[2], box[2]), max(self.box[3], box[3]),
            ]


    def _geometry(self, kind: str, feature: Feature) -> None:
        counts, surfaces = self.geometry[kind], self.surfaces[kind]
        for geometry in feature.geometries:
            if geometry.triangles is not None:
                counts["triangles"] += len(geometry.triangles)
            for surface in geometry.surfaces:
                counts["polygons"] += len(surface.polygons)
                if surface.semantic:
                    surfaces[surface.semantic] += 1
            counts["lines"] += len(geometry.curves)
            counts["points"] += 0 if geometry.points is None else len(geometry.points)
        for part in feature.parts:
            self.elements[kind][part.element] += 1
            self._geometry(kind, part)


def summarize(dataset: Dataset, progress: Progress | None = None) -> DatasetSummary:
    """Read every file of the dataset once and summarise it."""
    tally = _Tally()
    errors: list[str] = []
    files = dataset.select()
    for file in files:
        reader = dataset.reader(file, textures=True)
        try:
            for feature in reader:
                tally.add(feature)
        except CityGMLError as exc:  # the file could not be read at all
            errors.append(str(exc))
        dataset.file_infos.append(reader.info)
        if progress:
            progress(file, sum(tally.features.values()))
    return _finish(dataset, files, tally, errors)


def _finish(dataset: Dataset, files: list[DatasetFile], tally: _Tally, errors: list[str]) -> DatasetSummary:
    infos = dataset.file_infos
    summary = DatasetSummary(
        path=str(dataset.path),
        files=len(files),
        features=dict(sorted(tally.features.items())),
        elements=_nested(tally.elements),
        lods={t: {str(k): v for k, v in sorted(c.items())} for t, c in sorted(tally.lods.items())},
        surfaces=_nested(tally.surfaces),
        geometry=_nested(tally.geometry),
        buildings_with_flood_risk=tally.flood,
        buildings_with_textures=tally.textured,
        bbox=[round(v, 7) for v in tally.box] if tally.box else None,
        crs=sorted({f"EPSG:{i.crs.epsg}" for i in infos if i.crs}),
        iur_versions=sorted({i.iur_version for i in infos if i.iur_version}),
        citygml_versions=sorted({i.citygml_version for i in infos if i.citygml_version}),
        meshes=sorted({f.mesh for f in files if f.mesh}),
        codelists_missing=sorted(dataset.codelists.missing),
        codelists_bundled={g: sorted(n) for g, n in sorted(dataset.codelists.bundled.items())},
        warnings=[str(w) for w in dataset.warnings] + [str(w) for i in infos for w in i.warnings],
        errors=errors,
    )
    if tally.box:
        prefecture = tally.prefecture or _prefecture_from_path(str(dataset.path))
        lon = (tally.box[0] + tally.box[2]) / 2
        lat = (tally.box[1] + tally.box[3]) / 2
        summary.local_crs = f"EPSG:{zone_epsg(choose_zone(lon, lat, prefecture))}"
    if not files:
        summary.errors.append(f"{dataset.path}: no CityGML files found (expected udx/<type>/*.gml)")
    return summary


def _nested(counts: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {k: dict(sorted((n, v) for n, v in c.items() if v)) for k, c in sorted(counts.items()) if any(c.values())}


def _has_texture(feature: Feature) -> bool:
    polygons = (p for g in feature.geometries for p in g.polygons())
    return any(p.texture is not None for p in polygons) or any(_has_texture(p) for p in feature.parts)


def _prefecture_from_path(path: str) -> int | None:
    match = re.search(r"(?:^|/)(\d{2})\d{3}_[a-z-]+_", path)
    return int(match.group(1)) if match else None
