"""What the user gave ``twin convert`` or ``twin city add``: each input's kind and area, checked up front.

An input is a PLATEAU dataset (folder, .zip or .gml), GSI 基盤地図情報 DEM files (.xml, zips of
them, folders), a GeoTIFF or ESRI ASCII DEM with a CRS, or a shelter list (.csv, .geojson). A
folder can be a PLATEAU dataset and hold GSI DEM zips too. Areas come from what names and
headers say (mesh codes, raster bounds) and a shelter list's sites before any CityGML is parsed,
so that inputs of different places are refused before the work: they must overlap one another
(or the City they are added to); a shelter list must meet one of the other inputs.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds

from citygml.dataset import BBox, DatasetFile, open_dataset
from citygml.errors import CityGMLError
from citygml.jpgis_dem import is_gsi_dem
from citygml.meshcode import mesh_bbox
from twin.errors import TwinInputError
from twin.lonlat import LONLAT

KINDS = ("plateau", "gsi_dem", "raster_dem", "shelters")
RASTER_SUFFIXES = (".tif", ".tiff", ".asc")
SHELTER_SUFFIXES = (".csv", ".geojson", ".json")
#: GSI file names carry their mesh: FG-GML-5339-73-06-DEM5A-….xml, FG-GML-5339-73-DEM5A.zip.
_GSI_MESH = re.compile(r"FG-GML-(\d{4})-(\d{2})(?:-(\d{2}))?-DEM", re.IGNORECASE)
_GSI_PRODUCT = re.compile(r"-DEM(\d+)[A-C]?", re.IGNORECASE)
#: Metres per degree of latitude (mean), to state a geographic DEM's cell size in metres.
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Input:
    """One input: its path, kind (``KINDS``), lon/lat box and, for a DEM, its cell size in metres
    (None when names and headers do not tell)."""

    path: Path
    kind: str
    bbox: BBox | None
    spacing_m: float | None = None

    def describe(self) -> str:
        if self.bbox is None:
            return str(self.path)
        west, south, east, north = self.bbox
        return f"{self.path} ({west:.4f}–{east:.4f} E, {south:.4f}–{north:.4f} N)"


def classify(paths: list[Path], dems: Sequence[Path] = (), check: bool = True) -> list[Input]:
    """The inputs of ``paths`` (any kind) and ``dems`` (raster or GSI DEMs); TwinInputError for an
    input that is none of the kinds, a DEM without a CRS, or (with ``check``) inputs of places that
    do not overlap one another."""
    found: list[Input] = []
    for path in [*paths, *dems]:
        path = Path(path)
        if not path.exists():
            raise TwinInputError(f"{path}: no such file or folder")
        kinds = _kinds(path)
        if not kinds:
            raise TwinInputError(f"{path}: not a PLATEAU dataset (folder, .zip, .gml), a GSI DEM (.xml or .zip), "
                                 "a GeoTIFF/ASCII DEM (.tif, .asc) or a shelter list (.csv, .geojson)")
        found += [Input(path, kind, _bbox(path, kind), _spacing(path, kind)) for kind in kinds]
    if check:
        check_overlap(found)
    return found


def _kinds(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if path.is_file() and suffix in RASTER_SUFFIXES:
        return ["raster_dem"]
    if path.is_file() and suffix in SHELTER_SUFFIXES:
        return ["shelters"]
    kinds = []
    if _plateau_files(path):
        kinds.append("plateau")
    if is_gsi_dem(path) or (path.is_dir() and any(_GSI_MESH.search(p.name) for p in path.rglob("*.zip"))):
        kinds.append("gsi_dem")  # (a folder of GSI's zips as downloaded counts too)
    return kinds


def _plateau_files(path: Path) -> list[DatasetFile]:
    if path.is_file() and path.suffix.lower() == ".xml":
        return []  # an .xml is a GSI DEM or nothing we read
    try:
        with open_dataset(path) as dataset:
            return [f for f in dataset.files if f.name.lower().endswith(".gml")]
    except CityGMLError:
        return []


def _bbox(path: Path, kind: str) -> BBox | None:
    if kind == "plateau":
        return _union([f.bbox for f in _plateau_files(path)])
    if kind == "gsi_dem":
        # The files' own meshes (3rd-order for 5 m) say more than a zip's name (the 2nd-order mesh).
        names = _gsi_names(path)
        files = [_gsi_bbox(n) for n in names if n.lower().endswith(".xml")]
        return _union(files) or _union([_gsi_bbox(n) for n in names])
    if kind == "raster_dem":
        return raster_bbox(path)
    if kind == "shelters":  # the box of its sites: a list of another place is refused before the work;
        # within a list that meets the City, sites far from it are reported and left out (shelters_for_city)
        from twin.city.shelters import read_shelter_list

        sites = read_shelter_list(path).sites
        if len(sites) == 0:
            return None
        return (float(sites["lon"].min()), float(sites["lat"].min()), float(sites["lon"].max()),
                float(sites["lat"].max()))
    return None


def _spacing(path: Path, kind: str) -> float | None:
    """A DEM's cell size: GSI products say it in their names (DEM5A: 5 m), rasters in their headers."""
    if kind == "gsi_dem":
        found = [int(m.group(1)) for n in _gsi_names(path) if (m := _GSI_PRODUCT.search(n))]
        return float(min(found)) if found else None
    if kind == "raster_dem":
        with rasterio.open(path) as src:
            size = max(src.res)
            return size * METRES_PER_DEGREE if src.crs is not None and src.crs.is_geographic else size
    return None


