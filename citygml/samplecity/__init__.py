"""A synthetic but PLATEAU-conformant city (bldg, dem, tran, brid, wtr, luse, fld, codelists, shelters).

``plan`` lays the town out and builds each file's features when asked; ``generate`` writes
them out one file at a time. Same arguments, same bytes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from citygml.model import Feature
from citygml.samplecity.codelist_extra import write_codelists
from citygml.samplecity.features import Ids
from citygml.samplecity.gmlwriter import URO_NAMESPACES, Writer
from citygml.samplecity.gsidem import write_gsi_dem
from citygml.samplecity.layers import BuildingFiles, Layer, all_paths, layers
from citygml.samplecity.shelters import Shelter, write_shelters
from citygml.samplecity.site import Site
from citygml.samplecity.terrain import Terrain
from citygml.samplecity.textures import atlas, write_atlas
from citygml.samplecity.town import Town, lay_out

__all__ = ["CityPlan", "SampleCity", "generate", "plan", "IUR_VERSIONS"]

IUR_VERSIONS = tuple(URO_NAMESPACES)
Progress = Callable[[int, int, str], None]


class _Files(Mapping):
    """Relative path → that file's features, built on each access (nothing is kept)."""

    def __init__(self, city: CityPlan) -> None:
        self._city = city

    def __getitem__(self, rel: str) -> list[Feature]:
        layer = self._city._layer_of[rel]
        return layer.features(rel, Ids(f"{self._city.town.seed}:{rel}"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._city._layer_of)

    def __len__(self) -> int:
        return len(self._city._layer_of)


class CityPlan:
    """The whole dataset, planned: ``files`` maps each relative path to its features (built on demand)."""

    def __init__(self, town: Town) -> None:
        self.town = town
        self._layers = layers(town)
        self._layer_of: dict[str, Layer] = dict(all_paths(self._layers))
        self.files: Mapping[str, list[Feature]] = _Files(self)

    @property
    def site(self) -> Site:
        return self.town.site

    @property
    def iur(self) -> str:
        return self.town.iur

    @property
    def terrain(self) -> Terrain:
        return self.town.terrain

    @property
    def shelters(self) -> list[Shelter]:
        return self.town.shelters

    def features(self, types: set[str] | None = None) -> Iterator[Feature]:
        for rel in self.files:
            if types is None or _file_type(rel) in types:
                for f in self.files[rel]:
                    if types is None or f.type in types:
                        yield f

    def images(self, rel: str) -> list[tuple[str, np.ndarray]]:
        """The texture atlases (path, RGB image) of the LOD2 buildings of one bldg file."""
        layer = self._layer_of.get(rel)
        if not isinstance(layer, BuildingFiles):
            return []
        return [(path, atlas(np.random.default_rng([self.town.seed, number]))) for path, number in layer.images(rel)]

    def image_count(self) -> int:
        return sum(len(layer.images(rel)) for rel, layer in self._layer_of.items() if isinstance(layer, BuildingFiles))


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
    """Lay out the city; its features are built, exactly as the reader returns them, when iterated."""
    if iur not in URO_NAMESPACES:
        raise ValueError(f"unknown i-UR generation {iur!r}; expected one of {', '.join(IUR_VERSIONS)}")
    return CityPlan(lay_out(buildings, seed, iur, textures))


def generate(
    out: Path,
    buildings: int = 2000,
    seed: int = 0,
    iur: str = "3.1",
    textures: bool = True,
    progress: Progress | None = None,
    gsi_dem: bool = False,
) -> SampleCity:
    """Write the sample city under ``out`` (udx/..., codelists/, shelters.*), one file at a time.

    ``gsi_dem`` also writes its ground as GSI 基盤地図情報 DEM5A zips under ``gsi/``.
    """
    start = time.perf_counter()
    city = plan(buildings, seed, iur, textures)
    out = Path(out)
    written: list[Path] = []
    total = len(city.files) + city.image_count()
    done = 0
    counts: Counter[str] = Counter()
    at_risk = lod2 = 0
    lower, upper = np.full(3, np.inf), np.full(3, -np.inf)
    for rel in city.files:
        features = city.files[rel]
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        low, high = _envelope(features)
        with path.open("w", encoding="utf-8") as stream:
            Writer(iur, rel).write(stream, features, low, high)
        written.append(path)
        lower, upper = np.minimum(lower, low), np.maximum(upper, high)
        counts.update(f.type for f in features)
        at_risk += sum(1 for f in features if f.type == "bldg" and f.flood_risks)
        lod2 += sum(1 for f in features if f.type == "bldg" and 2 in f.lods)
        done += 1
        for image_rel, image in city.images(rel):
            write_atlas(out / image_rel, image)
            written.append(out / image_rel)
            done += 1
        if progress:
            progress(done, total, rel)
        del features
    written += write_codelists(out / "codelists", iur)
    written += write_shelters(out, city.shelters)
    if gsi_dem:
        written += write_gsi_dem(out, city.site, city.terrain)
    if progress:
        progress(total, total, "done")
    return SampleCity(
        out=out,
        counts=dict(sorted(counts.items())),
        bbox=(float(lower[1]), float(lower[0]), float(upper[1]), float(upper[0])),
        buildings_with_flood_risk=at_risk,
        lod2_buildings=lod2,
        files=written,
        bytes_written=sum(p.stat().st_size for p in written),
        seconds=time.perf_counter() - start,
        plan=city,
    )


def _file_type(rel: str) -> str:
    """The PLATEAU type of a dataset path (``udx/<type>/…``)."""
    return rel.split("/")[1]


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
