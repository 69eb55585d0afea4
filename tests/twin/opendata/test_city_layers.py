"""What a City publishes follows its files: a layer it lacks is absent, one it gains appears, and the
generic features table splits into one collection per PLATEAU package."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from tests.twin.fixtures_city import converted_sample_city
from twin.city.layout import CityFolder
from twin.opendata.collections import city_collections
from twin.opendata.exports import collection_frames, write_gpkg


@pytest.fixture(scope="module")
def sample() -> Path:
    return converted_sample_city()


def copy_without(city: Path, target: Path, *keys: str) -> Path:
    """A copy of the City's tables and manifest (no tiles), without the files of ``keys``."""
    manifest = json.loads((city / "city.json").read_text(encoding="utf-8"))
    dropped = {manifest["files"][k] for k in keys}
    shutil.copytree(city, target, ignore=lambda folder, names: [
        n for n in names if n in dropped or n in ("content", "terrain", "bridges", "water") or n.endswith(".tif")])
    manifest["files"].update({k: None for k in keys})
    (target / "city.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def test_the_sample_city_publishes_each_layer_with_the_rows_of_its_file(sample):
    found = {c.id: c for c in city_collections(CityFolder.open(sample))}
    hazards = pd.read_parquet(sample / "hazards.parquet", columns=["layer", "scale"])
    split = {f"hazards-{layer}-{scale.lower()}": len(rows) for (layer, scale), rows in hazards.groupby(["layer", "scale"])}
    plain = {key: len(pd.read_parquet(sample / f"{key}.parquet", columns=["gml_id"]))
             for key in ("buildings", "roads", "water", "land_use", "bridges")}
    assert set(found) == set(split) | set(plain) | {"shelters"}
    published = {ident: sum(len(frame) for frame in collection_frames(found[ident])) for ident in {**split, **plain}}
    assert published == {**split, **plain}
    assert (found["water"].title_en, found["land_use"].title_en, found["bridges"].title_en) == \
        ("Water bodies", "Land use", "Bridges")
    assert found["hazards-fld-l2"].title_en == "River flooding (L2)"


def test_a_layer_the_city_lacks_is_absent(sample, tmp_path):
    city = copy_without(sample, tmp_path / "town", "water", "bridges", "land_use")
    found = {c.id for c in city_collections(CityFolder.open(city))}
    assert "buildings" in found and "roads" in found
    assert not {"water", "bridges", "land_use"} & found


def test_generic_features_appear_as_one_collection_per_package_and_export_to_a_geopackage(sample, tmp_path):
    city = copy_without(sample, tmp_path / "town")
    # Two PLATEAU packages of the generic table: city furniture as points and vegetation as polygons
    # (the rows generic_row writes: type, element, labels, LODs, attributes and risks as JSON text).
    rows = pd.DataFrame({
        "gml_id": ["frn_1", "frn_2", "veg_1"], "type": ["frn", "frn", "veg"],
        "element": ["CityFurniture", "CityFurniture", "PlantCover"], "class_label": ["標識", "信号", "植栽"],
        "function_label": [None, None, None], "lods": [[1], [1], [1]],
        "attributes": ['{"name": "標識"}', "{}", "{}"], "risks": ["[]", "[]", "[]"],
        "height_min": [5.0, 5.1, None], "height_max": [7.5, 8.0, None]})
    geometry = [shapely.MultiPoint([(139.471, 35.926)]), shapely.MultiLineString([[(139.472, 35.927), (139.4725, 35.927)]]),
                shapely.box(139.473, 35.928, 139.4732, 35.9282)]
    gpd.GeoDataFrame(rows, geometry=geometry, crs="EPSG:6668").to_parquet(city / "features.parquet")
    manifest = json.loads((city / "city.json").read_text(encoding="utf-8"))
    manifest["files"]["features"] = "features.parquet"
    (city / "city.json").write_text(json.dumps(manifest), encoding="utf-8")

    found = {c.id: c for c in city_collections(CityFolder.open(city))}
    assert {"features-frn", "features-veg"} <= set(found)
    assert (found["features-frn"].title, found["features-frn"].title_en) == ("都市設備", "City furniture")
    assert found["features-veg"].title_en == "Vegetation"

    out = write_gpkg([found["features-frn"], found["features-veg"]], tmp_path / "features.gpkg")
    tables = dict(pyogrio.list_layers(out))
    assert tables == {"features_frn": "Unknown", "features_veg": "Unknown"}  # mixed geometry types declared as such
    frn = pyogrio.read_dataframe(out, layer="features_frn")
    assert sorted(frn["gml_id"]) == ["frn_1", "frn_2"]
    assert sorted(frn.geometry.geom_type) == ["MultiLineString", "MultiPoint"]
    assert json.loads(frn.set_index("gml_id").loc["frn_1", "attributes"]) == {"name": "標識"}
    assert pyogrio.read_info(out, layer="features_veg")["features"] == 1
