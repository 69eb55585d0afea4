"""A City whose terrain came from a GSI DEM credits GSI beside PLATEAU in every answer and file that
credits PLATEAU (OGC API, downloads, exports, the catalogue, CKAN, its terrain tiles, the console's
attribution, scenario reports); a City on other terrain does not.

Two Cities of a 10-building sample: one converted with its ground as GSI 基盤地図情報 DEM5A zips,
one from the buildings alone (estimated terrain)."""

from __future__ import annotations

import json
import shutil

import pyogrio
import pyshacl
import pytest
import rdflib
from fastapi.testclient import TestClient
from rdflib.namespace import DCAT, DCTERMS, RDF, RDFS

from citygml.samplecity import generate
from tests.tools.tileset_rules import check_tileset
from tests.twin.fixtures_jobs import quick_job, run_job
from tests.twin.opendata.test_catalog_dcat import shapes
from twin.city.layout import FILES, TERRAIN_SOURCES
from twin.convert.pipeline import convert
from twin.server import Settings, create_app
from twin.tiles.glb import read_glb

PLATEAU = "出典：国土交通省 Project PLATEAU"
GSI = "出典：国土地理院 基盤地図情報 数値標高モデル"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    full = source / "full"
    generate(full, buildings=10, seed=5, gsi_dem=True)
    bare = source / "bare"  # the buildings without their own DEM, GSI zips and flood layers
    shutil.copytree(full, bare, ignore=lambda folder, names: [n for n in names if n in ("dem", "gsi", "fld")])
    root = tmp_path_factory.mktemp("home")
    kinds = {"gsi": convert([bare, full / "gsi"], root / "gsi")["terrain"]["sources"][0]["kind"],
             "plain": convert([bare], root / "plain")["terrain"]["sources"][0]["kind"]}
    assert kinds == {"gsi": "gsi_dem", "plain": "estimated"} and "gsi_dem" in TERRAIN_SOURCES.values()
    return root


@pytest.fixture(scope="module")
def client(home):
    with TestClient(create_app(Settings(data_dir=home, nowcast=False))) as client:
        yield client


def answers(client: TestClient, city: str) -> dict[str, str]:
    """Every open-data answer of the City that carries the attribution, by path."""
    paths = [f"/ogcapi/{city}", f"/ogcapi/{city}/collections", f"/ogcapi/{city}/collections/buildings",
             f"/ogcapi/{city}/collections/buildings/items?limit=2", f"/api/cities/{city}/downloads"]
    item = client.get(f"/ogcapi/{city}/collections/buildings/items?limit=1").json()["features"][0]["id"]
    paths.append(f"/ogcapi/{city}/collections/buildings/items/{item}")
    downloads = {d["name"] for d in client.get(f"/api/cities/{city}/downloads").json()["downloads"]}
    assert {f"{city}.gpkg", f"{city}-buildings.geojson", f"{city}-buildings.csv", f"{city}-buildings.city.json"} <= downloads
    paths += [f"/api/cities/{city}/downloads/{name}" for name in (f"{city}-buildings.geojson",
                                                                   f"{city}-buildings.city.json",
                                                                   f"{city}-buildings.csv-metadata.json")]
    found = {}
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        found[path] = answer.content.decode()
    return found


def test_answers_and_files_of_a_city_on_a_gsi_dem_credit_gsi(client):
    for path, text in answers(client, "gsi").items():
        assert PLATEAU in text and GSI in text, path
    for path, text in answers(client, "plain").items():
        assert PLATEAU in text and GSI not in text, path
    geojson = client.get("/api/cities/gsi/downloads/gsi-buildings.geojson").json()
    assert geojson["attribution"] == f"{PLATEAU}、{GSI}" and "国土地理院" in geojson["processing"]
    assert GSI in client.get("/ogcapi").json()["attribution"]  # the list of all Cities holds one on GSI terrain


def test_the_geopackage_names_gsi_in_its_metadata(client, tmp_path):
    for city, credits_gsi in (("gsi", True), ("plain", False)):
        out = tmp_path / f"{city}.gpkg"
        out.write_bytes(client.get(f"/api/cities/{city}/downloads/{city}.gpkg").content)
        metadata = pyogrio.read_info(out, layer="buildings")["dataset_metadata"]
        assert PLATEAU in metadata["ATTRIBUTION"] and (GSI in metadata["ATTRIBUTION"]) is credits_gsi
        assert ("gsi.go.jp" in metadata["SOURCE_TERMS"]) is credits_gsi


