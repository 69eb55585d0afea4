"""A real GSI DEM, a real official shelter list and a real PLATEAU building sample given to one City.

The shared samples are of different places (the READMEs: the GSI 5 m DEM lies at 35.25 N 138.50 E
near Mt Fuji, Yaizu's shelters at 34.8–34.9 N 138.3 E, Osaka's buildings at 34.58 N 135.49 E), so
no two of them overlap. The issue asks for a clear error for inputs that do not overlap the City:
one line from the command, no traceback, nothing written, whether they come together
(``twin convert A B C``) or one at a time (``twin city add``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.conftest import PLATEAU, plateau_sample

SHARED = PLATEAU.parent
GSI_5A = SHARED / "gsi" / "FG-GML-5238-74-00-DEM5A-20161001.xml"
YAIZU = SHARED / "shelters" / "jichitai_standard" / "222127_evacuation_space.csv"


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"real sample {path.name} not found under {SHARED}")
    return path


def shelter_sites(path: Path) -> list[tuple[float, float]]:
    """(lon, lat) of every row of an official shelter CSV, read with the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [(float(row["経度"]), float(row["緯度"])) for row in csv.DictReader(f) if row["緯度"]]


def one_line_error(done) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = [s for s in done.stderr.strip().splitlines() if s.strip()]
    assert line.startswith("twin: error:")
    return line


def test_three_real_downloads_of_different_places_are_one_clear_error(tmp_path, twin):
    dem, shelters = need(GSI_5A), need(YAIZU)
    osaka = plateau_sample("27100_osaka-shi_city_2024_citygml_1")
    line = one_line_error(twin("convert", str(dem), str(shelters), str(osaka), "-o", str(tmp_path / "city")))
    assert "does not overlap" in line and "different places" in line
    assert str(osaka) in line and str(dem) in line
    assert "34.5833–34.5917 N" in line  # Osaka's building file 51357309: the 3rd-order mesh's latitudes
    assert not (tmp_path / "city").exists()


def test_a_real_shelter_list_of_another_place_is_refused_with_a_real_dem(tmp_path, twin):
    dem, shelters = need(GSI_5A), need(YAIZU)
    sites = shelter_sites(shelters)
    assert len(sites) == 31
    line = one_line_error(twin("convert", str(dem), str(shelters), "-o", str(tmp_path / "city")))
    assert str(shelters) in line and "do not overlap" in line and str(dem) in line
    # The sites' box, from the file's 緯度/経度 columns.
    lons, lats = [s[0] for s in sites], [s[1] for s in sites]
    assert f"({min(lons):.4f}–{max(lons):.4f} E, {min(lats):.4f}–{max(lats):.4f} N)" in line
    assert not (tmp_path / "city").exists()


def test_adding_real_downloads_of_other_places_to_a_real_dem_city_changes_nothing(tmp_path, twin):
    dem, shelters = need(GSI_5A), need(YAIZU)
    osaka = plateau_sample("27100_osaka-shi_city_2024_citygml_1")
    city = tmp_path / "fuji"
    done = twin("convert", str(dem), "-o", str(city), "--json")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((city / "city.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["buildings"] == 0 and manifest["terrain"]["sources"][0]["kind"] == "gsi_dem"
    before = {p.relative_to(city): p.stat().st_mtime_ns for p in city.rglob("*") if p.is_file()}
    for other in (shelters, osaka):
        line = one_line_error(twin("city", "add", str(city), str(other)))
        assert str(other) in line and "does not overlap City 'fuji'" in line
    assert {p.relative_to(city): p.stat().st_mtime_ns for p in city.rglob("*") if p.is_file()} == before
    assert not (city / "shelters.geojson").exists()
