"""OGC API – Features as GIS tools use it: GDAL's OAPIF driver (Debian's ogrinfo/ogr2ogr) and OWSLib.

Every expected count and value is read here from the City's own files (geopandas, shapely),
never through the code under test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features

from tests.twin.fixtures_city import CITY_ID

OGRINFO, OGR2OGR = shutil.which("ogrinfo"), shutil.which("ogr2ogr")
NEEDS_GDAL = pytest.mark.skipif(OGRINFO is None or OGR2OGR is None,
                                reason="needs GDAL's ogrinfo/ogr2ogr (apt-get install -y gdal-bin); CI installs it")
#: Coordinates travel as decimal text: 1e-9° is about 0.1 mm, far below PLATEAU's centimetre precision.
COORDINATE_TOLERANCE = 1e-9
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def city_dir(data_dir) -> Path:
    return data_dir / CITY_ID


def expected_counts(city_dir: Path, job: str, data_dir: Path) -> dict[str, int]:
    """Collection id → feature count, from the City's files."""
    hazards = pd.read_parquet(city_dir / "hazards.parquet", columns=["layer", "scale"])
    counts = {key: len(pd.read_parquet(city_dir / f"{key}.parquet", columns=["gml_id"]))
              for key in ("buildings", "roads", "water", "land_use", "bridges")}
    counts["shelters"] = len(json.loads((city_dir / "shelters.geojson").read_text(encoding="utf-8"))["features"])
    for (layer, scale), rows in hazards.groupby(["layer", "scale"]):
        counts[f"hazards-{layer}-{scale.lower()}"] = len(rows)
    result = pd.read_parquet(data_dir / "scenarios" / job / "result" / "buildings.parquet")
    counts[f"scenario-{job}"] = len(result)
    return counts


