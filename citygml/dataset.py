"""PLATEAU datasets: a folder, a .zip read in place, or single .gml files.

Discovery finds ``udx/<type>/…/*.gml`` with their mesh codes and the ``codelists/``
folder, so that callers can pick files by type, mesh code or lon/lat box before parsing.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np

from citygml.codelists import Codelists
from citygml.errors import CityGMLError, ReadWarning
from citygml.meshcode import mesh_bbox
from citygml.model import Feature
from citygml.reader import STREAM_ERRORS, FeatureReader, FileInfo

BBox = tuple[float, float, float, float]
_FILE_NAME = re.compile(r"^(?P<mesh>\d{6}|\d{8})_(?P<type>[a-z]+)_(?P<epsg>\d{4,5})(?:_(?P<option>.*))?$")
#: Zip members whose uncompressed size exceeds this many times their compressed size are refused.
MAX_ZIP_RATIO = 200
MAX_ZIP_MEMBER_BYTES = 8 << 30
#: Read size when checking a zip member's CRC before parsing it.
_CHECK_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One CityGML file of a dataset: where it is and what its path and name say."""

    name: str  # POSIX path inside the dataset, e.g. udx/bldg/53396677_bldg_6697_op.gml
    type: str
    mesh: str | None
    epsg: int | None
    size: int

    @property
    def bbox(self) -> BBox | None:
        """Lon/lat box of the file's mesh code, when its name has one."""
        try:
            return mesh_bbox(self.mesh) if self.mesh else None
        except ValueError:
            return None


def describe(name: str, size: int) -> DatasetFile:
    """A DatasetFile from a dataset-relative path, reading type and mesh from path and name."""
    parts = PurePosixPath(name).parts
    match = _FILE_NAME.match(PurePosixPath(name).stem)
    type_code = None
    if "udx" in parts and parts.index("udx") + 2 < len(parts):
        type_code = parts[parts.index("udx") + 1]
    if type_code is None and match:
        type_code = match.group("type")
    return DatasetFile(
        name=name,
        type=type_code or "",
        mesh=match.group("mesh") if match else None,
        epsg=int(match.group("epsg")) if match else None,
        size=size,
    )


