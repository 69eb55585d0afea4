"""Official shelter lists: the GSI CSV and the municipal standard layout (real published samples, in
UTF-8 and re-encoded as Shift_JIS), GeoJSON; bad rows name their line; a list attached to a City."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.twin.fixtures_city import converted_sample_city
from twin.city.layout import CityFolder
from twin.city.shelters import FAR_M, city_shelters, read_shelter_list, read_shelters, shelters_for_city
from twin.errors import TwinInputError

SHELTERS = Path(os.environ.get("TWIN_SHELTER_SAMPLES", REPO.parent / "shared" / "data" / "shelters"))
GSI = SHELTERS / "gsi_emergency" / "26366_shitei-kinkyu-hinanbasho.csv"
STANDARD = SHELTERS / "jichitai_standard" / "222127_evacuation_space.csv"


def real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real shelter list {path.name} not found under {SHELTERS} (set TWIN_SHELTER_SAMPLES)")
    return path


def rows_of(path: Path) -> list[dict[str, str]]:
    """The file's rows by the standard library's csv module (the reference the reader is checked against)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_the_gsi_list_keeps_every_site_and_flags_the_flood_ones(tmp_path, encoding):
    source = real(GSI)
    path = tmp_path / "gsi.csv"
    path.write_bytes(source.read_text(encoding="utf-8-sig").encode(encoding))
    shelters = read_shelter_list(path)
    expected = rows_of(source)
    assert shelters.layout == "gsi-csv" and shelters.warnings == []
    assert shelters.sites["shelter_id"].tolist() == [r["共通ID"] for r in expected]
    assert shelters.sites["name"].tolist() == [r["施設・場所名"] for r in expected]
    assert shelters.sites["lat"].tolist() == [float(r["緯度"]) for r in expected]
    assert shelters.sites["lon"].tolist() == [float(r["経度"]) for r in expected]
    flood = read_shelters(path)
    assert flood["shelter_id"].tolist() == [r["共通ID"] for r in expected if r["洪水"] == "1"]
    assert len(flood) == 11  # of 14: three sites of this list do not take floods
    assert [h["landslide"] for h in shelters.sites["hazards"]] == [r["崖崩れ、土石流及び地滑り"] == "1" for r in expected]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp932"])
def test_the_municipal_standard_layout_reads_its_circle_flags(tmp_path, encoding):
    source = real(STANDARD)
    path = tmp_path / "standard.csv"
    path.write_bytes(source.read_text(encoding="utf-8-sig").encode(encoding))
    shelters = read_shelter_list(path)
    expected = rows_of(source)
    assert shelters.layout == "municipal-standard-csv" and shelters.warnings == []
    assert shelters.sites["name"].tolist() == [r["名称"] for r in expected]
    assert shelters.sites["address"].tolist() == [r["住所"] or None for r in expected]
    assert [h["tsunami"] for h in shelters.sites["hazards"]] == [r["災害種別_津波"] == "○" for r in expected]
    assert sum(h["tsunami"] for h in shelters.sites["hazards"]) == 26
    # Yaizu's list designates its towers for tsunamis and earthquakes: none takes floods
    assert len(read_shelters(path)) == 0 == sum(r["災害種別_洪水"] == "○" for r in expected)


STANDARD_HEADER = "ID,名称,名称_英字,住所,緯度,経度,災害種別_洪水,災害種別_津波,収容人数\n"


def test_the_standard_layout_with_numeric_flags_english_names_and_capacity(tmp_path):
    path = tmp_path / "other-town.csv"
    path.write_text(STANDARD_HEADER + "S1,第一小学校,Daiichi Elementary School,本町1,35.1,139.1,1,,\"1,250\"\n"
                    "S2,浜の高台,,浜2,35.2,139.2,0,1,80\n"
                    "S3,公民館,,本町3,35.3,139.3,△,,40\n", encoding="utf-8")
    shelters = read_shelter_list(path)
    assert shelters.layout == "municipal-standard-csv"
    flood = shelters.flood
    assert flood["shelter_id"].tolist() == ["S1"]
    assert flood["name_en"].tolist() == ["Daiichi Elementary School"] and flood["capacity"].tolist() == [1250.0]
    assert shelters.warnings == ["line 4: 災害種別_洪水: flag '△' not understood; taken as not designated"]


