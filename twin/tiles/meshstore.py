"""Intermediate stores of building meshes: the hand-over from per-file tasks to the tiler.

A task meshes the buildings of one CityGML file and writes one *batch*: a folder of
``.npy`` arrays (read back memory-mapped, so the merge step touches only the buildings
of the tile it is writing), a JSON-lines file of properties, and the textures the
meshes use, copied as JPEG/PNG (TIFF is re-encoded to PNG here, once per image).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from twin.tiles.meshes import Mesh
from twin.tiles.metadata import BuildingProperties

_ARRAYS = ("positions", "normals", "uv", "indices", "triangle_image", "vertex_offsets",
           "triangle_offsets", "origins", "bounds", "lods", "image_bytes")


def image_mime(data: bytes) -> str | None:
    """The MIME type of JPEG or PNG bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return None


def web_image(data: bytes) -> tuple[bytes, str]:
    """JPEG and PNG as they are; anything Pillow reads (TIFF, ...) re-encoded to PNG."""
    mime = image_mime(data)
    if mime is not None:
        return data, mime
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(out, format="PNG")
    return out.getvalue(), "image/png"


class MeshBatchWriter:
    """Collects (mesh, properties) of one task and writes them as a batch folder.

    ``open_image(key)`` returns the bytes of a texture named in ``Mesh.images`` (raise
    OSError/KeyError when it is missing: those triangles are kept, untextured).
    """

    def __init__(self, folder: Path | str, open_image: Callable[[str], bytes | None] | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "images").mkdir(exist_ok=True)
        self._open_image = open_image
        self._meshes: list[Mesh] = []
        self._properties: list[BuildingProperties] = []
        self._images: dict[str, int] = {}  # source key → index in image_names (−1: unreadable)
        self.image_names: list[str] = []
        self.image_sizes: list[int] = []
        self.missing_images: list[str] = []

    def add(self, mesh: Mesh, properties: BuildingProperties) -> None:
        if mesh.triangle_image is not None:
            # The trailing −1 maps untextured triangles (index −1) to themselves.
            lookup = np.array([self._image(key) for key in mesh.images] + [-1], np.int32)
            mesh.triangle_image = lookup[mesh.triangle_image]
        self._meshes.append(mesh)
        self._properties.append(properties if properties.lod is not None else replace(properties, lod=mesh.lod))

    def _image(self, key: str) -> int:
        if key not in self._images:
            self._images[key] = -1
            try:
                raw = self._open_image(key) if self._open_image else None
            except (OSError, KeyError):
                raw = None
            if raw is None:
                self.missing_images.append(key)
            else:
                data, mime = web_image(raw)
                name = hashlib.sha1(data).hexdigest()[:20] + (".png" if mime == "image/png" else ".jpg")
                (self.folder / "images" / name).write_bytes(data)
                self._images[key] = len(self.image_names)
                self.image_names.append(name)
                self.image_sizes.append(len(data))
        return self._images[key]

    def close(self) -> Path:
        """Write the arrays and properties; the batch folder."""
        meshes = self._meshes
        vertex_counts = [len(m.positions) for m in meshes]
        triangle_counts = [len(m.indices) for m in meshes]
        sizes = np.array(self.image_sizes + [0], np.int64)
        arrays = {
            "positions": _stack([m.positions for m in meshes], (0, 3), np.float32),
            "normals": _stack([m.normals for m in meshes], (0, 3), np.float32),
            "uv": _stack([m.uv if m.uv is not None else np.zeros((len(m.positions), 2), np.float32)
                          for m in meshes], (0, 2), np.float32),
            "indices": _stack([m.indices for m in meshes], (0, 3), np.uint32),
            "triangle_image": _stack([m.triangle_image if m.triangle_image is not None
                                      else np.full(len(m.indices), -1, np.int32) for m in meshes],
                                     (0,), np.int32),
            "vertex_offsets": np.concatenate([[0], np.cumsum(vertex_counts)]).astype(np.int64),
            "triangle_offsets": np.concatenate([[0], np.cumsum(triangle_counts)]).astype(np.int64),
            "origins": np.array([m.origin for m in meshes], np.float64).reshape(-1, 3),
            "bounds": np.array([m.bounds for m in meshes], np.float64).reshape(-1, 6),
            "lods": np.array([m.lod for m in meshes], np.int8),
            # Bytes each building adds to a tile, counting each of its images fully.
            "image_bytes": np.array([sizes[np.unique(m.triangle_image)].sum()
                                     if m.triangle_image is not None else 0 for m in meshes],
                                    np.int64),
        }
        for name, array in arrays.items():
            np.save(self.folder / f"{name}.npy", array)
        with open(self.folder / "properties.jsonl", "w", encoding="utf-8") as out:
            out.writelines(p.to_json() + "\n" for p in self._properties)
        (self.folder / "images.json").write_text(json.dumps(self.image_names))
        self._meshes, self._properties = [], []
        return self.folder

    def __enter__(self) -> MeshBatchWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()


