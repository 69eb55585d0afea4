"""Write the sample city, read it back with the reader: every feature comes back exactly equal."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from citygml import open_dataset
from citygml.model import Feature, Geometry
from citygml.samplecity import generate


def _assert_geometry_equal(mine: Geometry, read: Geometry, where: str) -> None:
    if mine.triangles is not None:
        assert read.triangles is not None and np.array_equal(mine.triangles, read.triangles), where
        return
    assert [(s.semantic, s.id) for s in mine.surfaces] == [(s.semantic, s.id) for s in read.surfaces], where
    ours, theirs = mine.polygons(), read.polygons()
    assert len(ours) == len(theirs), where
    for a, b in zip(ours, theirs):
        assert (a.id, a.ring_id) == (b.id, b.ring_id), where
        assert np.array_equal(a.exterior, b.exterior), f"{where}: ring {a.id}"
        assert len(b.interiors) == 0, where
        assert (a.texture is None) == (b.texture is None), f"{where}: texture of {a.id}"
        if a.texture is not None:
            assert a.texture.image == b.texture.image, where
            assert np.array_equal(a.texture.uv, b.texture.uv), where


def _assert_feature_equal(mine: Feature, read: Feature) -> None:
    where = f"{mine.type} {mine.gml_id}"
    assert (read.type, read.element) == (mine.type, mine.element), where
    assert read.attributes == mine.attributes, where
    # The generator plans risks without rank schemes; which list a rank was read with is checked below.
    assert [dataclasses.replace(r, rank_scheme=None) for r in read.risks] == mine.risks, where
    assert sorted((g.lod, g.role) for g in read.geometries) == sorted((g.lod, g.role) for g in mine.geometries)
    for g in mine.geometries:
        _assert_geometry_equal(g, read.geometry(g.lod, g.role), f"{where} lod{g.lod} {g.role}")
    assert len(read.parts) == len(mine.parts), where
    for a, b in zip(mine.parts, read.parts):
        _assert_feature_equal(a, b)


@pytest.mark.parametrize(("iur", "textures"), [("3.1", True), ("2.0", False), ("1.4", False)])
def test_reader_returns_exactly_what_the_generator_planned(tmp_path, iur, textures):
    city = generate(tmp_path / "city", buildings=700, seed=5, iur=iur, textures=textures)
    planned = {f.gml_id: f for f in city.features}
    with open_dataset(city.out) as dataset:
        read = {f.gml_id: f for f in dataset.features()}
    assert read.keys() == planned.keys()
    assert {f.type for f in read.values()} == {"bldg", "dem", "tran", "fld", "brid", "wtr", "luse"}
    for gml_id, feature in planned.items():
        _assert_feature_equal(feature, read[gml_id])
    kinds = {r.kind for f in planned.values() for m in [f, *f.parts] for r in m.risks}
    assert {"river", "inland"} <= kinds
    schemes = {(r.rank_scheme.name, r.rank_scheme.origin) for f in read.values() if f.type == "bldg"
               for m in [f, *f.parts] for r in m.risks if r.rank is not None}
    if iur == "1.4":  # a generic attribute 浸水ランク, no list
        assert {origin for _, origin in schemes} == {"no list (i-UR 1.4 generic attribute)"}
    else:  # each rank with the dataset's own list its codeSpace names
        prefix = "Building" if iur == "2.0" else ""
        assert schemes == {(f"{prefix}RiverFloodingRiskAttribute_rank", "dataset"),
                           (f"{prefix}InlandFloodingRiskAttribute_rank", "dataset")}
    _assert_generation_markers(city.out, iur)
    if textures:
        assert any(p.texture for f in planned.values() for m in [f, *f.parts] for g in m.geometries
                   for p in g.polygons())


def _assert_generation_markers(out, iur: str) -> None:
    """Each i-UR generation encodes flood risk its own way (see the PLATEAU samples)."""
    texts = "".join(p.read_text("utf-8") for p in out.glob("udx/bldg/*.gml"))
    if iur == "3.1":
        assert "<uro:bldgDisasterRiskAttribute>" in texts and "<uro:duration uom=\"hour\">" in texts
    elif iur == "2.0":
        assert "<uro:buildingDisasterRiskAttribute>" in texts and "<uro:BuildingRiverFloodingRiskAttribute>" in texts
        assert "bldgDisasterRiskAttribute" not in texts and "<bldg:lod0FootPrint>" in texts
    else:
        assert 'xmlns:uro="http://www.kantei.go.jp/jp/singi/tiiki/toshisaisei/itoshisaisei/iur/uro/1.4"' in texts
        assert '<gen:genericAttributeSet name="荒川水系新河岸川洪水浸水想定区域（計画規模）">' in texts
        assert '<gen:measureAttribute name="浸水深">' in texts and "uro:buildingIDAttribute" not in texts
