"""``/catalog``: DCAT-AP 3 JSON-LD that rdflib parses and pySHACL finds valid against DCAT-AP 3.0.1's
own shapes (kept in specs/ with their licence), listing every dataset and API; and a readable page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyshacl
import pytest
import rdflib
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

from tests.sensors.conftest import MEASUREMENT, river_gauge
from tests.twin.fixtures_city import CITY_ID

SHAPES = Path(__file__).with_name("specs") / "dcat-ap-3.0.1"
PUBLIC = rdflib.URIRef("http://publications.europa.eu/resource/authority/access-right/PUBLIC")
RESTRICTED = rdflib.URIRef("http://publications.europa.eu/resource/authority/access-right/RESTRICTED")
ISSUE = datetime(2024, 6, 1, 1, 0, tzinfo=UTC)  # the forecast's issue time


@pytest.fixture(scope="module")
def gauge(client, app) -> int:
    """A river gauge with one observation: a sensor datastream the catalogue lists (restricted)."""
    sensor = {"Authorization": f"Bearer {app.state.keys.create('catalog-gauge', 'sensor')}"}
    thing = client.post("/sta/v1.1/Things", json=river_gauge("荒川 gauge"), headers=sensor)
    assert thing.status_code == 201, thing.text
    stream = client.get(thing.json()["Datastreams@iot.navigationLink"], headers=sensor).json()["value"][0]["@iot.id"]
    sent = client.post(f"/sta/v1.1/Datastreams({stream})/Observations",
                       json={"phenomenonTime": "2024-06-01T00:00:00Z", "result": 1.5}, headers=sensor)
    assert sent.status_code == 201, sent.text
    return stream


@pytest.fixture(scope="module")
def forecast(app, client) -> dict:
    """One nowcast forecast of the sample city issued at ISSUE, run by the nowcast itself in its cheapest
    settings (a rain gauge with one reading, a 10-minute horizon, 32 m cells). The nowcast's thread is
    stopped first, so that no cycle at the wall clock's time joins it."""
    app.state.nowcasts.stop()
    sensor = {"Authorization": f"Bearer {app.state.keys.create('catalog-rain', 'sensor')}"}
    rain = {"name": "rain gauge", "description": "-", "Datastreams": [{
        "name": "rain", "description": "rain rate", "observationType": MEASUREMENT,
        "unitOfMeasurement": {"name": "millimetre per hour", "symbol": "mm/h", "definition": "mm/h"},
        "Sensor": {"name": "tipping bucket", "encodingType": "text/plain", "metadata": "-"},
        "ObservedProperty": {"name": "rain rate", "definition": "urn:rain-rate"}}]}
    thing = client.post("/sta/v1.1/Things", json=rain, headers=sensor)
    assert thing.status_code == 201, thing.text
    stream = client.get(thing.json()["Datastreams@iot.navigationLink"], headers=sensor).json()["value"][0]["@iot.id"]
    sent = client.post(f"/sta/v1.1/Datastreams({stream})/Observations",
                       json={"phenomenonTime": (ISSUE - timedelta(minutes=30)).isoformat(), "result": 5.0},
                       headers=sensor)
    assert sent.status_code == 201, sent.text
    app.state.nowcasts.configure(CITY_ID, {"rain_gauges": [stream], "horizon_s": 600, "cell_size_m": 32})
    return {"stream": stream, **app.state.nowcasts.run(CITY_ID, ISSUE)}


@pytest.fixture(scope="module")
def graph(client, job, gauge, forecast) -> rdflib.Graph:
    answer = client.get("/catalog.jsonld")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/ld+json"
    return rdflib.Graph().parse(data=answer.text, format="json-ld")


def shapes(*names: str) -> rdflib.Graph:
    found = rdflib.Graph()
    for name in names:
        found.parse(SHAPES / f"{name}.ttl")
    return found


def violations(report: rdflib.Graph) -> list[str]:
    return [str(report.value(r, SH.resultMessage)) for r in report.subjects(RDF.type, SH.ValidationResult)
            if report.value(r, SH.resultSeverity) == SH.Violation]


def test_the_catalogue_conforms_to_the_dcat_ap_3_shapes(graph):
    conforms, report, text = pyshacl.validate(graph, shacl_graph=shapes("shapes", "range"))
    assert conforms, text
    # The recommended properties are warnings; none of them is a violation either.
    _, report, _ = pyshacl.validate(graph, shacl_graph=shapes("shapes_recommended"))
    assert violations(report) == []


def test_the_shapes_do_check_something(graph):
    """A catalogue with one dataset's title removed, or one distribution without an access URL, fails."""
    dataset = next(graph.subjects(RDF.type, DCAT.Dataset))
    broken = rdflib.Graph() + graph
    broken.remove((dataset, DCTERMS.title, None))
    assert not pyshacl.validate(broken, shacl_graph=shapes("shapes", "range"))[0]
    distribution = next(graph.subjects(RDF.type, DCAT.Distribution))
    broken = rdflib.Graph() + graph
    broken.remove((distribution, DCAT.accessURL, None))
    assert not pyshacl.validate(broken, shacl_graph=shapes("shapes", "range"))[0]


def identifiers(graph: rdflib.Graph) -> set[str]:
    return {str(graph.value(d, DCTERMS.identifier)) for d in graph.subjects(RDF.type, DCAT.Dataset)
            if graph.value(d, DCTERMS.identifier) is not None}


