"""Flood ranks: each read with its own list, kept with its scheme, its depth range from the label."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from lxml import etree

from citygml import open_dataset
from citygml.codelists import parse_dictionary, standard_lists
from citygml.model import Feature
from citygml.ranks import RankScheme, depth_range_of_label
from tests.citygml.gml_text import city_model


def features(path: Path, **kw) -> list[Feature]:
    with open_dataset(path) as dataset:
        return list(dataset.features(**kw))


def test_depth_ranges_of_the_standard_river_rank_list(koshigaya):
    # Koshigaya's RiverFloodingRiskAttribute_rank.xml: the six MLIT classes as PLATEAU labels them.
    table = parse_dictionary((koshigaya / "codelists" / "RiverFloodingRiskAttribute_rank.xml").read_bytes())
    assert {code: depth_range_of_label(label) for code, label in table.items()} == {
        "1": (0.0, 0.5), "2": (0.5, 3.0), "3": (3.0, 5.0), "4": (5.0, 10.0), "5": (10.0, 20.0), "6": (20.0, math.inf)}


def test_depth_ranges_of_a_municipalitys_own_nine_classes(yokosuka):
    table = parse_dictionary((yokosuka / "codelists" / "BuildingTsunamiRiskAttribute_rankOrg.xml").read_bytes())
    ranges = [depth_range_of_label(table[str(code)]) for code in range(1, 10)]
    assert ranges == [(0.01, 0.3), (0.3, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0), (5.0, 10.0),
                      (10.0, 20.0), (20.0, math.inf)]


def test_reservoir_ranks_are_a_scale_of_their_own():
    # 標準製品仕様書 第5.0版 4.9.4.2.7: ReservoirFloodingRiskAttribute_rank (ため池ハザードマップ作成の手引き).
    lists = standard_lists("3.2")
    reservoir = RankScheme("ReservoirFloodingRiskAttribute_rank", tuple(lists["ReservoirFloodingRiskAttribute_rank"].items()),
                           "bundled i-UR 3.2")
    river = RankScheme("RiverFloodingRiskAttribute_rank", tuple(lists["RiverFloodingRiskAttribute_rank"].items()),
                       "bundled i-UR 3.2")
    assert reservoir.depth_range("4") == (2.0, 3.0) and river.depth_range("4") == (5.0, 10.0)
    assert not reservoir.comparable(river)


def test_a_building_risk_keeps_depth_rank_label_and_scheme(koshigaya):
    gml = next(koshigaya.glob("udx/bldg/*.gml"))
    tree = etree.parse(str(gml))
    entries = tree.xpath("//*[local-name()='bldgDisasterRiskAttribute']/*")
    risks = [r for b in features(koshigaya) for r in b.risks]
    assert len(risks) == len(entries)
    for risk, entry in zip(risks, entries):
        rank = entry.find("{*}rank")
        depth = entry.findtext("{*}depth")
        assert risk.rank.code == rank.text and risk.rank_scheme.name == Path(rank.get("codeSpace")).stem
        assert risk.rank_scheme.origin == "dataset"
        assert risk.depth_m == (float(depth) if depth is not None else None)
        low, high = risk.rank_depth_range
        if risk.depth_m is not None:  # the official depth lies in its rank's range
            assert low <= risk.depth_m < high


def test_river_and_inland_ranks_are_different_schemes(koshigaya):
    risks = [r for b in features(koshigaya) for r in b.risks]
    river = next(r for r in risks if r.kind == "river").rank_scheme
    inland = next(r for r in risks if r.kind == "inland").rank_scheme
    assert river.classes == inland.classes  # the same six labels …
    assert not river.comparable(inland)  # … yet ranks of two hazards are never compared
    assert all(r.rank_scheme.comparable(river) for r in risks if r.kind == "river")


def test_tsunami_rank_without_codelists_uses_the_bundled_tsunami_list(fukuoka):
    layers = features(fukuoka)
    gml = next(fukuoka.glob("udx/tnm/*.gml"))
    codes = [t.strip() for t in etree.parse(str(gml)).xpath("//*[local-name()='rank']/text()")]
    risks = [r for f in layers for r in f.risks]
    assert [r.rank.code for r in risks] == codes and {r.kind for r in risks} == {"tsunami"}
    scheme = risks[0].rank_scheme
    assert (scheme.name, scheme.origin) == ("TsunamiRiskAttribute_rank", "bundled i-UR 3.2")
    assert scheme.family == "TsunamiRiskAttribute_rank" != "RiverFloodingRiskAttribute_rank"


def test_a_rank_org_without_its_list_has_no_depth_range(numazu):
    tnm = [r for f in features(numazu, types=["tnm"]) for r in f.risks]
    assert tnm and all(r.rank_scheme.name == "WaterBodyTsunamiRiskAttribute_rankOrg" for r in tnm)
    assert all(r.rank_scheme.origin == "missing" and r.rank_depth_range is None for r in tnm)
    assert all(r.rank.label is None for r in tnm)


HIGH_TIDE = """
  <core:cityObjectMember><wtr:WaterBody gml:id="htd1">
    <wtr:lod1MultiSurface><gml:MultiSurface><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>
      <gml:posList>35 139 3 35.001 139 3 35.001 139.001 3 35 139 3</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
    </gml:surfaceMember></gml:MultiSurface></wtr:lod1MultiSurface>
    <uro:floodingRiskAttribute><uro:WaterBodyRiverFloodingRiskAttribute>
      <uro:rank codeSpace="../../codelists/WaterBodyRiverFloodingRiskAttribute_rank.xml">4</uro:rank>
    </uro:WaterBodyRiverFloodingRiskAttribute></uro:floodingRiskAttribute>
  </wtr:WaterBody></core:cityObjectMember>"""


def test_a_local_list_under_a_standard_name_decides_the_rank(tmp_path, yokosuka):
    # Kawasaki's WaterBodyRiverFloodingRiskAttribute_rank.xml holds its own nine classes: rank 4
    # there is 2–3 m, where the standard list's 4 is 5–10 m. Read with the dataset's list, the
    # rank says 2–3 m and is not comparable with the standard scheme.
    folder = tmp_path / "fld"
    (folder / "udx" / "fld").mkdir(parents=True)
    (folder / "codelists").mkdir()
    shutil.copy(yokosuka / "codelists" / "WaterBodyRiverFloodingRiskAttribute_rank.xml", folder / "codelists")
    text = city_model(HIGH_TIDE, uro="https://www.geospatial.jp/iur/uro/2.0").replace(
        "xmlns:core=", 'xmlns:wtr="http://www.opengis.net/citygml/waterbody/2.0" xmlns:core=')
    (folder / "udx" / "fld" / "533945_fld_6697_l1_op.gml").write_text(text, encoding="utf-8")
    (risk,) = [r for f in features(folder) for r in f.risks]
    assert (risk.rank.code, risk.rank.label, risk.rank_depth_range) == ("4", "2.0m以上3.0m未満", (2.0, 3.0))
    standard = RankScheme(risk.rank_scheme.name, tuple(standard_lists("2.0")[risk.rank_scheme.name].items()), "bundled i-UR 2.0")
    assert standard.depth_range("4") == (5.0, 10.0)
    assert not risk.rank_scheme.comparable(standard)


def test_2020_ranks_have_no_list(tokyo2020):
    (building,) = features(tokyo2020 / "udx" / "bldg" / "53392546_bldg_6697_2_op.gml")
    assert all(r.rank_scheme.name == "浸水ランク" and r.rank_scheme.classes == () for r in building.risks)
    assert all(r.rank_depth_range is None and r.depth_m is not None for r in building.risks)


@pytest.mark.parametrize(("label", "expected"), [
    ("0.5m以上3m未満", (0.5, 3.0)), ("0.5m未満", (0.0, 0.5)), ("20m以上", (20.0, math.inf)),
    ("0.01m以上0.3m未満", (0.01, 0.3)), ("浸水なし", None), (None, None),
])
def test_label_forms(label, expected):
    assert depth_range_of_label(label) == expected
