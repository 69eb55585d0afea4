"""GSI 基盤地図情報 数値標高モデル (DEM1A/5A/5B/5C/10A/10B) in JPGIS 2.x GML, read and mosaicked.

One file holds one mesh (a 3rd-order mesh for 5 m, a 2nd-order mesh for 10 m): a
``gml:Grid`` of ``GridEnvelope`` low/high points over the mesh's ``gml:Envelope``, and a
``gml:tupleList`` of ``label,height`` lines in ``+x-y`` order (west→east, then north→south)
that starts at ``gml:startPoint`` and may stop before the last point; −9999 means no data.
Each value is taken as the cell of the envelope it falls in (pixel is area), as GSI's own
converter and the common ones (MIERUNE convert_fgd_dem, tmizu23 demtool) do.
Heights are orthometric metres (T.P.); positions JGD2011 latitude/longitude (EPSG:6668).

No library on PyPI reads these into arrays with per-file errors (fgddem-py, jpgis-dem and
convert_fgd_dem are GeoTIFF converters, japan-dem ships no wheel), so this is lxml with the
reader's safe options.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
from lxml import etree
from rasterio.transform import Affine

from citygml.dataset import MAX_ZIP_MEMBER_BYTES, MAX_ZIP_RATIO
from citygml.errors import CityGMLError, ReadWarning
from citygml.meshcode import mesh_bbox
from citygml.xmlparse import SAFE_OPTIONS, local_name

__all__ = ["DemError", "DemGrid", "DemSource", "DemTile", "is_gsi_dem", "iter_dem_tiles", "read_dem", "read_dem_file"]

NODATA = -9999.0
CRS = "EPSG:6668"  # JGD2011 geographic 2D; heights are orthometric (T.P.)
#: Positions are kept in hundredths of an arc-second, where every GSI grid is whole.
UNITS_PER_DEGREE = 360_000
#: A mosaic larger than this many cells is refused before it is allocated (1.6 GB of float32).
MAX_MOSAIC_CELLS = 400_000_000
#: Zips inside zips are opened this deep (GSI's bulk download is a zip of per-mesh zips).
MAX_ZIP_DEPTH = 3
_CRS_NAMES = {"fguuid:jgd2011.bl": "JGD2011", "fguuid:jgd2000.bl": "JGD2000", "fguuid:jgd2024.bl": "JGD2024"}
_PRODUCT = re.compile(r"DEM(\d+)([A-Z]?)", re.IGNORECASE)
#: GSI names its DEM files FG-GML-<mesh>-DEM<product>-<date>.xml (and its zips FG-GML-<mesh>-DEM<product>.zip).
_DEM_NAME = re.compile(r"DEM\d", re.IGNORECASE)
#: Elements whose text the header keeps (the first of each: lfSpanFr's timePosition is the data's date).
_HEADER_TAGS = {"mesh", "type", "lowerCorner", "upperCorner", "low", "high", "startPoint", "timePosition"}
_NUMBER_AFTER_COMMA = re.compile(r",\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")


class DemError(CityGMLError):
    """A DEM input that cannot be used: ``file: what is wrong``."""


@dataclass(frozen=True, slots=True)
class DemSource:
    """Where one mesh of the mosaic came from, and what it held."""

    source: str  # file path, or "archive.zip:member.xml" (nested zips joined by ':')
    mesh: str  # mesh code as the file states it
    product: str  # DEM5A, DEM10B, ... (from the file name, else from <type> and the spacing)
    label: str  # the file's <type>, e.g. 5mメッシュ（標高）
    datum: str  # JGD2011 (or JGD2000 for old files)
    date: str | None
    bounds: tuple[float, float, float, float]  # west, south, east, north (degrees)
    shape: tuple[int, int]  # rows, cols
    valid_cells: int
    nodata_cells: int


@dataclass(slots=True)
class DemTile:
    """One file's grid: ``heights[row, col]``, row 0 at the north edge, NaN where no data."""

    heights: np.ndarray  # float32 (rows, cols)
    west: int  # edges in hundredths of an arc-second
    north: int
    dx: int  # cell size in hundredths of an arc-second
    dy: int
    info: DemSource


