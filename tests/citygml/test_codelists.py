"""The bundled standard code lists: checked against the lists real datasets ship, and used
(and reported) when a dataset lacks its own."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from lxml import etree

from citygml import open_dataset
from citygml.codelists import GENERATIONS, bundled_generation, parse_dictionary, standard_lists
from citygml.samplecity.codelist_data import codelists as sample_city_codelists
from citygml.summary import summarize


def dataset_lists(folder: Path) -> dict[str, dict[str, str]]:
    return {p.stem: parse_dictionary(p.read_bytes()) for p in sorted((folder / "codelists").glob("*.xml"))}


def disagreements(theirs: dict[str, dict[str, str]], ours: dict[str, dict[str, str]], squeeze: bool = False):
    """(list, code, their label, our label) for every code both define differently."""
    def norm(text: str) -> str:
        return re.sub(r"\s+", "", text) if squeeze else text
    return [(name, code, table[code], ours[name][code])
            for name, table in theirs.items() if name in ours
            for code in table.keys() & ours[name].keys() if norm(table[code]) != norm(ours[name][code])]


def test_every_generation_is_bundled_with_its_source():
    for generation in GENERATIONS:
        lists = standard_lists(generation)
        # Building_class and the MLIT river rank classes are in every generation's set.
        assert "Building_class" in lists, generation
    assert {bundled_generation(v) for v in ("1.4", "1.5", "2.0", "3.0", "3.1", "3.2", "4.0")} == set(GENERATIONS)
    assert bundled_generation(None, "3.0") == "4.0" and bundled_generation(None, "2.0") == "3.2"


@pytest.mark.parametrize("sample", ["11222_koshigaya", "13115_suginami", "08220_tsukuba", "15202_nagaoka",
                                    "02321_ajigasawa", "43206_tamana"])
def test_bundled_3_2_lists_agree_with_what_3_x_datasets_ship(sample):
    from tests.conftest import plateau_sample

    theirs = dataset_lists(plateau_sample(sample))
    shared = [n for n in theirs if n in standard_lists("3.2")]
    assert len(shared) >= 6  # each sample shares several standard lists with the bundle
    assert disagreements(theirs, standard_lists("3.2")) == []


def test_bundled_4_0_lists_agree_with_the_citygml3_sample(osaka3):
    theirs = dataset_lists(osaka3)
    assert {"Building_usage", "Building_class", "RiverFloodingRiskAttribute_rank"} <= theirs.keys() & standard_lists("4.0").keys()
    # The sample's detailed-usage labels differ only in spaces ("150 ㎡" against "150㎡").
    assert disagreements(theirs, standard_lists("4.0"), squeeze=True) == []


def test_bundled_2_0_lists_agree_with_kawasakis_except_its_local_ones(yokosuka):
    theirs = dataset_lists(yokosuka)  # Kawasaki's i-UR 2.0 lists (see the samples' README)
    ours = standard_lists("2.0")
    for name in ("Building_usage", "Building_class", "BuildingRiverFloodingRiskAttribute_rank",
                 "BuildingRiverFloodingRiskAttribute_scale", "BuildingRiverFloodingRiskAttribute_adminType",
                 "BuildingTsunamiRiskAttribute_rank", "BuildingHighTideRiskAttribute_rank",
                 "BuildingInlandFloodingRiskAttribute_rank", "Common_localPublicAuthorities"):
        assert name in ours and disagreements({name: theirs[name]}, ours) == [], name
    # Kawasaki put its own nine finer classes under the standard water-body rank name:
    # exactly why a rank is read with its dataset's list and kept with it.
    assert theirs["WaterBodyRiverFloodingRiskAttribute_rank"]["4"] == "2.0m以上3.0m未満"
    assert ours["WaterBodyRiverFloodingRiskAttribute_rank"]["4"] == "5m以上10m未満"


def test_dataset_without_codelists_decodes_with_the_bundle_and_says_so(sapporo, koshigaya):
    with open_dataset(sapporo) as dataset:
        summary = summarize(dataset)
        first = next(iter(dataset.features()))
    koshigaya_lists = dataset_lists(koshigaya)
    assert first.building_class.label == koshigaya_lists["Building_class"][first.building_class.code]
    city = first.attributes["buildingIDAttribute/city"]
    assert city.code == "01110" and city.label == koshigaya_lists["Common_localPublicAuthorities"]["01110"]
    assert "Building_class" in summary.codelists_bundled["2.0"]
    # River names are each dataset's own: no standard list, so they stay codes, and the summary says so.
    assert "BuildingRiverFloodingRiskAttribute_description" in summary.codelists_missing
    notes = [w for w in summary.warnings if "standard i-UR 2.0 lists" in w]
    assert len(notes) == 1 and "Building_class" in notes[0]


def test_a_list_the_dataset_lacks_comes_from_the_bundle_the_rest_from_the_dataset(tmp_path, koshigaya):
    copy = tmp_path / koshigaya.name
    shutil.copytree(koshigaya, copy)
    (copy / "codelists" / "Building_usage.xml").unlink()
    with open_dataset(copy) as dataset:
        buildings = list(dataset.features())
        warnings = [str(w) for info in dataset.file_infos for w in info.warnings]
    original = dataset_lists(koshigaya)
    assert buildings[0].usage.label == original["Building_usage"][buildings[0].usage.code]
    assert dataset.codelists.bundled == {"3.2": {"Building_usage"}}
    assert [w for w in warnings if "codelists" in w] == [
        f"{copy}/udx/bldg/53396677_bldg_6697_op.gml: codelists the dataset lacks, taken from PLATEAU's standard "
        "i-UR 3.2 lists: Building_usage"]


def test_codespace_differing_in_case_finds_the_dataset_list(yokosuka):
    gml = next(yokosuka.glob("udx/bldg/*.gml"))
    tree = etree.parse(str(gml))
    spaces = {e.get("codeSpace") for e in tree.iter("{*}buildingStructureType")}
    assert spaces == {"../../codelists/Building_BuildingStructureType.xml"}  # the file is Building_buildingStructureType.xml
    table = parse_dictionary((yokosuka / "codelists" / "Building_buildingStructureType.xml").read_bytes())
    with open_dataset(yokosuka) as dataset:
        values = [b.attributes["buildingDetailAttribute/buildingStructureType"]
                  for b in dataset.features(types=["bldg"]) if "buildingDetailAttribute/buildingStructureType" in b.attributes]
    assert values and all(v.label == table[v.code] for v in values)


def test_2020_codes_decode_with_the_bundled_1_4_lists(tokyo2020):
    gml = tokyo2020 / "udx" / "bldg" / "53392546_bldg_6697_2_op.gml"
    tree = etree.parse(str(gml))
    address = tree.findtext(".//{*}LocalityName")
    with open_dataset(gml) as dataset:
        building = next(iter(dataset.features()))
    city = building.attributes["buildingDetails/city"]
    prefecture = building.attributes["buildingDetails/prefecture"]
    # The decoded labels are the start of the address the same file gives (東京都大田区東六郷三丁目).
    assert address.startswith(prefecture.label) and address.startswith(city.label)
    assert (prefecture.code, city.code) == ("13", "13111")


def test_sample_city_takes_its_standard_lists_from_the_bundle():
    for iur, generation in (("3.1", "3.2"), ("2.0", "2.0"), ("1.4", "1.4")):
        written = dict(sample_city_codelists(iur))
        standard = standard_lists(generation)
        for name in ("Building_usage", "Building_class", "Road_function"):
            assert set(standard[name].items()) <= set(written[name]), (iur, name)
