"""A shelter list attached to a City by ``twin city add``: repeated ids, unclear flags and sites far
outside the City are reported in the command's output and the manifest; the far sites are left out;
a row that cannot be read names its line and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.convert.pipeline import convert

HEADER = "ID,名称,名称_英字,住所,緯度,経度,災害種別_洪水,災害種別_津波,収容人数\n"


def shelter_csv(city: Path, path: Path, bad_row: bool = False) -> Path:
    """A hand-written list around ``city``: S1 twice at the same place, S2 at two places, S3 with a flag
    that is not understood (line 5), S9 about 22 km north of the City; with ``bad_row`` a position on
    line 6 that is no number."""
    west, south, east, north = json.loads((city / "city.json").read_text(encoding="utf-8"))["bbox"]
    lat, lon = (south + north) / 2, (west + east) / 2
    rows = [f"S1,第一小学校,Daiichi,本町1,{lat},{lon},○,,300",
            f"S1,第一小学校,Daiichi,本町1,{lat},{lon},○,,300",
            f"S2,公民館,,本町2,{lat + 0.001},{lon},○,,40",
            f"S3,浜の高台,,浜3,{lat},{lon + 0.001},△,○,80",
            f"S2,公民館分館,,本町4,{lat - 0.001},{lon},○,,20",
            f"S9,遠い町,,遠く,{north + 0.2},{east},○,,50"]
    if bad_row:
        rows[4] = f"S2,公民館分館,,本町4,north,{lon},○,,20"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return path


#: What the list above reports (the far site's distance aside).
REPORTED = ["shelters list.csv: line 5: 災害種別_洪水: flag '△' not understood; taken as not designated",
            "shelters list.csv: shelter id S1 is listed twice at the same place; kept once",
            "shelters list.csv: shelter id S2 is used by 2 different sites; the later one is S2#2",
            "shelters list.csv: left out, farther than 5 km from the City: S9 遠い町 (22."]


@pytest.fixture
def town(gsi_sample, tmp_path) -> Path:
    full, _ = gsi_sample
    convert([full], tmp_path / "town")
    return tmp_path / "town"


def kept_ids(city: Path) -> list[str]:
    return [f["properties"]["id"] for f in json.loads((city / "shelters.geojson").read_text(encoding="utf-8"))["features"]]


def test_twin_city_add_reports_repeated_ids_unclear_flags_and_far_sites(town, tmp_path, twin):
    before = (town / "shelters.geojson").read_bytes()
    (tmp_path / "bad").mkdir()
    bad = shelter_csv(town, tmp_path / "bad" / "list.csv", bad_row=True)
    refused = twin("city", "add", str(town), str(bad), "--workers", "1")
    assert refused.returncode == 2, refused.stderr
    assert "line 6: 緯度 'north' is not a number" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert (town / "shelters.geojson").read_bytes() == before

    done = twin("city", "add", str(town), str(shelter_csv(town, tmp_path / "list.csv")), "--workers", "1")
    assert done.returncode == 0, done.stderr
    output = " ".join(done.stderr.split())  # rich wraps long lines
    assert "shelters: list.csv (municipal-standard-csv): 5 sites, 4 kept, 3 of them for floods" in output
    for message in REPORTED:
        assert f"warning: {message}" in output, output
    assert kept_ids(town) == ["S1", "S2", "S3", "S2#2"]
    shelters = json.loads((town / "city.json").read_text(encoding="utf-8"))["shelters"]
    assert (shelters["source"], shelters["sites"], shelters["kept"], shelters["flood_shelters"]) == ("list.csv", 5, 4, 3)
    assert shelters["left_out_far"][0].startswith("S9 遠い町 (22.")


def test_twin_convert_with_a_shelter_list_reports_it_the_same_way(gsi_sample, town, tmp_path, twin):
    full, _ = gsi_sample
    done = twin("convert", str(full), str(shelter_csv(town, tmp_path / "list.csv")), "-o", str(tmp_path / "again"),
                "--workers", "1")
    assert done.returncode == 0, done.stderr
    output = " ".join(done.stderr.split())
    assert all(f"warning: {message}" in output for message in REPORTED), output
    assert kept_ids(tmp_path / "again") == ["S1", "S2", "S3", "S2#2"]
