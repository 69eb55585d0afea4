"""A building's id, year, usage, storeys and height read the same way in every generation."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from citygml import open_dataset
from citygml.codelists import parse_dictionary
from citygml.model import Feature
from tests.citygml.gml_text import URO_31, building, city_model


def buildings(path: Path) -> list[Feature]:
    with open_dataset(path) as dataset:
        return [f for f in dataset.features() if f.element == "Building"]


def texts(path: Path, expression: str) -> list[str]:
    return [str(t).strip() for t in etree.parse(str(path)).xpath(expression)]


def test_unknown_values_plateau_writes_are_missing(tmp_path):
    # 標準製品仕様書 4.1.5.5: an unknown gYear is 0001; 4.1.5.6: an unknown non-negative
    # integer is 9999; 4.1.5.8: an unknown measure is -9999.
    body = ("<bldg:yearOfConstruction>0001</bldg:yearOfConstruction>"
            "<bldg:storeysAboveGround>9999</bldg:storeysAboveGround><bldg:storeysBelowGround>9999</bldg:storeysBelowGround>")
    known = "<bldg:yearOfConstruction>1975</bldg:yearOfConstruction><bldg:storeysAboveGround>3</bldg:storeysAboveGround>"
    text = city_model(building("unknown", body=body).replace(">9.5<", ">-9999<") + building("known", body=known, lat=35.01))
    path = tmp_path / "53394500_bldg_6697_op.gml"
    path.write_text(text, encoding="utf-8")
    unknown, known_building = buildings(path)
    assert (unknown.year, unknown.storeys, unknown.measured_height) == (None, None, None)
    assert unknown.attributes["storeysBelowGround"] is None
    assert (known_building.year, known_building.storeys, known_building.measured_height) == (1975, 3, 9.5)


def test_2020_building_id_is_its_generic_attribute(tokyo2020):
    for gml in sorted(tokyo2020.glob("udx/bldg/*.gml")):
        (expected,) = texts(gml, "//*[local-name()='stringAttribute'][@name='建物ID']/*[local-name()='value']/text()")
        (found,) = buildings(gml)
        assert found.building_id == expected
        assert (found.prefecture, found.city) == (expected[:2], expected[:5])


@pytest.mark.parametrize(("sample", "generation"), [("01100_sapporo", "2.0"), ("11222_koshigaya", "3.1"),
                                                    ("27100_osaka-shi_city_2024_citygml3", "4.0")])
def test_building_id_prefecture_and_city_across_generations(sample, generation):
    from tests.conftest import plateau_sample

    folder = plateau_sample(sample)
    gml = next(folder.glob("udx/bldg/*.gml"))
    found = buildings(folder)
    assert [b.building_id for b in found] == texts(gml, "//*[local-name()='buildingID']/text()")
    assert [b.city for b in found] == texts(gml, "//*[local-name()='BuildingIDAttribute']/*[local-name()='city']/text()")
    prefectures = texts(gml, "//*[local-name()='BuildingIDAttribute']/*[local-name()='prefecture']/text()")
    assert {b.prefecture for b in found} == set(prefectures)


def test_usage_is_decoded_on_a_dataset_without_codelists(osaka2, osaka3):
    # The 2.0 download has no codelists/; its usage codes decode with the bundled lists to the
    # labels the 3.0 folder's own Building_usage.xml gives.
    usage = parse_dictionary((osaka3 / "codelists" / "Building_usage.xml").read_bytes())
    found = buildings(osaka2)
    gml = next(osaka2.glob("udx/bldg/*.gml"))
    assert [b.usage.code for b in found] == texts(gml, "//*[local-name()='usage']/text()")
    assert all(b.usage.label == usage[b.usage.code] for b in found)


def test_2020_flood_sets_all_become_risks(tokyo2020):
    gml = tokyo2020 / "udx" / "bldg" / "53392546_bldg_6697_2_op.gml"
    (found,) = buildings(gml)
    names = texts(gml, "//*[local-name()='genericAttributeSet']/@name")
    depths = [float(v) for v in texts(gml, "//*[local-name()='measureAttribute'][@name='浸水深']/*[local-name()='value']/text()")]
    ranks = texts(gml, "//*[local-name()='stringAttribute'][@name='浸水ランク']/*[local-name()='value']/text()")
    assert len(found.risks) == len(names) == 3  # 城南地区河川流域浸水予想区域 too
    assert [r.depth_m for r in found.risks] == depths
    assert [r.rank.code for r in found.risks] == ranks
    assert [r.kind for r in found.risks] == ["river"] * 3
    assert [r.source.code for r in found.risks][-1] == "城南地区河川流域"
    assert not any("浸水" in key for key in found.attributes)  # no risk left behind as plain attributes


def test_uro_namespace_decides_the_generation(tmp_path):
    path = tmp_path / "53394500_bldg_6697_op.gml"
    path.write_text(city_model(building("a"), uro=URO_31), encoding="utf-8")
    with open_dataset(path) as dataset:
        list(dataset.features())
        (info,) = dataset.file_infos
    assert (info.iur_version, info.codelists) == ("3.1", "3.2")
