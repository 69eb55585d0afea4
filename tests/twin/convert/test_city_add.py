"""``twin city add``: downloads into an existing City, rebuilding only what they change."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from lxml import etree

from tests.twin.convert.plateau_xml import part_counts
from twin.convert.additions import add_to_city
from twin.convert.pipeline import convert
from twin.errors import TwinInputError


def inodes(city: Path) -> dict[str, int]:
    """Every file of the City folder and its inode (a file not written again keeps its inode)."""
    return {p.relative_to(city).as_posix(): p.stat().st_ino for p in city.rglob("*") if p.is_file()}


@pytest.fixture
def estimated_city(gsi_sample, tmp_path) -> Path:
    """The building-only sample converted: its terrain estimated from the buildings."""
    _, bare = gsi_sample
    convert([bare], tmp_path / "town")
    return tmp_path / "town"


def test_a_gsi_dem_replaces_the_estimated_terrain_and_nothing_else(gsi_sample, estimated_city):
    full, _ = gsi_sample
    before = json.loads((estimated_city / "city.json").read_text())
    assert before["terrain"]["estimated_share"] == 1.0
    files_before = inodes(estimated_city)
    manifest = add_to_city(estimated_city, [full / "gsi"])
    assert manifest["terrain"]["sources"][0]["kind"] == "gsi_dem"
    assert manifest["terrain"]["estimated_share"] < 0.01
    assert manifest["grid"] == before["grid"]  # the same cells
    after = inodes(estimated_city)
    rewritten = {name for name in files_before if after.get(name) != files_before[name]}
    # The terrain, its sources and tiles, the water tiles draped on it, and the manifest: nothing else.
    assert rewritten - {"city.json"} and all(name.startswith(("terrain", "water/")) for name in rewritten - {"city.json"})
    assert "buildings.parquet" not in rewritten and not any(n.startswith("content/") for n in rewritten)
    assert manifest["counts"]["buildings"] == before["counts"]["buildings"]
    assert [a["inputs"] for a in manifest["additions"]] == [[str(full / "gsi")]]
    assert not any(w.startswith("terrain:") and "100%" in w for w in manifest["warnings"])


def test_a_hazard_layer_joins_the_city(gsi_sample, estimated_city):
    full, _ = gsi_sample
    fld = full / "udx" / "fld"
    layer = estimated_city.parent / "fld-download"
    shutil.copytree(fld, layer / "udx" / "fld")
    shutil.copytree(full / "codelists", layer / "codelists")
    files_before = inodes(estimated_city)
    manifest = add_to_city(estimated_city, [layer])
    expected = part_counts(layer)["hazards"]
    assert manifest["counts"]["hazard_areas"] == expected == len(gpd.read_parquet(estimated_city / "hazards.parquet"))
    assert manifest["features"]["fld"]["kept"] == {"hazards": expected}
    after = inodes(estimated_city)
    assert after["terrain.tif"] == files_before["terrain.tif"] and after["masks.tif"] == files_before["masks.tif"]
    # Added again: the same areas replace themselves, none doubles.
    add_to_city(estimated_city, [layer])
    assert len(gpd.read_parquet(estimated_city / "hazards.parquet")) == expected


def test_a_shelter_list_replaces_the_citys(gsi_sample, estimated_city):
    full, _ = gsi_sample
    with open(full / "shelters.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    flood = [r for r in rows if r["洪水"].strip() in ("1", "○")]
    assert 0 < len(flood) <= len(rows)
    manifest = add_to_city(estimated_city, [full / "shelters.csv"])
    shelters = json.loads((estimated_city / "shelters.geojson").read_text(encoding="utf-8"))["features"]
    assert sorted(f["properties"]["name"] for f in shelters) == sorted(r["施設・場所名"] for r in flood)
    assert manifest["files"]["shelters"] == "shelters.geojson"


def test_adding_buildings_converts_again_from_every_input(gsi_sample, tmp_path):
    full, bare = gsi_sample
    roads_only = tmp_path / "roads"
    shutil.copytree(bare, roads_only, ignore=lambda folder, names: [n for n in names if n == "bldg"])
    buildings_only = tmp_path / "buildings"
    shutil.copytree(bare / "udx" / "bldg", buildings_only / "udx" / "bldg")
    convert([roads_only], tmp_path / "city")
    manifest = add_to_city(tmp_path / "city", [buildings_only])
    expected = sum(1 for gml in (bare / "udx" / "bldg").glob("*.gml")
                   for _ in etree.parse(str(gml)).iter("{*}Building"))
    assert manifest["counts"]["buildings"] == expected and manifest["counts"]["roads"] > 0
    assert {Path(i["path"]).name for i in manifest["inputs"]} == {"roads", "buildings"}


def test_adding_what_lies_elsewhere_is_refused_and_changes_nothing(estimated_city):
    osaka = next((Path(__file__).parents[3].parent / "shared" / "data" / "plateau").glob("27100_osaka-shi_city_2024_citygml_1*"),
                 None)
    if osaka is None:
        pytest.skip("real PLATEAU samples not found")
    before = inodes(estimated_city)
    with pytest.raises(TwinInputError, match="does not overlap City 'town'"):
        add_to_city(estimated_city, [osaka])
    assert inodes(estimated_city) == before and not list(estimated_city.parent.glob(".town*"))


def test_cli_city_add_prints_what_changed(gsi_sample, estimated_city, twin):
    full, _ = gsi_sample
    done = twin("city", "add", str(estimated_city), str(full / "gsi"), "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "gsi_dem" in done.stderr and "wrote" in done.stderr
    missing = twin("city", "add", str(estimated_city.parent / "nowhere"), str(full / "gsi"))
    assert missing.returncode == 2 and missing.stderr.strip().startswith("twin: error:")
    assert len(missing.stderr.strip().splitlines()) == 1
    assert os.path.isdir(estimated_city)
