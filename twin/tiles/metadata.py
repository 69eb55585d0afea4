"""Per-building properties written into tiles as an EXT_structural_metadata property table.

The schema has one class, ``building``; missing values are stored as the property's
``noData`` value, which metadata-aware clients (CesiumJS) read back as undefined.
See EXT_structural_metadata and the 3D Metadata Specification (3D Tiles 1.1, OGC 22-025r4,
§ Metadata), "Binary Table Format".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from citygml.model import Feature

SCHEMA_ID = "machi_twin_buildings"
CLASS_NAME = "building"

# name → (class property definition, numpy dtype or None for strings)
_PROPERTIES: dict[str, tuple[dict, type | None]] = {
    "gml_id": ({"type": "STRING", "required": True, "description": "CityGML gml:id"}, None),
    "usage": ({"type": "STRING", "noData": "", "description": "bldg:usage label from the dataset's codelist"}, None),
    "usage_code": ({"type": "STRING", "noData": "", "description": "bldg:usage code"}, None),
    "height": ({"type": "SCALAR", "componentType": "FLOAT32", "noData": -1.0,
                "description": "measuredHeight, metres"}, np.float32),
    "storeys": ({"type": "SCALAR", "componentType": "INT16", "noData": -1,
                 "description": "storeysAboveGround"}, np.int16),
    "flood_depth_max": ({"type": "SCALAR", "componentType": "FLOAT32", "noData": -1.0,
                         "description": "largest official flood depth over all flooding risks, metres"},
                        np.float32),
    "flood_rank_max": ({"type": "SCALAR", "componentType": "INT16", "noData": -1,
                        "description": "largest official flood depth rank code"}, np.int16),
    "lod": ({"type": "SCALAR", "componentType": "INT16", "noData": -1,
             "description": "LOD of the geometry in this tile"}, np.int16),
}


@dataclass(frozen=True, slots=True)
class BuildingProperties:
    """What a tile says about one building; None means unknown."""

    gml_id: str
    usage: str | None = None
    usage_code: str | None = None
    height: float | None = None
    storeys: int | None = None
    flood_depth_max: float | None = None
    flood_rank_max: int | None = None
    lod: int | None = None

    @classmethod
    def from_feature(cls, feature: Feature) -> BuildingProperties:
        """Properties read from a building feature; ``lod`` is left for the tile writer."""
        usage = feature.usage
        height = feature.measured_height
        storeys = feature.storeys
        flooding = feature.flood_risks
        depths = [r.depth_m for r in flooding if r.depth_m is not None and 0 <= r.depth_m < 9999]
        ranks = [int(r.rank.code) for r in flooding if r.rank is not None and r.rank.code.isdigit()]
        return cls(
            gml_id=feature.gml_id,
            usage=usage.label if usage is not None else None,
            usage_code=usage.code if usage is not None else None,
            height=height if height is not None and 0 < height < 9999 else None,
            storeys=storeys if storeys is not None and 0 <= storeys < 9999 else None,
            flood_depth_max=max(depths, default=None),
            flood_rank_max=max(ranks, default=None),
        )

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in _PROPERTIES}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> BuildingProperties:
        return cls(**json.loads(line))


assert [f.name for f in fields(BuildingProperties)] == list(_PROPERTIES)


def schema() -> dict:
    """The EXT_structural_metadata schema object."""
    return {"id": SCHEMA_ID, "classes": {CLASS_NAME: {
        "name": "Building", "properties": {name: d for name, (d, _) in _PROPERTIES.items()}}}}


def table_columns(rows: Sequence[BuildingProperties]) -> dict[str, list[bytes]]:
    """Binary columns per property: [values] for numbers, [values, string offsets] for strings.

    String offsets are UINT32 (the default ``stringOffsetType``), count + 1 of them.
    An optional property that no row has is left out: readers then see noData for all
    rows, and no empty bufferView is written (glTF requires byteLength ≥ 1).
    """
    columns: dict[str, list[bytes]] = {}
    for name, (definition, dtype) in _PROPERTIES.items():
        values = [getattr(row, name) for row in rows]
        if not definition.get("required") and all(v is None for v in values):
            continue
        if dtype is None:
            encoded = [(v if v is not None else definition.get("noData", "")).encode("utf-8") for v in values]
            offsets = np.concatenate([[0], np.cumsum([len(e) for e in encoded])]).astype(np.uint32)
            data = b"".join(encoded)
            if not data and not definition.get("required"):
                continue  # every value is the noData ""
            # A bufferView may be longer than the strings; it may not be empty.
            columns[name] = [data or b"\0", offsets.tobytes()]
        else:
            no_data = definition["noData"]
            array = np.array([no_data if v is None else v for v in values], dtype=dtype)
            columns[name] = [array.tobytes()]
    return columns


def decode_table(table: dict, views: list[bytes]) -> list[dict[str, object]]:
    """Rows of a property table written by this module (``views``: bytes per bufferView).

    Values equal to ``noData`` come back as None. Used by tests and by tools that read tiles.
    """
    count = table["count"]
    decoded: dict[str, list] = {name: [None] * count for name in _PROPERTIES}
    for name, spec in table["properties"].items():
        definition, dtype = _PROPERTIES[name]
        no_data = definition.get("noData")
        if dtype is None:
            data = views[spec["values"]]
            offsets = np.frombuffer(views[spec["stringOffsets"]], np.uint32, count + 1)
            values = [data[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(count)]
        else:
            values = np.frombuffer(views[spec["values"]], dtype, count).tolist()
        decoded[name] = [None if v == no_data else v for v in values]
    return [{name: decoded[name][i] for name in decoded} for i in range(count)]