def _stack(parts: list[np.ndarray], empty: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(empty, dtype)


@dataclass
class MeshSet:
    """Buildings of one batch with their arrays concatenated (see ``MeshBatch.gather``).

    ``indices`` index the set's vertices; ``vertex_building`` gives each vertex's building
    (0 … len−1, in the order asked for); ``triangle_image`` indexes the batch's
    ``image_names`` (−1: untextured) and ``uv`` is zero where there is no texture.
    """

    origins: np.ndarray  # (b, 3) lon, lat, h of each building's ENU frame
    bounds: np.ndarray  # (b, 6)
    lods: np.ndarray  # (b,)
    positions: np.ndarray  # (v, 3) float32, each in its building's ENU frame
    normals: np.ndarray  # (v, 3) float32
    uv: np.ndarray  # (v, 2) float32
    indices: np.ndarray  # (t, 3) int64
    vertex_building: np.ndarray  # (v,)
    triangle_image: np.ndarray  # (t,) int32


def concat_sets(sets: list[MeshSet]) -> MeshSet:
    """One set of several, indices and building numbers shifted to their place."""
    vertex_shift = np.cumsum([0] + [len(s.positions) for s in sets])
    building_shift = np.cumsum([0] + [len(s.origins) for s in sets])
    return MeshSet(
        origins=np.concatenate([s.origins for s in sets]), bounds=np.concatenate([s.bounds for s in sets]),
        lods=np.concatenate([s.lods for s in sets]), positions=np.concatenate([s.positions for s in sets]),
        normals=np.concatenate([s.normals for s in sets]), uv=np.concatenate([s.uv for s in sets]),
        indices=np.concatenate([s.indices + v for s, v in zip(sets, vertex_shift)]),
        vertex_building=np.concatenate([s.vertex_building + b for s, b in zip(sets, building_shift)]),
        triangle_image=np.concatenate([s.triangle_image for s in sets]),
    )


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + c)`` over ``starts`` and ``counts``, without a loop."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(ends[-1] if len(ends) else 0)


class MeshBatch:
    """A batch folder opened for reading; arrays are memory-mapped."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self._arrays = {n: np.load(self.folder / f"{n}.npy", mmap_mode="r") for n in _ARRAYS}
        self.image_names: list[str] = json.loads((self.folder / "images.json").read_text())

    def __len__(self) -> int:
        return len(self._arrays["origins"])

    @property
    def origins(self) -> np.ndarray:
        return np.asarray(self._arrays["origins"])

    @property
    def bounds(self) -> np.ndarray:
        return np.asarray(self._arrays["bounds"])

    def estimated_bytes(self) -> np.ndarray:
        """Per building: vertex attributes, indices and images it brings into a tile."""
        a = self._arrays
        vertices = np.diff(a["vertex_offsets"])
        triangles = np.diff(a["triangle_offsets"])
        return vertices * 36 + triangles * 12 + np.asarray(a["image_bytes"])

    def property_lines(self) -> list[str]:
        """The properties of each building as unparsed JSON lines (parse only those needed)."""
        with open(self.folder / "properties.jsonl", encoding="utf-8") as lines:
            return lines.readlines()

    def gather(self, which: np.ndarray) -> MeshSet:
        """Buildings ``which`` (indices into the batch) as one set of concatenated arrays."""
        a = self._arrays
        which = np.asarray(which, np.int64)
        vertex_offsets, triangle_offsets = np.asarray(a["vertex_offsets"]), np.asarray(a["triangle_offsets"])
        v_start, v_count = vertex_offsets[which], np.diff(vertex_offsets)[which]
        t_start, t_count = triangle_offsets[which], np.diff(triangle_offsets)[which]
        vertices, triangles = _ranges(v_start, v_count), _ranges(t_start, t_count)
        # Vertex indices are per building; shift them to the building's place in the set.
        shift = np.repeat(np.cumsum(v_count) - v_count, t_count)
        return MeshSet(
            origins=np.asarray(a["origins"][which]), bounds=np.asarray(a["bounds"][which]),
            lods=np.asarray(a["lods"][which]), positions=np.asarray(a["positions"][vertices]),
            normals=np.asarray(a["normals"][vertices]), uv=np.asarray(a["uv"][vertices]),
            indices=np.asarray(a["indices"][triangles], np.int64) + shift[:, None],
            vertex_building=np.repeat(np.arange(len(which)), v_count),
            triangle_image=np.asarray(a["triangle_image"][triangles]),
        )

    def image_path(self, name: str) -> Path:
        return self.folder / "images" / name
