"""A small binary glTF 2.0 (glb) writer for triangle meshes, textures and property tables.

Layout follows glTF 2.0 §4.4 (GLB: 12-byte header, JSON chunk padded with spaces, BIN
chunk padded with zeros, both to 4 bytes). Every bufferView starts on an 8-byte
boundary, which satisfies vertex attributes (4) and EXT_structural_metadata's table
columns (8).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

import numpy as np

GLB_MAGIC = 0x46546C67  # "glTF"
_JSON_CHUNK = 0x4E4F534A
_BIN_CHUNK = 0x004E4942
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_COMPONENT = {np.dtype(np.float32): 5126, np.dtype(np.uint32): 5125,
              np.dtype(np.uint16): 5123, np.dtype(np.uint8): 5121}
_TYPE = {1: "SCALAR", 2: "VEC2", 3: "VEC3"}


@dataclass
class GltfBuilder:
    """Accumulates buffer views, accessors, materials and meshes of a one-node glTF."""

    json: dict = field(default_factory=lambda: {
        "asset": {"version": "2.0", "generator": "machi-twin"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": []}], "buffers": [{"byteLength": 0}],
        "bufferViews": [], "accessors": []})
    _chunks: list[bytes] = field(default_factory=list)
    _length: int = 0

    def buffer_view(self, data: bytes, target: int | None = None) -> int:
        """Append bytes as a new bufferView (8-byte aligned); its index."""
        pad = -self._length % 8
        if pad:
            self._chunks.append(b"\0" * pad)
            self._length += pad
        view = {"buffer": 0, "byteOffset": self._length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self._chunks.append(data)
        self._length += len(data)
        self.json["bufferViews"].append(view)
        return len(self.json["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, target: int | None = _ARRAY_BUFFER,
                 bounds: bool = False) -> int:
        """A tightly packed accessor over ``array`` ((n,) or (n, k)); its index."""
        array = np.ascontiguousarray(array)
        width = 1 if array.ndim == 1 else array.shape[1]
        accessor = {"bufferView": self.buffer_view(array.tobytes(), target),
                    "componentType": _COMPONENT[array.dtype], "count": len(array),
                    "type": _TYPE[width]}
        if bounds:
            rows = array.reshape(len(array), width)
            accessor["min"] = rows.min(axis=0).tolist()
            accessor["max"] = rows.max(axis=0).tolist()
        self.json["accessors"].append(accessor)
        return len(self.json["accessors"]) - 1

    def material(self, material: dict) -> int:
        self.json.setdefault("materials", []).append(material)
        return len(self.json["materials"]) - 1

    def texture(self, image: bytes, mime_type: str) -> int:
        """An embedded image with a linear, clamped sampler; the texture's index."""
        images = self.json.setdefault("images", [])
        images.append({"bufferView": self.buffer_view(image), "mimeType": mime_type})
        samplers = self.json.setdefault("samplers", [])
        if not samplers:
            samplers.append({"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071})
        self.json.setdefault("textures", []).append({"source": len(images) - 1, "sampler": 0})
        return len(self.json["textures"]) - 1

    def primitive(self, positions: np.ndarray, normals: np.ndarray, indices: np.ndarray,
                  material: int, uv: np.ndarray | None = None,
                  feature_ids: np.ndarray | None = None, extensions: dict | None = None) -> None:
        """A triangle primitive; ``feature_ids`` become the ``_FEATURE_ID_0`` attribute (FLOAT)."""
        attributes = {"POSITION": self.accessor(positions.astype(np.float32), bounds=True),
                      "NORMAL": self.accessor(normals.astype(np.float32))}
        if uv is not None:
            attributes["TEXCOORD_0"] = self.accessor(uv.astype(np.float32))
        if feature_ids is not None:
            # FLOAT holds integer ids exactly up to 2**24 and keeps 4-byte alignment.
            attributes["_FEATURE_ID_0"] = self.accessor(feature_ids.astype(np.float32))
        flat = indices.reshape(-1)
        index_type = np.uint16 if len(positions) <= 0xFFFF else np.uint32
        primitive = {"attributes": attributes, "mode": 4, "material": material,
                     "indices": self.accessor(flat.astype(index_type), _ELEMENT_ARRAY_BUFFER)}
        if extensions:
            primitive["extensions"] = extensions
        self.json["meshes"][0]["primitives"].append(primitive)

    def use_extension(self, name: str) -> None:
        used = self.json.setdefault("extensionsUsed", [])
        if name not in used:
            used.append(name)

    def to_glb(self) -> bytes:
        binary = b"".join(self._chunks)
        binary += b"\0" * (-len(binary) % 4)
        self.json["buffers"][0]["byteLength"] = len(binary)
        text = json.dumps(self.json, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        text += b" " * (-len(text) % 4)
        total = 12 + 8 + len(text) + 8 + len(binary)
        return b"".join([struct.pack("<III", GLB_MAGIC, 2, total),
                         struct.pack("<II", len(text), _JSON_CHUNK), text,
                         struct.pack("<II", len(binary), _BIN_CHUNK), binary])


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """The JSON and BIN chunks of a glb."""
    magic, version, total = struct.unpack_from("<III", data, 0)
    if magic != GLB_MAGIC or version != 2 or total != len(data):
        raise ValueError("not a glTF 2.0 binary")
    json_length, _ = struct.unpack_from("<II", data, 12)
    document = json.loads(data[20:20 + json_length])
    start = 20 + json_length
    bin_length, _ = struct.unpack_from("<II", data, start)
    return document, data[start + 8:start + 8 + bin_length]


def accessor_array(document: dict, binary: bytes, index: int) -> np.ndarray:
    """The values of a tightly packed accessor as a numpy array ((n,) or (n, k))."""
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    dtype = {v: k for k, v in _COMPONENT.items()}[accessor["componentType"]]
    width = {v: k for k, v in _TYPE.items()}[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    values = np.frombuffer(binary, dtype, accessor["count"] * width, start)
    return values if width == 1 else values.reshape(-1, width)


def buffer_views(document: dict, binary: bytes) -> list[bytes]:
    """Bytes of every bufferView."""
    return [binary[v.get("byteOffset", 0):v.get("byteOffset", 0) + v["byteLength"]]
            for v in document["bufferViews"]]
