"""``twin inspect``: the JSON contract, human output and exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

TWIN = str(Path(sys.executable).with_name("twin"))


def inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TWIN, "inspect", *args], capture_output=True, text=True)


def test_json_summary_of_a_real_dataset(yokosuka):
    run = inspect(str(yokosuka), "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["files"] == 2
    assert summary["features"] == {"bldg": 13, "dem": 2}
    assert summary["lods"]["bldg"] == {"0": 13, "1": 13, "2": 2}
    assert summary["buildings_with_flood_risk"] == 7  # tsunami risk; landslide alone does not count
    assert summary["buildings_with_textures"] == 2
    assert summary["crs"] == ["EPSG:6697"] and summary["local_crs"] == "EPSG:6677"
    assert summary["iur_versions"] == ["2.0"]
    west, south, east, north = summary["bbox"]
    assert 139.6 < west < east < 139.8 and 35.1 < south < north < 35.3
    assert summary["errors"] == []


def test_flood_risk_counts_across_generations(sapporo, koshigaya, osaka):
    expected = {sapporo: 25, koshigaya: 5}
    for path, count in expected.items():
        assert json.loads(inspect(str(path), "--json").stdout)["buildings_with_flood_risk"] == count
    osaka_summary = json.loads(inspect(str(osaka), "--json").stdout)
    assert osaka_summary["features"] == {"bldg": 63} and osaka_summary["iur_versions"] == ["3.1"]


def test_sample_city_summary_matches_its_generator(sample_city):
    from citygml.samplecity import plan

    city = plan(buildings=300, seed=7)
    buildings = list(city.features({"bldg"}))
    summary = json.loads(inspect(str(sample_city), "--json").stdout)
    assert summary["features"]["bldg"] == len(buildings)
    assert summary["buildings_with_flood_risk"] == sum(bool(b.flood_risks) for b in buildings)


def test_human_output_names_types_and_warnings(tmp_path, sapporo):
    gml = next(sapporo.glob("udx/bldg/*.gml"))
    text = gml.read_text(encoding="utf-8-sig")
    broken = tmp_path / "udx" / "bldg" / gml.name
    broken.parent.mkdir(parents=True)
    broken.write_text(text[: len(text) // 2], encoding="utf-8")
    run = inspect(str(tmp_path))
    assert run.returncode == 0
    assert "bldg" in run.stdout and "warning:" in run.stdout


def test_zip_dataset(tmp_path, koshigaya):
    archive = tmp_path / "koshigaya.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in koshigaya.rglob("*"):
            if path.is_file():
                z.write(path, f"{koshigaya.name}/{path.relative_to(koshigaya)}")
    summary = json.loads(inspect(str(archive), "--json").stdout)
    assert summary["features"] == {"bldg": 5} and summary["codelists_missing"] == []


def test_nothing_readable_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "53394500_bldg_6697_op.gml"
    bad.write_text("<?xml version='1.0'?>\n<html/>")
    for path in (bad, tmp_path / "missing", tmp_path / "notes.txt"):
        if path.suffix == ".txt":
            path.write_text("hello")
        run = inspect(str(path))
        assert run.returncode == 2
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("twin: error:"), run.stderr
    assert f"{bad}:2: not a CityGML file" in inspect(str(bad)).stderr


def test_help_explains_the_command():
    run = subprocess.run([TWIN, "inspect", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--json" in run.stdout