class Dataset(AbstractContextManager):
    """A PLATEAU dataset opened for streaming reads; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.warnings: list[ReadWarning] = []
        self.file_infos: list[FileInfo] = []
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""  # inside a zip: the folder that holds udx/ and codelists/
        self._members: dict[str, str] = {}  # dataset-relative name → zip member name
        self._damaged: dict[str, str] = {}  # zip member name → what is wrong with it ('' when checked and sound)
        self._codelist_listing: dict[str, str] | None = None
        if not self.path.exists():
            raise CityGMLError(str(self.path), "no such file or folder")
        if self.path.is_dir():
            self.root = self.path
            self.files = self._scan_folder()
        elif zipfile.is_zipfile(self.path):
            self.root = self.path
            self.files = self._scan_zip()
        elif self.path.suffix.lower() in (".gml", ".xml"):
            self.root = self.path.parent
            self.files = [describe(self.path.name, self.path.stat().st_size)]
        else:
            raise CityGMLError(str(self.path), "not a PLATEAU dataset (expected a folder, a .zip or a .gml file)")
        self.codelists = Codelists(self._codelist_bytes)

    # -- discovery ------------------------------------------------------------------

    def _scan_folder(self) -> list[DatasetFile]:
        found = []
        for path in sorted(self.path.rglob("*.gml")):
            if not path.is_file():
                continue
            if path.is_symlink() and not path.resolve().is_relative_to(self.path.resolve()):
                self._warn(str(path), "symbolic link out of the dataset skipped")
                continue
            found.append(describe(path.relative_to(self.path).as_posix(), path.stat().st_size))
        return found

    def _scan_zip(self) -> list[DatasetFile]:
        try:
            self._zip = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile as exc:
            raise CityGMLError(str(self.path), f"broken zip file: {exc}") from None
        infos = self._zip.infolist()
        names = [i.filename for i in infos]
        self._prefix = _dataset_prefix(names)
        found = []
        for info in infos:
            name = info.filename
            if not _safe_member(name) or _is_symlink(info):
                self._warn(f"{self.path}:{name}", "unsafe zip member path skipped")
                continue
            if info.is_dir() or not name.startswith(self._prefix):
                continue
            relative = name[len(self._prefix):]
            self._members[relative] = name
            if not relative.lower().endswith(".gml"):
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > MAX_ZIP_RATIO or info.file_size > MAX_ZIP_MEMBER_BYTES:
                self._warn(f"{self.path}:{name}", f"skipped: expands {ratio:.0f}× ({info.file_size} bytes), a zip bomb?")
                continue
            found.append(describe(relative, info.file_size))
        return sorted(found, key=lambda f: f.name)

    def _warn(self, source: str, message: str) -> None:
        self.warnings.append(ReadWarning(source, None, message))

    # -- access ---------------------------------------------------------------------

    def open(self, file: DatasetFile | str) -> IO[bytes]:
        """A binary stream of one dataset file (a zip member is streamed, not unpacked).

        A zip member is read through once first, so that a damaged one (CRC error, truncated
        data) is a CityGMLError naming it before any of its content is used.
        """
        name = file.name if isinstance(file, DatasetFile) else file
        if self._zip is not None:
            member = self._members.get(name)
            if member is None:
                raise FileNotFoundError(f"{self.path}:{name}")
            self._check_member(member)
            return self._zip.open(member)
        path = self.root / name
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise FileNotFoundError(f"{name}: outside the dataset")
        return path.open("rb")

    def _check_member(self, member: str) -> None:
        if member not in self._damaged:
            try:
                assert self._zip is not None  # members are checked only in a zip dataset
                with self._zip.open(member) as stream:  # zipfile checks the CRC on reaching the end
                    while stream.read(_CHECK_CHUNK):
                        pass
                self._damaged[member] = ""
            except STREAM_ERRORS as exc:
                self._damaged[member] = f"damaged zip member ({exc or type(exc).__name__}), skipped"
        if self._damaged[member]:
            raise CityGMLError(f"{self.path}:{member}", self._damaged[member])

    def read_bytes(self, name: str) -> bytes | None:
        """Bytes of a dataset file such as a texture image; None (with a warning if damaged) if unreadable."""
        try:
            with self.open(name) as stream:
                return stream.read()
        except (FileNotFoundError, IsADirectoryError):
            return None
        except CityGMLError as exc:
            if not any(w.source == exc.source for w in self.warnings):
                self._warn(exc.source, exc.message)
            return None

    def _codelist_bytes(self, file_name: str) -> bytes | None:
        """A codelist by file name; a name that differs only in case is taken too (some datasets'
        codeSpaces say ``Building_BuildingStructureType.xml`` for ``Building_buildingStructureType.xml``)."""
        folder = self._codelist_folder()
        if folder is None:
            return None
        names = self._codelist_names(folder)
        actual = file_name if file_name in names else names.get(file_name.lower())
        if actual is None:
            return None
        if isinstance(folder, str):
            return self.read_bytes(f"{folder}/{actual}")
        return (folder / actual).read_bytes()

    def _codelist_folder(self) -> str | Path | None:
        """``codelists`` inside the dataset, or (for a single .gml) the one beside its dataset folder."""
        if self._zip is not None or self.path.is_dir():
            return "codelists"
        # A single .gml inside a dataset folder: udx/bldg/x.gml → ../../codelists.
        return next((f / "codelists" for f in (self.root, *list(self.root.parents)[:3]) if (f / "codelists").is_dir()), None)

    def _codelist_names(self, folder: str | Path) -> dict[str, str]:
        """File names in the codelist folder, each also under its lower-case form (listed once)."""
        if self._codelist_listing is None:
            if isinstance(folder, str) and self._zip is not None:
                found = [n.rpartition("/")[2] for n in self._members if n.startswith(f"{folder}/")]
            else:
                path = self.root / folder if isinstance(folder, str) else folder
                found = [p.name for p in path.iterdir() if p.is_file()] if path.is_dir() else []
            self._codelist_listing = {**{n.lower(): n for n in found}, **{n: n for n in found}}
        return self._codelist_listing

    # -- selection and reading ------------------------------------------------------

    def select(
        self,
        types: Iterable[str] | None = None,
        meshes: Iterable[str] | None = None,
        bbox: BBox | None = None,
    ) -> list[DatasetFile]:
        """Files of the given PLATEAU types, mesh codes (prefixes match) and lon/lat box."""
        wanted_types = set(types) if types else None
        wanted_meshes = tuple(meshes) if meshes else None
        chosen = []
        for file in self.files:
            if wanted_types and file.type not in wanted_types:
                continue
            if wanted_meshes and not (file.mesh and any(_mesh_match(file.mesh, m) for m in wanted_meshes)):
                continue
            if bbox and file.bbox and not _intersects(file.bbox, bbox):
                continue
            chosen.append(file)
        return chosen

    def reader(self, file: DatasetFile, textures: bool = True) -> FeatureReader:
        """A streaming reader for one file, decoding codes with this dataset's codelists."""
        parent = PurePosixPath(file.name).parent.as_posix()
        return FeatureReader(
            lambda: self.open(file),
            source=self._source_name(file),
            type_code=file.type or None,
            codelists=self.codelists,
            textures=textures,
            image_base="" if parent == "." else f"{parent}/",
        )

    def features(
        self,
        types: Iterable[str] | None = None,
        meshes: Iterable[str] | None = None,
        bbox: BBox | None = None,
        textures: bool = True,
    ) -> Iterator[Feature]:
        """Stream the features of the selected files, one file after another.

        A file that cannot be read at all is recorded in :attr:`warnings` and skipped.
        """
        for file in self.select(types, meshes, bbox):
            reader = self.reader(file, textures)
            try:
                for feature in reader:
                    if bbox is None or feature_in(feature, bbox):
                        yield feature
            except CityGMLError as exc:
                reader.info.warn(exc.message, exc.line)
            finally:
                self.file_infos.append(reader.info)

    def _source_name(self, file: DatasetFile) -> str:
        return f"{self.path}:{file.name}" if self._zip is not None else str(self.root / file.name)

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_dataset(path: str | Path) -> Dataset:
    """Open a dataset folder, a .zip of one, or a single .gml file."""
    return Dataset(path)


