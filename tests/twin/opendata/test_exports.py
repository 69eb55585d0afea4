"""``twin export`` and the server's downloads, opened with the tools people use: pyogrio and Debian's
ogrinfo (GeoPackage), the CityJSON 2.0.2 schemas and cjio (CityJSON), rio-cogeo (COG).

Expected counts and values are read here from the City's own files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from rio_cogeo.cogeo import cog_validate

from tests.twin.fixtures_city import CITY_ID
from twin.opendata.cityjson import _lod1_semantic

OGRINFO = shutil.which("ogrinfo")
CJIO = str(Path(sys.executable).with_name("cjio"))
SCHEMAS = Path(__file__).with_name("specs") / "cityjson-2.0.2"
ATTRIBUTION = "出典：国土交通省 Project PLATEAU"


@pytest.fixture(scope="module")
def city_dir(data_dir) -> Path:
    return data_dir / CITY_ID


@pytest.fixture(scope="module")
def result(data_dir, job) -> Path:
    return data_dir / "scenarios" / job / "result"


def expected_tables(city_dir: Path, result: Path, job: str) -> dict[str, int]:
    hazards = pd.read_parquet(city_dir / "hazards.parquet", columns=["layer", "scale"])
    counts = {key: len(pd.read_parquet(city_dir / f"{key}.parquet", columns=["gml_id"]))
              for key in ("buildings", "roads", "water", "land_use", "bridges")}
    counts["shelters"] = len(json.loads((city_dir / "shelters.geojson").read_text(encoding="utf-8"))["features"])
    counts[f"scenario_{job}"] = len(pd.read_parquet(result / "buildings.parquet"))
    for (layer, scale), rows in hazards.groupby(["layer", "scale"]):
        counts[f"hazards_{layer}_{scale.lower()}"] = len(rows)
    return counts


def test_the_geopackage_holds_every_layer_and_the_scenario_as_in_the_city(twin, city_dir, result, job, tmp_path):
    out = tmp_path / "city.gpkg"
    done = twin("export", str(city_dir), "--format", "gpkg", "--scenario", str(result), "-o", str(out))
    assert done.returncode == 0, done.stderr
    expected = expected_tables(city_dir, result, job)
    assert {name: pyogrio.read_info(out, layer=name)["features"] for name, _ in pyogrio.list_layers(out)} == expected
    buildings = gpd.read_file(out, layer="buildings").set_index("gml_id").sort_index()
    city = gpd.read_parquet(city_dir / "buildings.parquet").set_index("gml_id").sort_index()
    np.testing.assert_array_equal(buildings["height"].to_numpy(float), city["height"].to_numpy(float))
    assert buildings["usage_label"].tolist() == city["usage_label"].tolist()
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(buildings.geometry, city.geometry))
    simulated = gpd.read_file(out, layer=f"scenario_{job}").set_index("gml_id").sort_index()
    results = pd.read_parquet(result / "buildings.parquet").set_index("gml_id").sort_index()
    assert simulated["simulated_rank"].tolist() == results["simulated_rank"].tolist()
    assert simulated.crs.to_epsg() == 6668
    assert pyogrio.read_info(out)["dataset_metadata"]["ATTRIBUTION"] == ATTRIBUTION


@pytest.mark.skipif(OGRINFO is None, reason="needs GDAL's ogrinfo (apt-get install -y gdal-bin); CI installs it")
def test_debians_ogrinfo_opens_the_geopackage_without_complaint(twin, city_dir, result, job, tmp_path):
    out = tmp_path / "city.gpkg"
    assert twin("export", str(city_dir), "-f", "gpkg", "--scenario", str(result), "-o", str(out)).returncode == 0
    done = subprocess.run([OGRINFO, "-ro", "-so", "-al", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr
    counts = dict(zip(re.findall(r"^Layer name: (\S+)$", done.stdout, re.M),
                      map(int, re.findall(r"^Feature Count: (\d+)$", done.stdout, re.M))))
    assert counts == expected_tables(city_dir, result, job)
    assert f"ATTRIBUTION={ATTRIBUTION}" in done.stdout and "DESCRIPTION=" in done.stdout


def test_geojson_and_csv_of_one_layer_carry_the_rows_and_the_licence(twin, city_dir, tmp_path):
    roads = gpd.read_parquet(city_dir / "roads.parquet")
    out = tmp_path / "roads.geojson"
    assert twin("export", str(city_dir), "-f", "geojson", "--layer", "roads", "-o", str(out)).returncode == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["attribution"] == ATTRIBUTION and document["license"].startswith("https://creativecommons.org")
    assert [f["id"] for f in document["features"]] == roads["gml_id"].tolist()
    assert all(shapely.equals_exact(shapely.geometry.shape(f["geometry"]), g, 1e-9)
               for f, g in zip(document["features"], roads.geometry))

    out = tmp_path / "roads.csv"
    assert twin("export", str(city_dir), "-f", "csv", "--layer", "roads", "-o", str(out)).returncode == 0
    table = pd.read_csv(out)
    assert table["gml_id"].tolist() == roads["gml_id"].tolist()
    assert table["function_label"].fillna("").tolist() == roads["function_label"].fillna("").tolist()
    assert all(shapely.equals_exact(shapely.from_wkt(w), g, 0) for w, g in zip(table["geometry_wkt"], roads.geometry))
    metadata = json.loads((tmp_path / "roads.csv-metadata.json").read_text(encoding="utf-8"))
    assert metadata["url"] == "roads.csv" and metadata["dc:source"] == ATTRIBUTION
    assert [c["name"] for c in metadata["tableSchema"]["columns"]] == list(table.columns)


def cityjson_validator() -> Draft7Validator:
    schemas = [json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.schema.json")]
    registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)
    main = next(s for s in schemas if s["$id"].endswith("/cityjson.schema.json"))
    return Draft7Validator(main, registry=registry)


def test_cityjson_is_valid_has_both_lods_and_semantic_surfaces_and_cjio_reads_it(twin, city_dir, tmp_path):
    out = tmp_path / "buildings.city.json"
    done = twin("export", str(city_dir), "-f", "cityjson", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    errors = [e.message for e in cityjson_validator().iter_errors(document)]
    assert errors == []
    buildings = {k: v for k, v in document["CityObjects"].items() if v["type"] == "Building"}
    assert sorted(buildings) == sorted(pd.read_parquet(city_dir / "buildings.parquet", columns=["gml_id"])["gml_id"])
    lods = {g["lod"] for b in document["CityObjects"].values() for g in b["geometry"]}
    assert lods == {"1", "2"}
    kinds = {s["type"] for b in document["CityObjects"].values() for g in b["geometry"]
             for s in g.get("semantics", {}).get("surfaces", [])}
    assert {"RoofSurface", "WallSurface", "GroundSurface"} <= kinds
    assert document["metadata"]["referenceSystem"] == "https://www.opengis.net/def/crs/EPSG/0/10170"  # zone IX + height
    assert ATTRIBUTION in document["metadata"]["title"]
    info = subprocess.run([CJIO, str(out), "info"], capture_output=True, text=True, timeout=300)
    assert info.returncode == 0, info.stderr
    assert "CityJSON version = 2.0" in info.stdout and f"Building ({len(buildings)})" in info.stdout
    obj = tmp_path / "buildings.obj"
    exported = subprocess.run([CJIO, str(out), "export", "obj", str(obj)], capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0 and obj.is_file(), exported.stdout + exported.stderr
    faces = sum(1 for line in obj.read_text().splitlines() if line.startswith("f "))
    assert faces >= 12 * len(buildings)  # at least a triangulated box (12 triangles) per building


def test_cityjson_buildings_carry_their_decoded_attributes_and_official_flood_depth(twin, city_dir, tmp_path):
    """Each Building's attributes are the City table's: usage as its label with the code beside it,
    the measured height, and the official flood depth and rank where PLATEAU gives one (absent where not)."""
    out = tmp_path / "b.city.json"
    assert twin("export", str(city_dir), "-f", "cityjson", "-o", str(out)).returncode == 0
    objects = json.loads(out.read_text(encoding="utf-8"))["CityObjects"]
    table = pd.read_parquet(city_dir / "buildings.parquet").set_index("gml_id")
    flooded = 0
    for gml_id, row in table.iterrows():
        attributes = objects[gml_id]["attributes"]
        if pd.notna(row["usage_code"]):
            assert attributes["usage_code"] == row["usage_code"]
            assert attributes["usage"] == (row["usage_label"] if pd.notna(row["usage_label"]) else row["usage_code"])
        else:
            assert "usage" not in attributes
        if np.isfinite(row["height"]):
            assert attributes["measuredHeight"] == pytest.approx(row["height"])
        if np.isfinite(row["max_flood_depth"]):
            assert attributes["max_flood_depth"] == pytest.approx(row["max_flood_depth"])
            assert attributes["max_flood_rank"] == int(row["max_flood_rank"])
            flooded += 1
        else:
            assert "max_flood_depth" not in attributes
    assert 0 < flooded < len(table)  # the sample city has buildings in and out of the official flood area


def test_each_buildings_lod1_solid_stands_on_its_footprint_up_to_its_measured_height(twin, city_dir, tmp_path):
    """Decoded with the transform, every LOD1 solid rises from the table's ground height to (at most) its
    measured height, and lies over its footprint (projected here with pyproj) give or take the eaves."""
    from pyproj import Transformer

    out = tmp_path / "b.city.json"
    assert twin("export", str(city_dir), "-f", "cityjson", "-o", str(out)).returncode == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    scale, translate = (np.array(document["transform"][k]) for k in ("scale", "translate"))
    vertices = np.array(document["vertices"]) * scale + translate
    city = gpd.read_parquet(city_dir / "buildings.parquet").set_index("gml_id")
    footprints = city.to_crs(Transformer.from_crs("EPSG:6668", "EPSG:6677").target_crs).geometry
    checked = 0
    for gml_id, body in document["CityObjects"].items():
        lod1 = next((g for g in body["geometry"] if g["lod"] == "1"), None)
        if body["type"] != "Building" or lod1 is None:
            continue
        used = vertices[sorted({i for surface in lod1["boundaries"][0] for ring in surface for i in ring})]
        row = city.loc[gml_id]
        # 1 cm: vertices are rounded to millimetres and PLATEAU heights are given to the centimetre
        assert used[:, 2].min() == pytest.approx(row["ground_height"], abs=0.01)
        if np.isfinite(row["height"]):  # the sample city extrudes a gabled LOD1 to the eaves, ≤ 2.5 m under the ridge
            top = row["ground_height"] + row["height"]
            assert top - 2.5 - 0.01 <= used[:, 2].max() <= top + 0.01
        # 1 m: the footprint is the roof edge (lod0RoofEdge), which may overhang the walls by the eaves
        west, south, east, north = footprints.loc[gml_id].bounds
        assert west - 1 <= used[:, 0].min() and used[:, 0].max() <= east + 1
        assert south - 1 <= used[:, 1].min() and used[:, 1].max() <= north + 1
        checked += 1
    assert checked > 100


def test_lod1_faces_are_classed_by_their_outward_normals():
    # A unit cube's faces, counter-clockwise seen from outside (the GML convention).
    top = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
    bottom = np.array([[0, 0, 0], [0, 1, 0], [1, 1, 0], [1, 0, 0]], float)
    side = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], float)
    assert [_lod1_semantic(f) for f in (top, bottom, side)] == ["RoofSurface", "GroundSurface", "WallSurface"]


def test_a_finished_flood_downloads_as_a_valid_cog_equal_to_its_grid(client, job, result):
    answer = client.get(f"/api/scenarios/{job}/downloads/max-depth.tif")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/tiff"
    assert "license" in answer.headers["link"]

    path = result.parent / "downloads" / "max-depth.tif"
    valid, errors, warnings = cog_validate(str(path))
    assert valid and errors == [], errors
    with rasterio.open(path) as cog, rasterio.open(result / "max_depth.tif") as grid:
        np.testing.assert_array_equal(cog.read(1), grid.read(1))
        assert cog.crs == grid.crs and cog.transform == grid.transform
        assert cog.tags()["ATTRIBUTION"] == ATTRIBUTION
    assert client.get("/api/scenarios/nojob/downloads/max-depth.tif").status_code == 404


def test_the_cli_writes_the_same_cog(twin, city_dir, result, tmp_path):
    out = tmp_path / "depth.tif"
    assert twin("export", str(city_dir), "-f", "cog", "--scenario", str(result), "-o", str(out)).returncode == 0
    assert cog_validate(str(out))[0]


def test_bad_export_requests_are_one_clear_line_and_status_2(twin, city_dir, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(city_dir, moved)
    manifest = json.loads((moved / "city.json").read_text(encoding="utf-8"))
    gone = [{"path": str(tmp_path / "gone"), "kind": "plateau"}]
    (moved / "city.json").write_text(json.dumps({**manifest, "inputs": gone}), encoding="utf-8")
    cases = [
        (["-f", "gpkg", "--layer", "parks"], "layer 'parks'"),
        (["-f", "svg"], "--format 'svg'"),
        (["-f", "cog"], "give one --scenario"),
        (["-f", "geojson", "--layer", "hazards"], "one layer at a time"),
    ]
    for args, says in cases:
        done = twin("export", str(city_dir), *args, "-o", str(tmp_path / "x"))
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = twin("export", str(moved), "-f", "cityjson", "-o", str(tmp_path / "x.city.json"))
    assert done.returncode == 2 and "--source" in done.stderr
    assert twin("export", str(tmp_path / "nothing"), "-f", "gpkg", "-o", str(tmp_path / "y")).returncode == 2


def test_the_server_lists_and_serves_each_download(client, job):
    listed = client.get(f"/api/cities/{CITY_ID}/downloads").json()["downloads"]
    names = {d["name"] for d in listed}
    assert {f"{CITY_ID}.gpkg", f"{CITY_ID}-buildings.city.json", f"{CITY_ID}-roads.csv",
            f"{CITY_ID}-scenario-{job}.geojson"} <= names
    csv = client.get(f"/api/cities/{CITY_ID}/downloads/{CITY_ID}-roads.csv")
    assert csv.status_code == 200 and 'rel="describedby"' in csv.headers["link"]
    sidecar = client.get(f"/api/cities/{CITY_ID}/downloads/{CITY_ID}-roads.csv-metadata.json")
    assert sidecar.json()["dc:license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert client.get(f"/api/cities/{CITY_ID}/downloads/passwords.txt").status_code == 404
    assert client.get(f"/api/cities/{CITY_ID}/downloads/..%2Fcity.json").status_code == 404
