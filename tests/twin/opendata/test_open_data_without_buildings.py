"""A City without buildings (a hazard-only or a DEM-only download) publishes what it has: the
catalogue, CKAN, OGC API – Features and downloads answer for it, never with a server error."""

from __future__ import annotations

import subprocess

import pandas as pd
import pyogrio
import pyshacl
import pytest
import rdflib
from fastapi.testclient import TestClient

from citygml.samplecity import generate
from tests.conftest import plateau_sample
from tests.security.conftest import served
from tests.twin.fixtures_city import TWIN
from tests.twin.opendata.test_catalog_dcat import shapes
from tests.twin.opendata.test_ogcapi_clients import NEEDS_GDAL, OGRINFO
from twin.convert.pipeline import convert
from twin.server import Settings, create_app


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    numazu = plateau_sample("22203_numazu")
    convert([numazu], root / "numazu")  # river and tsunami areas only
    source = tmp_path_factory.mktemp("dem")
    generate(source, buildings=10, seed=5, gsi_dem=True)
    convert([source / "gsi"], root / "ground")  # a GSI DEM only
    return root


@pytest.fixture(scope="module")
def client(home):
    with TestClient(create_app(Settings(data_dir=home))) as client:
        yield client


def get(client: TestClient, path: str):
    answer = client.get(path)
    assert answer.status_code < 500, (path, answer.text)
    return answer


def test_each_open_data_route_answers_for_cities_without_buildings(client, home):
    listed = get(client, "/ogcapi").json()["apis"]
    assert {a["city"] for a in listed} == {"numazu", "ground"}
    hazards = pd.read_parquet(home / "numazu" / "hazards.parquet", columns=["layer", "scale"])
    expected = {"-".join(["hazards", layer, *([scale.lower()] if isinstance(scale, str) else [])]): len(rows)
                for (layer, scale), rows in hazards.groupby(["layer", "scale"], dropna=False)}
    for city, wanted in (("numazu", expected), ("ground", {})):
        assert get(client, f"/ogcapi/{city}").status_code == 200
        assert get(client, f"/ogcapi/{city}/conformance").status_code == 200
        collections = get(client, f"/ogcapi/{city}/collections").json()["collections"]
        matched = {}
        for collection in collections:
            get(client, f"/ogcapi/{city}/collections/{collection['id']}/queryables")
            items = get(client, f"/ogcapi/{city}/collections/{collection['id']}/items?limit=2").json()
            matched[collection["id"]] = items["numberMatched"]
        assert matched == wanted
        assert get(client, f"/ogcapi/{city}/collections/buildings").status_code == 404
        assert get(client, f"/ogcapi/{city}/collections/buildings/items").status_code == 404
        downloads = get(client, f"/api/cities/{city}/downloads").json()["downloads"]
        assert not any(d["name"].endswith(".city.json") for d in downloads)  # no buildings, no CityJSON
        for download in downloads:
            assert get(client, f"/api/cities/{city}/downloads/{download['name']}").status_code == 200
    names = {d["name"] for d in get(client, "/api/cities/numazu/downloads").json()["downloads"]}
    assert {"numazu.gpkg", *(f"numazu-{c}.geojson" for c in expected)} <= names


def test_the_catalogue_and_ckan_list_them_and_stay_valid_dcat_ap(client, home):
    assert get(client, "/catalog").status_code == 200
    answer = get(client, "/catalog.jsonld")
    graph = rdflib.Graph().parse(data=answer.text, format="json-ld")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes("shapes", "range"))
    assert conforms, text
    packages = get(client, "/ckan/api/3/action/package_list").json()["result"]
    assert {"city-numazu", "city-ground"} <= set(packages)
    for name in packages:
        assert get(client, f"/ckan/api/3/action/package_show?id={name}").json()["success"]
    # Each City names its inputs (kind and folder, not the server's paths) in its provenance.
    for name, says in (("city-numazu", "PLATEAU CityGML dataset '22203_numazu"), ("city-ground", "GSI 基盤地図情報 DEM 'gsi'")):
        extras = get(client, f"/ckan/api/3/action/package_show?id={name}").json()["result"]["extras"]
        provenance = next(e["value"] for e in extras if e["key"] == "provenance")
        assert says in provenance and str(home) not in provenance
    found = get(client, "/ckan/api/3/action/package_search?q=tsunami").json()["result"]
    assert found["count"] >= 1 and all(r["name"].startswith("city-numazu") for r in found["results"])


@NEEDS_GDAL
def test_ogrinfo_opens_the_hazard_only_city(client, home):
    hazards = pd.read_parquet(home / "numazu" / "hazards.parquet", columns=["gml_id"])
    with served(client.app, lifespan="off") as port:
        done = subprocess.run([OGRINFO, "-ro", "-so", "-al", f"OAPIF:http://127.0.0.1:{port}/ogcapi/numazu"],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = [int(line.split(":")[1]) for line in done.stdout.splitlines() if line.startswith("Feature Count:")]
    assert sum(counts) == len(hazards)


def test_twin_export_writes_what_the_city_has_and_says_what_it_lacks(home, tmp_path):
    out = tmp_path / "numazu.gpkg"
    done = subprocess.run([TWIN, "export", str(home / "numazu"), "-f", "gpkg", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hazards = pd.read_parquet(home / "numazu" / "hazards.parquet", columns=["gml_id"])
    assert sum(pyogrio.read_info(out, layer=name)["features"] for name, _ in pyogrio.list_layers(out)) == len(hazards)
    for fmt, says in (("cityjson", "the City has no buildings"), ("geojson", "layer 'buildings': the City has")):
        done = subprocess.run([TWIN, "export", str(home / "numazu"), "-f", fmt, "-o", str(tmp_path / "x")],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