def read_file(path: str | Path, textures: bool = True) -> Iterator[Feature]:
    """Stream the features of one .gml file (codelists found beside its dataset if any)."""
    with Dataset(path) as dataset:
        file = dataset.files[0]
        yield from dataset.reader(file, textures)


def _dataset_prefix(names: list[str]) -> str:
    """The folder inside a zip that holds ``udx/`` (often the dataset's own name)."""
    for name in names:
        index = name.find("udx/")
        if index == 0 or (index > 0 and name[index - 1] == "/"):
            return name[:index]
    return ""


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not (path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name))


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def _mesh_match(mesh: str, wanted: str) -> bool:
    return mesh.startswith(wanted) or wanted.startswith(mesh)


def _intersects(a: BBox, b: BBox) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def feature_in(feature: Feature, bbox: BBox) -> bool:
    """True when the feature's lon/lat box meets ``bbox`` (or it has no geometry to tell)."""
    box = feature_bbox(feature)
    return box is None or _intersects(box, bbox)


def feature_bbox(feature: Feature) -> BBox | None:
    """Lon/lat box of all of a feature's geometry (and its parts'), None without geometry."""
    arrays = []
    for geometry in feature.geometries:
        if geometry.triangles is not None:
            arrays.append(geometry.triangles.reshape(-1, 3)[:, :2])
        arrays.extend(p.exterior[:, :2] for p in geometry.polygons())
    for part in feature.parts:
        box = feature_bbox(part)
        if box:
            arrays.append(np.array([[box[1], box[0]], [box[3], box[2]]]))
    if not arrays:
        return None
    points = np.concatenate(arrays)
    lat_min, lon_min = points.min(axis=0)
    lat_max, lon_max = points.max(axis=0)
    return float(lon_min), float(lat_min), float(lon_max), float(lat_max)