@dataclass
class DemGrid:
    """A mosaic of DEM meshes on one lat/lon grid (EPSG:6668, orthometric heights).

    ``transform`` maps (col, row) of a cell's north-west corner to (lon, lat); cell
    centres are at (col + 0.5, row + 0.5). ``heights`` is NaN where no mesh gave data.
    """

    heights: np.ndarray
    transform: Affine
    crs: str = CRS
    sources: list[DemSource] = field(default_factory=list)
    warnings: list[ReadWarning] = field(default_factory=list)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) in degrees."""
        rows, cols = self.heights.shape
        t = self.transform
        return t.c, t.f + t.e * rows, t.c + t.a * cols, t.f

    @property
    def resolution(self) -> tuple[float, float]:
        """Cell size (east-west, north-south) in degrees."""
        return self.transform.a, -self.transform.e

    @property
    def nodata_share(self) -> float:
        return float(np.isnan(self.heights).mean()) if self.heights.size else 1.0

    def height_at(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Height of the cell holding each point (NaN outside the grid or where no data)."""
        lon, lat = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
        t = self.transform  # north-up: no rotation terms
        col = np.floor((lon - t.c) / t.a).astype(np.int64)
        row = np.floor((lat - t.f) / t.e).astype(np.int64)
        rows, cols = self.heights.shape
        inside = (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        out = np.full(lon.shape, np.nan, np.float32)
        out[inside] = self.heights[row[inside], col[inside]]
        return out


# -- one file ------------------------------------------------------------------------------


def read_dem_file(stream: IO[bytes] | str | Path, source: str | None = None) -> DemTile:
    """Parse one JPGIS DEM ``.xml`` (a path or a binary stream); raises :class:`DemError`."""
    if isinstance(stream, (str, Path)):
        path = Path(stream)
        try:
            with path.open("rb") as handle:
                return read_dem_file(handle, source or str(path))
        except OSError as exc:
            raise DemError(source or str(path), f"cannot be read: {exc.strerror or exc}") from None
    name = source or str(getattr(stream, "name", "<stream>"))
    header, text = _parse(stream, name)
    return _tile(header, text, name)


def _parse(stream: IO[bytes], source: str) -> tuple[dict[str, str], str]:
    """The header values and the tupleList text of one file, streamed."""
    # huge_tree only lifts libxml2's 10 MB limit on one text node, which a whole DEM10B
    # tupleList (843,750 lines) exceeds; entities, DTDs and the network stay off.
    options = {**SAFE_OPTIONS, "huge_tree": True}
    header: dict[str, str] = {}
    text: str | None = None
    root_name = None
    try:
        for event, element in etree.iterparse(stream, events=("start", "end"), **options):
            name = local_name(element.tag)
            if event == "start":
                if root_name is None:
                    root_name = name
                    if name != "Dataset":
                        raise DemError(source, f"not a GSI 基盤地図情報 file (root element is <{name}>)")
                continue
            if name == "Envelope":
                header["srsName"] = element.get("srsName", "")
            elif name == "sequenceRule":
                header["order"] = element.get("order", "")
            if name == "tupleList":
                text = element.text or ""
                element.clear(keep_tail=False)
            elif name in _HEADER_TAGS and name not in header:
                header[name] = (element.text or "").strip()
    except etree.XMLSyntaxError as exc:
        raise DemError(source, f"broken XML: {exc.msg}", exc.lineno) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a damaged zip member fails while streaming
        raise DemError(source, f"cannot be read: {exc}") from None
    if root_name is None:
        raise DemError(source, "empty file")
    if "mesh" not in header or text is None:
        raise DemError(source, "not a GSI DEM file (no <mesh> or no gml:tupleList)")
    return header, text


def _tile(header: dict[str, str], text: str, source: str) -> DemTile:
    mesh = header["mesh"]
    datum = _CRS_NAMES.get(header.get("srsName", "").strip().lower())
    if datum is None:
        raise DemError(source, f"unsupported srsName {header.get('srsName')!r} (expected fguuid:jgd2011.bl)")
    south, west = _pair(header, "lowerCorner", source, float)
    north, east = _pair(header, "upperCorner", source, float)
    low = _pair(header, "low", source, int)
    high = _pair(header, "high", source, int)
    cols, rows = high[0] - low[0] + 1, high[1] - low[1] + 1
    if cols <= 0 or rows <= 0:
        raise DemError(source, f"empty GridEnvelope low {low} high {high}")
    order = header.get("order", "+x-y")
    if order != "+x-y":
        raise DemError(source, f"unsupported sequenceRule order {order!r} (only +x-y is known)")
    _check_mesh(mesh, (west, south, east, north), source)
    w, s, e, n = (round(v * UNITS_PER_DEGREE) for v in (west, south, east, north))
    if (e - w) % cols or (n - s) % rows:
        raise DemError(source, f"{cols} × {rows} points do not divide the envelope into whole 0.01″ cells")
    start_x, start_y = _pair(header, "startPoint", source, int) if "startPoint" in header else (0, 0)
    values = _values(text, source)
    first = start_y * cols + start_x
    if not (0 <= start_x < cols and 0 <= start_y < rows):
        raise DemError(source, f"startPoint {start_x} {start_y} lies outside the {cols} × {rows} grid")
    if first + values.size > rows * cols:
        raise DemError(source, f"{values.size} values from point {first} overrun the {cols} × {rows} grid")
    heights = np.full(rows * cols, np.nan, np.float32)
    values[values <= NODATA] = np.nan  # −9999 (データなし, 海水面, 内水面 ...)
    heights[first : first + values.size] = values
    valid = int(np.count_nonzero(~np.isnan(values)))
    info = DemSource(
        source=source, mesh=mesh, product=_product(source, header.get("type", ""), (e - w) // cols),
        label=header.get("type", ""), datum=datum, date=header.get("timePosition") or None,
        bounds=(w / UNITS_PER_DEGREE, s / UNITS_PER_DEGREE, e / UNITS_PER_DEGREE, n / UNITS_PER_DEGREE),
        shape=(rows, cols), valid_cells=valid, nodata_cells=rows * cols - valid,
    )
    return DemTile(heights.reshape(rows, cols), w, n, (e - w) // cols, (n - s) // rows, info)


def _pair(header: dict[str, str], key: str, source: str, kind: type) -> tuple:
    parts = header.get(key, "").split()
    try:
        if len(parts) != 2:
            raise ValueError
        return kind(parts[0]), kind(parts[1])
    except ValueError:
        raise DemError(source, f"<{key}> should hold two numbers, not {header.get(key)!r}") from None


def _check_mesh(mesh: str, envelope: tuple[float, float, float, float], source: str) -> None:
    """The mesh code and the envelope must name the same square (to 0.01″)."""
    try:
        expected = mesh_bbox(mesh)
    except ValueError:
        raise DemError(source, f"<mesh> {mesh!r} is not a mesh code") from None
    if any(abs(a - b) * 3600 > 0.01 for a, b in zip(expected, envelope)):
        w, s, e, n = envelope
        raise DemError(
            source,
            f"mesh code {mesh} covers {expected[1]:.6f}–{expected[3]:.6f} N, {expected[0]:.6f}–{expected[2]:.6f} E "
            f"but the envelope says {s:.6f}–{n:.6f} N, {w:.6f}–{e:.6f} E",
        )


def _values(text: str, source: str) -> np.ndarray:
    """The heights of ``label,height`` lines, as float32 (−9999 kept)."""
    lines = text.count(",")
    numbers = _NUMBER_AFTER_COMMA.findall(text)
    if len(numbers) != lines:
        raise DemError(source, f"gml:tupleList has {lines - len(numbers)} lines without a number")
    return np.array(numbers, dtype=np.float32)


def _product(source: str, label: str, dx_units: int) -> str:
    """DEM5A etc. from the file name; else DEM<spacing in m> from the type and the grid."""
    match = _PRODUCT.search(Path(source.rsplit(":", 1)[-1]).name)
    if match:
        return f"DEM{match.group(1)}{match.group(2).upper()}"
    metres = re.match(r"(\d+)m", label)
    if metres:
        return f"DEM{metres.group(1)}"
    return f"DEM{round(dx_units / 100 * 25)}"  # 0.2″ ≈ 5 m, 0.4″ ≈ 10 m


# -- many files, zips of them --------------------------------------------------------------


def iter_dem_tiles(paths: Iterable[str | Path], warnings: list[ReadWarning]) -> Iterator[DemTile]:
    """Tiles of every DEM in ``paths`` (files, folders, zips, zips of zips); bad ones go to ``warnings``."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            members = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.name))
            yield from iter_dem_tiles(members, warnings)
        elif not path.exists():
            warnings.append(ReadWarning(str(path), None, "no such file or folder"))
        elif path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
            yield from _zip_tiles(path, str(path), warnings, depth=1)
        else:
            yield from _guarded(lambda path=path: read_dem_file(path), str(path), warnings)


def _zip_tiles(file: str | Path | IO[bytes], name: str, warnings: list[ReadWarning], depth: int) -> Iterator[DemTile]:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as exc:
        warnings.append(ReadWarning(name, None, f"not a readable zip: {exc}"))
        return
    with archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            member = f"{name}:{info.filename}"
            suffix = info.filename.lower().rsplit(".", 1)[-1]
            if info.is_dir() or not _wanted(info.filename):
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_ZIP_RATIO or info.file_size > MAX_ZIP_MEMBER_BYTES:
                warnings.append(ReadWarning(member, None, f"skipped: expands {ratio:.0f}× ({info.file_size} bytes)"))
                continue
            if suffix == "zip":
                if depth >= MAX_ZIP_DEPTH:
                    warnings.append(ReadWarning(member, None, f"skipped: zips nested deeper than {MAX_ZIP_DEPTH}"))
                    continue
                data = _read_member(archive, info, member, warnings)
                if data is not None:
                    yield from _zip_tiles(io.BytesIO(data), member, warnings, depth + 1)
                continue

            def read(info=info, member=member) -> DemTile:
                with archive.open(info) as stream:
                    return read_dem_file(stream, member)

            yield from _guarded(read, member, warnings)


def _wanted(name: str) -> bool:
    """Zips, and XML files named like GSI DEM files, inside folders and zips (other XML is not DEM)."""
    lower = name.lower()
    return lower.endswith(".zip") or (lower.endswith(".xml") and bool(_DEM_NAME.search(name.rsplit("/", 1)[-1])))


def is_gsi_dem(path: str | Path) -> bool:
    """Whether a file, zip or folder holds GSI DEM files (by their names, or an .xml's first bytes)."""
    path = Path(path)
    try:
        if path.is_dir():
            return any(p.suffix.lower() == ".xml" and _wanted(p.name) for p in path.rglob("*.xml"))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
            return any(n.lower().endswith((".xml", ".zip")) and _DEM_NAME.search(n.rsplit("/", 1)[-1]) for n in names)
        if path.suffix.lower() == ".xml":
            with path.open("rb") as handle:
                head = handle.read(4096)
            return b"FGD_GMLSchema" in head and b"<DEM" in head
    except (OSError, zipfile.BadZipFile):
        return False
    return False


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, warnings: list[ReadWarning]):
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        warnings.append(ReadWarning(member, None, f"damaged zip member skipped: {exc}"))
        return None


def _guarded(read, source: str, warnings: list[ReadWarning]) -> Iterator[DemTile]:
    """One tile, or a warning naming the file when it cannot be used."""
    try:
        tile = read()
    except DemError as exc:
        warnings.append(ReadWarning(exc.source, exc.line, exc.message))
        return
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        warnings.append(ReadWarning(source, None, f"damaged zip member skipped: {exc}"))
        return
    if tile.info.valid_cells == 0:
        warnings.append(ReadWarning(source, None, f"mesh {tile.info.mesh} holds no data (every point is −9999); skipped"))
        return
    if tile.info.datum != "JGD2011":
        warnings.append(ReadWarning(source, None, f"positions are {tile.info.datum}, used as JGD2011 "
                                                  "(they differ by up to a few metres where the 2011 quake moved the ground)"))
    yield tile


# -- the mosaic ---------------------------------------------------------------------------


def read_dem(
    paths: Iterable[str | Path] | str | Path,
    bbox: tuple[float, float, float, float] | None = None,
    max_cells: int = MAX_MOSAIC_CELLS,
) -> DemGrid:
    """Mosaic every GSI DEM in ``paths`` (xml, zips, zips of zips, folders) onto one grid.

    The grid takes the finest spacing among the files; coarser meshes are repeated onto it.
    Where meshes overlap, the finer product wins, then the better survey (A laser > B > C).
    ``bbox`` (west, south, east, north) keeps only the cells that meet it. Files that cannot
    be used become :attr:`DemGrid.warnings`; :class:`DemError` when none can.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = list(paths)
    warnings: list[ReadWarning] = []
    tiles = []
    for tile in iter_dem_tiles(paths, warnings):
        if bbox is None or _meets(tile.info.bounds, bbox):
            tiles.append(tile)
    where = ", ".join(map(str, paths)) or "no input"
    if not tiles:
        reasons = "; ".join(str(w) for w in warnings[:5]) or "no .xml DEM files found"
        raise DemError(where, f"no usable GSI DEM mesh ({reasons})")
    dx, dy = min(t.dx for t in tiles), min(t.dy for t in tiles)
    if any(t.dx % dx or t.dy % dy for t in tiles):
        raise DemError(where, "the meshes' spacings are not multiples of one another")
    west, north = min(t.west for t in tiles), max(t.north for t in tiles)
    east = max(t.west + t.dx * t.heights.shape[1] for t in tiles)
    south = min(t.north - t.dy * t.heights.shape[0] for t in tiles)
    if bbox is not None:
        west, south, east, north = _clip_units((west, south, east, north), bbox, dx, dy)
    cols, rows = (east - west) // dx, (north - south) // dy
    if rows * cols > max_cells:
        raise DemError(where, f"the mosaic would have {rows} × {cols} = {rows * cols:,} cells, over the limit of "
                              f"{max_cells:,}; pass a smaller bbox")
    heights = np.full((rows, cols), np.nan, np.float32)
    for tile in sorted(tiles, key=_priority):
        _place(heights, tile, west, north, dx, dy)
    transform = Affine(dx / UNITS_PER_DEGREE, 0.0, west / UNITS_PER_DEGREE,
                       0.0, -dy / UNITS_PER_DEGREE, north / UNITS_PER_DEGREE)
    return DemGrid(heights, transform, CRS, [t.info for t in tiles], warnings)


def _priority(tile: DemTile) -> tuple:
    """Placement order: the last placed wins, so coarse and worse surveys go first."""
    letter = _PRODUCT.search(tile.info.product)
    grade = letter.group(2) if letter and letter.group(2) else "Z"
    return (-tile.dx * tile.dy, -ord(grade[0]), tile.info.source)


def _place(heights: np.ndarray, tile: DemTile, west: int, north: int, dx: int, dy: int) -> None:
    """Write a tile's data onto the mosaic (repeated if coarser), clipped; NaN never overwrites."""
    fx, fy = tile.dx // dx, tile.dy // dy
    data = tile.heights
    if fx > 1 or fy > 1:
        data = np.repeat(np.repeat(data, fy, axis=0), fx, axis=1)
    col0, row0 = (tile.west - west) // dx, (north - tile.north) // dy
    rows, cols = heights.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + data.shape[0], rows), min(col0 + data.shape[1], cols)
    if r0 >= r1 or c0 >= c1:
        return
    window = data[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    target = heights[r0:r1, c0:c1]
    np.copyto(target, window, where=~np.isnan(window))


def _meets(bounds: tuple[float, float, float, float], bbox: tuple[float, float, float, float]) -> bool:
    return bounds[0] < bbox[2] and bbox[0] < bounds[2] and bounds[1] < bbox[3] and bbox[1] < bounds[3]


def _clip_units(extent: tuple[int, int, int, int], bbox, dx: int, dy: int) -> tuple[int, int, int, int]:
    """The mosaic extent cut to the cells meeting ``bbox``, on the mosaic's own cell lines."""
    west, south, east, north = extent
    w, s, e, n = (v * UNITS_PER_DEGREE for v in bbox)
    new_west = west + max(0, int(np.floor((w - west) / dx))) * dx
    new_east = east - max(0, int(np.floor((east - e) / dx))) * dx
    new_north = north - max(0, int(np.floor((north - n) / dy))) * dy
    new_south = south + max(0, int(np.floor((s - south) / dy))) * dy
    if new_west >= new_east or new_south >= new_north:
        raise DemError("bbox", f"{bbox} does not meet the DEM meshes")
    return new_west, new_south, new_east, new_north