@NEEDS_GDAL
def test_ogrinfo_lists_every_collection_with_its_feature_count(city_url, city_dir, job, data_dir):
    done = subprocess.run([OGRINFO, "-ro", "-so", "-al", f"OAPIF:{city_url}"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    layers = re.findall(r"^Layer name: (\S+)$", done.stdout, re.M)
    counts = [int(n) for n in re.findall(r"^Feature Count: (\d+)$", done.stdout, re.M)]
    assert dict(zip(layers, counts)) == expected_counts(city_dir, job, data_dir)
    assert "出典：国土交通省 Project PLATEAU" in done.stdout  # the collections' descriptions carry it


@NEEDS_GDAL
def test_ogr2ogr_copies_buildings_into_a_geopackage_equal_to_the_city(city_url, city_dir, tmp_path):
    out = tmp_path / "buildings.gpkg"
    done = subprocess.run([OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{city_url}", "buildings",
                           "-oo", "PAGE_SIZE=25"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    copied = gpd.read_file(out, layer="buildings").set_index("gml_id").sort_index()
    city = gpd.read_parquet(city_dir / "buildings.parquet").set_index("gml_id").sort_index()
    assert list(copied.index) == list(city.index)  # every building once, through 5 pages of 25
    assert copied["usage_label"].tolist() == city["usage_label"].tolist()
    np.testing.assert_array_equal(copied["height"].to_numpy(float), city["height"].to_numpy(float))
    np.testing.assert_array_equal(copied["max_flood_depth"].to_numpy(float), city["max_flood_depth"].to_numpy(float))
    storeys = city["storeys"].to_numpy(float)
    np.testing.assert_array_equal(copied["storeys"].to_numpy(float), storeys)
    assert all(shapely.equals_exact(a, b, COORDINATE_TOLERANCE) for a, b in zip(copied.geometry, city.geometry))
    # The official MLIT class of each building in a flood zone, in words (rank 1 = "0.5m未満", 2 = "0.5m以上3m未満").
    ranked = city["max_flood_rank"].dropna()
    assert len(ranked) > 0
    names = {1: "0.5m未満", 2: "0.5m以上3m未満", 3: "3m以上5m未満", 4: "5m以上10m未満"}
    assert copied.loc[ranked.index, "flood_class_ja"].tolist() == [names[int(r)] for r in ranked]


@NEEDS_GDAL
@pytest.mark.parametrize(("layer", "columns"), [("water", ["name", "class_label", "water_level"]),
                                                ("land_use", ["class_code", "class_label", "manning_n"]),
                                                ("bridges", ["class_label", "year", "height_min", "height_max"])])
def test_ogr2ogr_copies_the_new_layers_as_the_city_holds_them(city_url, city_dir, tmp_path, layer, columns):
    out = tmp_path / f"{layer}.gpkg"
    done = subprocess.run([OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{city_url}", layer, "-oo", "PAGE_SIZE=1000"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    copied = gpd.read_file(out, layer=layer).set_index("gml_id").sort_index()
    city = gpd.read_parquet(city_dir / f"{layer}.parquet").set_index("gml_id").sort_index()
    assert list(copied.index) == list(city.index) and len(city) > 0
    pd.testing.assert_frame_equal(copied[columns], city[columns], check_dtype=False)
    assert all(shapely.equals_exact(a, b, COORDINATE_TOLERANCE) for a, b in zip(copied.geometry, city.geometry))


def owslib(city_url: str) -> Features:
    return Features(city_url, timeout=60)


def test_owslib_pages_through_a_collection_with_next_links(city_url, city_dir):
    client = owslib(city_url)
    ids, page = [], client.collection_items("buildings", limit=7)
    pages = 1
    while True:
        ids += [f["id"] for f in page["features"]]
        following = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not following:
            break
        page = httpx.get(following[0], timeout=60).json()
        pages += 1
    city = pd.read_parquet(city_dir / "buildings.parquet", columns=["gml_id"])
    assert ids == city["gml_id"].tolist()  # in table order, each once
    assert pages == -(-len(city) // 7)


def test_owslib_bbox_and_cql2_filters_select_what_shapely_and_pandas_select(city_url, city_dir):
    client = owslib(city_url)
    city = gpd.read_parquet(city_dir / "buildings.parquet")
    west, south, east, north = 139.4705, 35.9255, 139.4715, 35.9265
    box = shapely.box(west, south, east, north)
    inside = city[city.intersects(box)]["gml_id"].tolist()
    assert 0 < len(inside) < len(city)
    found = client.collection_items("buildings", bbox=[west, south, east, north], limit=1000)
    assert (found["numberMatched"], [f["id"] for f in found["features"]]) == (len(inside), inside)

    text = "height > 20 AND usage_label = '共同住宅'"
    wanted = city[(city["height"] > 20) & (city["usage_label"] == "共同住宅")]["gml_id"].tolist()
    assert wanted
    found = client.collection_items("buildings", filter=text, limit=1000)
    assert [f["id"] for f in found["features"]] == wanted

    polygon = f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"
    found = client.collection_items("buildings", filter=f"S_INTERSECTS(geometry, {polygon})", limit=1000)
    assert [f["id"] for f in found["features"]] == inside

    both = f"S_INTERSECTS(geometry, {polygon}) AND NOT storeys < 3 OR year IS NULL"
    expected = city[(city.intersects(box) & ~(city["storeys"] < 3)) | city["year"].isna()]["gml_id"].tolist()
    assert [f["id"] for f in client.collection_items("buildings", filter=both, limit=1000)["features"]] == expected

    deep = client.collection_items("buildings", filter="flood_class_en IN ('0.5–3 m', '3–5 m')", limit=1000)
    assert [f["id"] for f in deep["features"]] == city[city["max_flood_rank"].isin([2, 3])]["gml_id"].tolist()


def test_answers_come_in_crs84_or_jgd2011_axis_order(city_url, city_dir):
    city = gpd.read_parquet(city_dir / "buildings.parquet")
    lon, lat = city.geometry.iloc[0].exterior.coords[0]
    for crs, first in (("http://www.opengis.net/def/crs/OGC/1.3/CRS84", (lon, lat)),
                       ("http://www.opengis.net/def/crs/EPSG/0/6668", (lat, lon)),
                       ("http://www.opengis.net/def/crs/EPSG/0/6697", (lat, lon))):
        answer = httpx.get(f"{city_url}/collections/buildings/items", params={"limit": 1, "crs": crs}, timeout=60)
        assert answer.headers["content-crs"] == f"<{crs}>"
        assert answer.json()["features"][0]["geometry"]["coordinates"][0][0] == pytest.approx(first, abs=1e-12)
    # A bbox in EPSG:6668 is latitude first: the same box as in CRS84.
    in_crs84 = httpx.get(f"{city_url}/collections/buildings/items",
                         params={"bbox": "139.4705,35.9255,139.4715,35.9265"}, timeout=60).json()
    in_jgd = httpx.get(f"{city_url}/collections/buildings/items",
                       params={"bbox": "35.9255,139.4705,35.9265,139.4715",
                               "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/6668"}, timeout=60).json()
    assert in_jgd["numberMatched"] == in_crs84["numberMatched"] > 0


def test_one_feature_by_id_and_the_scenario_results_on_footprints(city_url, city_dir, data_dir, job):
    city = gpd.read_parquet(city_dir / "buildings.parquet").set_index("gml_id")
    result = pd.read_parquet(data_dir / "scenarios" / job / "result" / "buildings.parquet").set_index("gml_id")
    wetted = result[result["simulated_rank"] > 0]
    assert len(wetted) > 0
    gml_id = wetted.index[0]
    item = httpx.get(f"{city_url}/collections/scenario-{job}/items/{gml_id}", timeout=60).json()
    assert item["id"] == gml_id
    assert item["properties"]["simulated_rank"] == int(wetted.loc[gml_id, "simulated_rank"])
    assert item["properties"]["max_adjacent_depth_m"] == pytest.approx(float(wetted.loc[gml_id, "max_adjacent_depth_m"]))
    assert shapely.equals_exact(shapely.geometry.shape(item["geometry"]), city.loc[gml_id, "geometry"],
                                COORDINATE_TOLERANCE)
    assert item["attribution"] == "出典：国土交通省 Project PLATEAU"
    wet = httpx.get(f"{city_url}/collections/scenario-{job}/items", params={"filter": "simulated_rank > 0",
                                                                           "limit": 1000}, timeout=60).json()
    assert wet["numberMatched"] == len(wetted)


def test_queryables_list_the_filterable_properties_with_their_types(city_url):
    schema = httpx.get(f"{city_url}/collections/buildings/queryables", timeout=60)
    assert schema.headers["content-type"].startswith("application/schema+json")
    properties = schema.json()["properties"]
    assert properties["height"]["type"] == "number" and properties["storeys"]["type"] == "integer"
    assert properties["usage_label"]["type"] == "string" and "attributes" not in properties
    assert properties["geometry"]["format"] == "geometry-any"


def test_the_service_description_is_the_openapi_version_the_landing_page_says(city_url):
    links = {link["rel"]: link for link in httpx.get(city_url, timeout=60).json()["links"]}
    declared = links["service-desc"]["type"].split("version=")[1]
    document = httpx.get(links["service-desc"]["href"], timeout=60).json()
    assert document["openapi"].startswith(f"{declared}.")
    conformance = httpx.get(links["conformance"]["href"], timeout=60).json()["conformsTo"]
    # The OpenAPI 3.0 class is claimed only for an OpenAPI 3.0 document.
    assert (declared == "3.0") == any(c.endswith("/conf/oas30") for c in conformance)
    operations = {path for path in document["paths"] if path.startswith("/ogcapi/")}
    assert {"/ogcapi/{city_id}/collections/{collection_id}/items",
            "/ogcapi/{city_id}/collections/{collection_id}/items/{feature_id}"} <= operations


@pytest.mark.parametrize(("params", "says"), [
    ({"filter": "heigth > 20"}, "'heigth' is not a queryable"),
    ({"filter": "height > 'tall'"}, "'height' is a number"),
    ({"filter": "height >"}, "not CQL2 text"),
    ({"filter": "height * 2 > 20"}, "not supported"),
    ({"filter": "usage_label LIKE 3"}, "text pattern"),
    ({"filter": "height LIKE '3%'"}, "needs a text property"),
    ({"bbox": "1,2,3"}, "4 or 6 numbers"),
    ({"bbox": "139.5,35,139.4,36"}, "antimeridian"),
    ({"crs": "EPSG:3857"}, "supported are"),
    ({"datetime": "2024-01-01", "colour": "red"}, "Unknown query parameter(s) colour"),
])
def test_bad_queries_answer_400_saying_what_is_wrong(city_url, params, says):
    answer = httpx.get(f"{city_url}/collections/buildings/items", params=params, timeout=60)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert says in answer.json()["detail"]


def test_unknown_collections_and_features_are_404(city_url):
    assert httpx.get(f"{city_url}/collections/nothing", timeout=60).status_code == 404
    assert httpx.get(f"{city_url}/collections/buildings/items/no-such-id", timeout=60).status_code == 404


def test_gdal_reads_a_geopackage_written_from_pages_and_pyogrio_agrees(city_url, tmp_path):
    """The same layer through ogr2ogr and through pyogrio's own OAPIF reading: same features.

    pyogrio reads in a child process: GDAL's HTTP calls would hold this process's GIL while the
    server they call runs in one of its threads.
    """
    if OGR2OGR is None:
        pytest.skip("needs gdal-bin")
    out = tmp_path / "hazards.gpkg"
    collection = "hazards-fld-l2"
    subprocess.run([OGR2OGR, "-f", "GPKG", str(out), f"OAPIF:{city_url}", collection], check=True,
                   capture_output=True, timeout=300)
    via_ogr2ogr = pyogrio.read_dataframe(out, layer=collection)
    read = ("import json, sys, pyogrio; "
            "print(json.dumps(sorted(pyogrio.read_dataframe(sys.argv[1], layer=sys.argv[2])['gml_id'])))")
    child = subprocess.run([sys.executable, "-c", read, f"OAPIF:{city_url}", collection], capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    assert sorted(via_ogr2ogr["gml_id"]) == json.loads(child.stdout) and len(via_ogr2ogr) > 0
