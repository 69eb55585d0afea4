"""The CKAN read API as CKAN clients call it: ``ckanapi.RemoteCKAN`` pointed at ``/ckan`` (GET only,
like ckanext-harvest's CKAN harvester), against the same datasets as the DCAT catalogue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ckanapi
import httpx
import pytest

from tests.twin.fixtures_city import CITY_ID


@pytest.fixture(scope="module")
def ckan(base_url) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(f"{base_url}/ckan", get_only=True, user_agent="machi-twin tests")


@pytest.fixture(scope="module")
def catalogue_ids(base_url) -> list[str]:
    graph = httpx.get(f"{base_url}/catalog.jsonld", timeout=120).json()
    return [d["dct:identifier"] for d in graph["dcat:dataset"]]


def test_package_list_names_every_dataset_of_the_catalogue(ckan, catalogue_ids, job):
    assert sorted(ckan.action.package_list()) == sorted(catalogue_ids)
    assert f"scenario-{job}" in catalogue_ids


def test_package_show_gives_resources_licence_and_attribution(ckan, base_url):
    package = ckan.action.package_show(id=f"city-{CITY_ID}-buildings")
    assert package["license_id"] == "cc-by" and package["license_url"] == "https://creativecommons.org/licenses/by/4.0/"
    assert "出典：国土交通省 Project PLATEAU" in package["notes"]
    assert package["organization"]["name"] == "machi-twin" and package["private"] is False
    formats = {r["format"] for r in package["resources"]}
    assert {"GeoJSON", "CSV"} <= formats
    geojson = next(r for r in package["resources"] if r["url"].endswith(".geojson"))
    answer = httpx.get(geojson["url"], timeout=120)
    assert answer.status_code == 200 and answer.json()["type"] == "FeatureCollection"
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["attribution"] == "出典：国土交通省 Project PLATEAU" and '"Polygon"' in extras["spatial"]


def test_package_search_finds_by_words_tags_formats_and_modification_time(ckan):
    roads = ckan.action.package_search(q="roads")
    assert [p["name"] for p in roads["results"]] == [f"city-{CITY_ID}-roads"] and roads["count"] == 1
    everything = ckan.action.package_search(rows=1000)
    assert everything["count"] == len(ckan.action.package_list())
    # ckanext-harvest's incremental harvest: fq=metadata_modified:[SINCE TO *]
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ckan.action.package_search(fq=f"metadata_modified:[{later} TO *]")["count"] == 0
    assert ckan.action.package_search(fq="metadata_modified:[2000-01-01T00:00:00Z TO *]")["count"] == everything["count"]
    cog = ckan.action.package_search(fq="res_format:GeoTIFF")
    assert [p["name"].startswith("scenario-") for p in cog["results"]] == [True]
    paged = [p["name"] for start in range(0, everything["count"], 3)
             for p in ckan.action.package_search(rows=3, start=start, sort="name asc")["results"]]
    assert paged == sorted(p["name"] for p in everything["results"])


def test_organization_list_and_errors_come_as_ckan_sends_them(ckan, base_url):
    assert ckan.action.organization_list() == ["machi-twin"]
    with pytest.raises(ckanapi.NotFound):
        ckan.action.package_show(id="no-such-dataset")
    with pytest.raises(ckanapi.SearchQueryError):
        ckan.action.package_search(fq="colour:red")
    # CKAN serves the same actions without the API version in the path.
    plain = httpx.get(f"{base_url}/ckan/api/action/package_list", timeout=120).json()
    assert plain["success"] is True and plain["result"] == ckan.action.package_list()