def test_the_catalogue_names_gsi_as_the_source_of_that_city_only(client):
    graph = rdflib.Graph().parse(data=client.get("/catalog.jsonld").text, format="json-ld")
    conforms, _, text = pyshacl.validate(graph, shacl_graph=shapes("shapes", "range"))
    assert conforms, text
    by_id = {str(graph.value(d, DCTERMS.identifier)): d for d in graph.subjects(RDF.type, DCAT.Dataset)
             if graph.value(d, DCTERMS.identifier) is not None}
    source = graph.value(by_id["city-gsi"], DCTERMS.source)
    assert source is not None and (source, RDF.type, DCAT.Dataset) in graph
    assert "基盤地図情報 数値標高モデル" in {str(t) for t in graph.objects(source, DCTERMS.title)}
    assert graph.value(by_id["city-plain"], DCTERMS.source) is None
    for ident, dataset in by_id.items():
        descriptions = " ".join(str(t) for t in graph.objects(dataset, DCTERMS.description))
        assert (GSI in descriptions) is ident.startswith("city-gsi"), ident
        for distribution in graph.objects(dataset, DCAT.distribution):
            labels = " ".join(str(t) for t in graph.objects(graph.value(distribution, DCTERMS.rights), RDFS.label))
            assert PLATEAU in labels and (GSI in labels) is ident.startswith("city-gsi"), ident
    page = client.get("/catalog", headers={"Accept": "text/html"}).text
    gsi_section = page.split('<section id="city-gsi">')[1].split("</section>")[0]
    plain_section = page.split('<section id="city-plain">')[1].split("</section>")[0]
    assert GSI in gsi_section and GSI not in plain_section


def test_ckan_packages_credit_gsi_for_that_city_only(client):
    def show(name: str) -> dict:
        answer = client.get("/ckan/api/3/action/package_show", params={"id": name})
        assert answer.status_code == 200, answer.text
        return answer.json()["result"]

    gsi, plain = show("city-gsi-buildings"), show("city-plain-buildings")
    assert GSI in gsi["notes"] and GSI not in plain["notes"] and PLATEAU in plain["notes"]
    extras = {e["key"]: e["value"] for e in show("city-gsi")["extras"]}
    assert GSI in extras["attribution"] and "fgd.gsi.go.jp" in extras["source"]
    assert "source" not in {e["key"] for e in show("city-plain")["extras"]}
    # The organisation (the publisher of every package) credits what all its datasets credit; the
    # package's own members name GSI nowhere.
    assert GSI in plain["organization"]["description"]
    own = {key: value for key, value in plain.items() if key != "organization"}
    assert "国土地理院" not in json.dumps(own, ensure_ascii=False)


def credits_of_tiles(tileset) -> set[str]:
    """The ``asset.copyright`` of every glb of a tileset."""
    return {read_glb(path.read_bytes())[0]["asset"]["copyright"] for path in check_tileset(tileset).contents}


def test_terrain_tiles_credit_what_the_heights_came_from(home):
    assert credits_of_tiles(home / "gsi" / FILES["terrain_tileset"]) == {f"{PLATEAU}、{GSI}"}
    assert credits_of_tiles(home / "plain" / FILES["terrain_tileset"]) == {PLATEAU}  # estimated from PLATEAU's buildings
    assert credits_of_tiles(home / "gsi" / FILES["tileset"]) == {PLATEAU}  # the buildings are PLATEAU's alone


def test_the_console_and_scenario_reports_credit_gsi(client):
    assert client.get("/api/config").json()["attribution"] == f"{PLATEAU}、{GSI}"  # one of the Cities is on GSI terrain
    staff = {"Authorization": f"Bearer {client.app.state.keys.create('ops-desk', 'staff')}"}
    for city, credits_gsi in (("gsi", True), ("plain", False)):
        body = {**quick_job(50, cell_size=8), "city": city, "allow_estimated_terrain": True}  # "plain" has no DEM
        job = run_job(client, staff, body)
        page = client.get(f"/api/scenarios/{job}/report").text
        assert PLATEAU in page and (GSI in page) is credits_gsi, city