@pytest.mark.parametrize(("body", "message"), [
    ("S1,a,,x,north,139.1,1,,\n", r"line 2: 緯度 'north' is not a number"),
    ("S1,a,,x,35.1,139.1,1,,\nS2,b,,y,35.2\n", r"line 3: 5 fields where the header has 9"),
    # a name quoted over two lines (3 and 4): the next row starts on line 5
    ("S1,a,,x,35.1,139.1,1,,\nS2,\"b\nc\",,y,35.2,139.2,1,,4\nS3,d,,z,35.3,139.3,1,,-4\n", r"line 5: capacity '-4'"),
    ("S1,a,,x,35.1,139.1,1,,\nS2,b,,y,35.2,139.2,1,,\nS3,,,z,35.3,139.3,1,,\n", r"line 4: empty 名称"),
    ("S1,a,,x,35.1,139.1,1,,\nS2,a,,x,35.1,339.1,1,,\n", r"line 3: shelter S2: \(339.1, 35.1\) is not a lon/lat position"),
])
def test_a_row_that_cannot_be_read_names_its_line(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text(STANDARD_HEADER + body, encoding="utf-8")
    with pytest.raises(TwinInputError, match=message):
        read_shelter_list(path)


def test_files_that_are_no_shelter_list_say_why(tmp_path):
    no_flag = tmp_path / "flag.csv"
    no_flag.write_text("名称,緯度,経度\nx,35.9,139.4\n", encoding="utf-8")
    with pytest.raises(TwinInputError, match="no 洪水 \\(or 災害種別_洪水\\) column"):
        read_shelter_list(no_flag)
    binary = tmp_path / "bytes.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 8)
    with pytest.raises(TwinInputError, match="neither UTF-8 nor Shift_JIS"):
        read_shelter_list(binary)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(TwinInputError, match="empty file"):
        read_shelter_list(empty)
    not_geojson = tmp_path / "list.geojson"
    not_geojson.write_text('{"features": 3}', encoding="utf-8")
    with pytest.raises(TwinInputError, match="not a GeoJSON FeatureCollection"):
        read_shelter_list(not_geojson)


def test_repeated_ids_are_reported_not_fatal(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text(STANDARD_HEADER + "S1,a,,x,35.1,139.1,1,,\nS1,a,,x,35.1,139.1,1,,\nS1,b,,y,35.2,139.2,1,,\n",
                    encoding="utf-8")
    shelters = read_shelter_list(path)
    assert shelters.sites["shelter_id"].tolist() == ["S1", "S1#2"]
    assert shelters.warnings == ["shelter id S1 is listed twice at the same place; kept once",
                                 "shelter id S1 is used by 2 different sites; the later one is S1#2"]


def test_geojson_takes_hazard_objects_or_flag_properties(tmp_path):
    def point(props: dict) -> dict:
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [139.4, 35.9]}, "properties": props}

    path = tmp_path / "s.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        point({"id": "a", "hazards": {"flood": True}}), point({"id": "b", "hazards": {"flood": False}}),
        point({"id": "c", "洪水": "1"}), point({"id": "d", "災害種別_洪水": "○"}), point({"id": "e", "災害種別_洪水": ""}),
        point({"id": "f"})]}), encoding="utf-8")
    assert read_shelters(path)["shelter_id"].tolist() == ["a", "c", "d", "f"]


@pytest.fixture
def city(tmp_path) -> CityFolder:
    folder = tmp_path / "sample"
    shutil.copytree(converted_sample_city(), folder, ignore=shutil.ignore_patterns("content", "terrain", "*.tif"))
    return CityFolder.open(folder)


def test_a_list_for_a_city_leaves_out_and_reports_far_sites(city, tmp_path):
    west, south, east, north = city.manifest["bbox"]
    path = tmp_path / "list.csv"
    path.write_text(STANDARD_HEADER
                    + f"S1,第一小学校,Daiichi,本町1,{(south + north) / 2},{(west + east) / 2},○,,300\n"
                    + f"S2,浜の高台,,浜2,{north + 0.01},{east},,○,80\n"  # about 1.1 km north: kept
                    + f"S3,遠い町,,遠く,{north + 0.2},{east},○,,50\n",  # about 22 km north: left out
                    encoding="cp932")
    geojson, report = shelters_for_city(path, city.manifest["bbox"], city.local_crs, "city 'sample'")
    assert (report.layout, report.sites, report.kept, report.flood_shelters) == ("municipal-standard-csv", 3, 2, 1)
    assert len(report.left_out_far) == 1 and report.left_out_far[0].startswith("S3 遠い町 (22.")
    assert report.source == "list.csv" and report.warnings == []
    assert report.messages() == [f"shelters list.csv: left out, farther than 5 km from the City: {report.left_out_far[0]}"]
    assert FAR_M == 5000
    written = json.loads(geojson)
    assert [f["properties"]["id"] for f in written["features"]] == ["S1", "S2"]
    assert written["features"][1]["properties"]["hazards"]["tsunami"] is True
    # without a box (a City with nothing placed yet) no site is left out
    assert shelters_for_city(path, None, city.local_crs, "city 'sample'")[1].kept == 3


def test_a_list_of_another_place_is_refused(city):
    with pytest.raises(TwinInputError, match=r"none of its 14 sites lies within 5 km of city 'sample'"):
        shelters_for_city(real(GSI), city.manifest["bbox"], city.local_crs, "city 'sample'")  # Seika, Kyoto


def test_a_city_without_shelters_says_how_to_get_them_without_naming_flags_or_paths(city):
    (city.path / "shelters.geojson").unlink()
    with pytest.raises(TwinInputError) as error:
        city_shelters(city)
    assert str(error.value).startswith("city 'sample' has no shelter list")
    assert "--" not in str(error.value) and str(city.path) not in str(error.value)