def raster_bbox(path: Path) -> BBox:
    """The lon/lat box of a GeoTIFF/ASCII DEM; TwinInputError when it is unreadable or has no CRS."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise TwinInputError(f"{path}: the DEM has no CRS (a GeoTIFF needs one; an .asc needs its .prj "
                                     "beside it): cannot tell where it lies")
            west, south, east, north = transform_bounds(src.crs, LONLAT, *src.bounds)
    except RasterioIOError as exc:
        raise TwinInputError(f"{path}: not a readable DEM grid ({exc})") from None
    return west, south, east, north


def _gsi_names(path: Path) -> list[str]:
    if path.is_dir():
        return [p.name for p in path.rglob("*") if p.suffix.lower() in (".xml", ".zip")]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [path.name, *(n.rsplit("/", 1)[-1] for n in archive.namelist())]  # (nested zips: their names)
    return [path.name]


def _gsi_bbox(name: str) -> BBox | None:
    match = _GSI_MESH.search(name)
    if not match:
        return None
    try:
        return mesh_bbox("".join(g for g in match.groups() if g))
    except ValueError:
        return None


def _union(boxes: list[BBox | None]) -> BBox | None:
    known = [b for b in boxes if b is not None]
    if not known:
        return None
    return (min(b[0] for b in known), min(b[1] for b in known), max(b[2] for b in known), max(b[3] for b in known))


def meets(a: BBox, b: BBox) -> bool:
    """Whether two lon/lat boxes overlap or touch (adjacent meshes of one city touch)."""
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def check_overlap(inputs: list[Input], city: BBox | None = None, city_name: str = "the City") -> None:
    """Every input with a known area must be joined to the others (or to ``city``) by overlaps;
    TwinInputError naming the first that stands apart."""
    placed = [i for i in inputs if i.bbox is not None]
    if city is not None:
        for item in placed:
            if not meets(item.bbox, city):  # type: ignore[arg-type]
                raise TwinInputError(f"{item.describe()} does not overlap {city_name} ({city[0]:.4f}–{city[2]:.4f} E, "
                                     f"{city[1]:.4f}–{city[3]:.4f} N): it is another place")
        return
    # A shelter list is points: it must meet an area input, but does not join areas to one another.
    lists = [i for i in placed if i.kind == "shelters"]
    placed = [i for i in placed if i.kind != "shelters"]
    joined, rest = placed[:1], placed[1:]
    while rest:
        touching = [i for i in rest if any(meets(i.bbox, j.bbox) for j in joined)]  # type: ignore[arg-type]
        if not touching:
            apart = rest[0]
            raise TwinInputError(f"{apart.describe()} does not overlap {joined[0].describe()}"
                                 f"{' and the other inputs' if len(joined) > 1 else ''}: they are different places; "
                                 "convert them into separate Cities")
        joined += touching
        rest = [i for i in rest if i not in touching]
    for item in lists:
        if placed and not any(meets(item.bbox, j.bbox) for j in placed):  # type: ignore[arg-type]
            raise TwinInputError(f"{item.describe()}: its sites do not overlap {placed[0].describe()}"
                                 f"{' or the other inputs' if len(placed) > 1 else ''}: they are different places; "
                                 "give the shelter list of this place")


def of_kind(inputs: list[Input], kind: str) -> list[Path]:
    return [i.path for i in inputs if i.kind == kind]