def test_every_layer_scenario_and_sensor_is_listed_with_its_access(graph, data_dir, job, gauge, forecast):
    city = data_dir / CITY_ID
    hazards = pd.read_parquet(city / "hazards.parquet", columns=["layer", "scale"]).drop_duplicates()
    # The sample City has every layer but the generic features (twin sample-city writes no other types).
    assert not (city / "features.parquet").exists()
    layers = ("buildings", "roads", "water", "land_use", "bridges", "shelters")
    expected = {f"city-{CITY_ID}", *(f"city-{CITY_ID}-{key}" for key in layers), f"scenario-{job}", f"datastream-{gauge}",
                f"datastream-{forecast['stream']}", f"forecast-{CITY_ID}",
                *(f"city-{CITY_ID}-hazards-{layer}-{scale.lower()}" for layer, scale in hazards.itertuples(index=False))}
    assert identifiers(graph) == expected
    by_id = {str(graph.value(d, DCTERMS.identifier)): d for d in graph.subjects(RDF.type, DCAT.Dataset)}
    assert graph.value(by_id[f"datastream-{gauge}"], DCTERMS.accessRights) == RESTRICTED
    assert graph.value(by_id[f"city-{CITY_ID}-buildings"], DCTERMS.accessRights) == PUBLIC
    # The PLATEAU attribution and the CC BY 4.0 licence on every distribution.
    for distribution in graph.subjects(RDF.type, DCAT.Distribution):
        assert graph.value(distribution, DCTERMS.license) == rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")
        rights = graph.value(distribution, DCTERMS.rights)
        assert any("出典：国土交通省 Project PLATEAU" in str(label) for label in graph.objects(rights, rdflib.RDFS.label))


def test_every_api_is_a_data_service_with_its_endpoint(graph, base_url):
    services = {str(graph.value(s, DCAT.endpointURL)) for s in graph.subjects(RDF.type, DCAT.DataService)}
    host = "http://testserver"
    assert {f"{host}/ogcapi/{CITY_ID}", f"{host}/sta/v1.1", f"{host}/ngsi/v2/entities", f"{host}/api/cities",
            f"{host}/ckan/api/3/action/package_list"} <= services
    descriptions = {str(d) for d in graph.objects(None, DCAT.endpointDescription)}
    assert f"{host}/openapi.json" in descriptions


def test_download_links_of_the_catalogue_answer(client, graph):
    """Every download URL and every API access URL of a public dataset answers 200."""
    urls = {str(u) for u in graph.objects(None, DCAT.downloadURL)}
    for dataset in graph.subjects(RDF.type, DCAT.Dataset):
        if graph.value(dataset, DCTERMS.accessRights) != PUBLIC:
            continue
        for distribution in graph.objects(dataset, DCAT.distribution):
            urls.add(str(graph.value(distribution, DCAT.accessURL)))
    assert len(urls) > 20
    failed = {url: client.get(url).status_code for url in sorted(urls)}
    assert {url: status for url, status in failed.items() if status != 200} == {}


def test_browsers_get_a_page_that_lists_the_same_datasets(client, graph):
    page = client.get("/catalog", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.headers["content-type"].startswith("text/html")
    for ident in identifiers(graph):
        assert f'id="{ident}"' in page.text
    assert "出典：国土交通省 Project PLATEAU" in page.text and "<script" not in page.text
    as_data = client.get("/catalog", headers={"Accept": "application/ld+json"})
    assert json.loads(as_data.text)["@type"] == "dcat:Catalog"


def test_the_latest_forecast_is_a_restricted_dataset_modified_at_its_issue_time(client, app, graph, forecast):
    """Listed in JSON-LD, on the page and in CKAN: issued at ISSUE, its distribution the staff-only
    forecast API, which answers staff and refuses the anonymous."""
    by_id = {str(graph.value(d, DCTERMS.identifier)): d for d in graph.subjects(RDF.type, DCAT.Dataset)}
    dataset = by_id[f"forecast-{CITY_ID}"]
    assert forecast["issued"] == "2024-06-01T01:00:00Z"
    assert graph.value(dataset, DCTERMS.modified).toPython() == ISSUE
    assert graph.value(dataset, DCTERMS.accessRights) == RESTRICTED
    assert "staff" in " ".join(str(t) for t in graph.objects(dataset, DCTERMS.description)).lower()
    (distribution,) = graph.objects(dataset, DCAT.distribution)
    url = str(graph.value(distribution, DCAT.accessURL))
    assert url == f"http://testserver/api/nowcast/{CITY_ID}/forecasts/latest"
    staff = {"Authorization": f"Bearer {app.state.keys.create('catalog-staff', 'staff')}"}
    assert client.get(url, headers=staff).json()["issued"] == forecast["issued"]
    assert client.get(url).status_code == 401
    page = client.get("/catalog", headers={"Accept": "text/html"}).text
    section = page.split(f'<section id="forecast-{CITY_ID}">')[1].split("</section>")[0]
    assert "restricted" in section and "2024-06-01T01:00:00" in section and url in section
    package = client.get("/ckan/api/3/action/package_show", params={"id": f"forecast-{CITY_ID}"}).json()["result"]
    assert package["metadata_modified"].startswith("2024-06-01T01:00:00")
    assert package["resources"][0]["url"] == url
    assert {e["key"]: e["value"] for e in package["extras"]}["access_rights"] == "restricted"
