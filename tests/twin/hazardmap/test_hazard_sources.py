"""``hazard-at`` answers from each thing the City knows, labelled with its source: an official area,
the official depths recorded on the buildings there (checked against the CityGML file itself), or
nothing (``no-data``, never "outside the flood zone"); a place outside the City is a clear 404."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient
from lxml import etree
from pyproj import Transformer

from tests.twin.fixtures_city import CITY_ID, converted_real_city, converted_sample_city, data_dir_linking
from twin.server import Settings, create_app

URO = "https://www.geospatial.jp/iur/uro/3.1"
GML = "http://www.opengis.net/gml"


@pytest.fixture(scope="module")
def koshigaya_city() -> Path:
    return converted_real_city("11222_koshigaya")


@pytest.fixture(scope="module")
def client(tmp_path_factory, koshigaya_city):
    home = data_dir_linking(tmp_path_factory.mktemp("home"), koshigaya_city, converted_sample_city())
    with TestClient(create_app(Settings(data_dir=home))) as client:
        yield client


def _codelist(path: Path) -> dict[str, str]:
    tree = etree.parse(str(path))
    return {d.findtext(f"{{{GML}}}name"): d.findtext(f"{{{GML}}}description")
            for d in tree.iter(f"{{{GML}}}Definition")}


def plateau_depths(dataset: Path) -> dict[str, dict[tuple[str, str], float]]:
    """Each building's river-flood depths straight from the CityGML (lxml, not our reader):
    gml:id → {(river name, "L1"/"L2"): depth in metres}, names decoded by the dataset's code lists."""
    codelists = dataset / "codelists"
    rivers = _codelist(codelists / "RiverFloodingRiskAttribute_description.xml")
    scales = _codelist(codelists / "RiverFloodingRiskAttribute_scale.xml")  # "L1（計画規模）", "L2（想定最大規模）"
    out: dict[str, dict[tuple[str, str], float]] = {}
    for gml in (dataset / "udx" / "bldg").glob("*.gml"):
        for building in etree.parse(str(gml)).iter("{http://www.opengis.net/citygml/building/2.0}Building"):
            depths = {}
            for risk in building.iter(f"{{{URO}}}RiverFloodingRiskAttribute"):
                river = rivers[risk.findtext(f"{{{URO}}}description")]
                scale = scales[risk.findtext(f"{{{URO}}}scale")][:2]
                depths[(river, scale)] = float(risk.findtext(f"{{{URO}}}depth"))
            out[building.get(f"{{{GML}}}id")] = depths
    return out


def _river_depths(answer: dict) -> dict[tuple[str, str], dict]:
    return {(d["description"], d["scale"]): d for d in answer["buildings"]["depths"] if d["layer"] == "fld"}


def test_a_tapped_building_answers_with_its_own_official_depths(client, koshigaya_city, koshigaya):
    expected = plateau_depths(koshigaya)
    buildings = gpd.read_parquet(koshigaya_city / "buildings.parquet")
    assert len(expected) == len(buildings) == 5
    for row in buildings.itertuples():
        inside = row.geometry.representative_point()
        body = client.get("/api/cities/koshigaya/hazard-at", params={"lon": inside.x, "lat": inside.y}).json()
        assert body["official"] == [] and body["data"] == {"area_layers": [], "building_attributes": True}
        assert body["verdict"] == "building-attributes"
        assert body["buildings"]["basis"] == "tapped" and body["buildings"]["source"] == "building-attributes"
        assert [b["gml_id"] for b in body["buildings"]["buildings"]] == [row.gml_id]
        depths = _river_depths(body)
        assert set(depths) == set(expected[row.gml_id])  # every river and scale of the file, with its name
        for key, depth in expected[row.gml_id].items():
            assert depths[key]["depth_m"] == depth and depths[key]["depth_min_m"] == depth
            # the MLIT class of the depth itself: < 0.5 m, 0.5–3 m, 3–5 m ... (api classes 0, 1, 2 ...)
            assert depths[key]["depth_class"] == sum(depth >= bound for bound in (0.5, 3, 5, 10, 20))
        shown = [d["depth_class"] for d in body["buildings"]["depths"]]
        assert shown == sorted(shown, reverse=True)  # the deepest first


def test_between_buildings_the_nearest_within_30_m_give_the_range_of_their_depths(client, koshigaya_city, koshigaya):
    expected = plateau_depths(koshigaya)
    buildings = gpd.read_parquet(koshigaya_city / "buildings.parquet")
    local = buildings.to_crs("EPSG:6677")  # Saitama: plane-rectangular zone IX
    block = shapely.union_all(local.geometry.to_numpy())
    # a point in the open, 12 m off the union of the footprints towards the outside of the block
    edge = block.convex_hull.exterior.interpolate(0.3, normalized=True)
    away = shapely.Point(edge.x + 12 * (edge.x - block.centroid.x) / block.centroid.distance(edge),
                         edge.y + 12 * (edge.y - block.centroid.y) / block.centroid.distance(edge))
    assert not block.contains(away)
    near = local[local.distance(away) <= 30].assign(d=lambda f: f.distance(away)).sort_values("d")
    assert 1 <= len(near) <= 5
    lon, lat = Transformer.from_crs("EPSG:6677", "EPSG:6668", always_xy=True).transform(away.x, away.y)
    body = client.get("/api/cities/koshigaya/hazard-at", params={"lon": lon, "lat": lat}).json()
    assert body["verdict"] == "building-attributes" and body["buildings"]["basis"] == "nearby"
    assert body["buildings"]["radius_m"] == 30
    assert [b["gml_id"] for b in body["buildings"]["buildings"]] == near["gml_id"].tolist()
    for b, d in zip(body["buildings"]["buildings"], near["d"]):
        assert b["distance_m"] == pytest.approx(d, abs=0.1)
    ranges: dict[tuple[str, str], list[float]] = defaultdict(list)
    for gml_id in near["gml_id"]:
        for key, depth in expected[gml_id].items():
            ranges[key].append(depth)
    depths = _river_depths(body)
    assert set(depths) == set(ranges)
    for key, values in ranges.items():
        assert (depths[key]["depth_min_m"], depths[key]["depth_m"]) == (min(values), max(values))
        assert depths[key]["buildings"] == len(values)


def test_a_place_the_city_knows_nothing_about_says_no_data(client, koshigaya_city):
    buildings = gpd.read_parquet(koshigaya_city / "buildings.parquet").to_crs("EPSG:6677")
    west, south, east, north = buildings.total_bounds
    x, y = west - 150, south - 150  # inside the grid's margin, far from every building
    assert buildings.distance(shapely.Point(x, y)).min() > 100
    lon, lat = Transformer.from_crs("EPSG:6677", "EPSG:6668", always_xy=True).transform(x, y)
    body = client.get("/api/cities/koshigaya/hazard-at", params={"lon": lon, "lat": lat}).json()
    assert body["verdict"] == "no-data"
    assert body["official"] == [] and body["buildings"] is None
    assert body["shelter"] is None and body["shelter_status"] == "no-shelter-list"


def test_official_areas_come_first_and_a_place_outside_them_says_so(client):
    areas = gpd.read_parquet(converted_sample_city() / "hazards.parquet")
    inside = areas.iloc[0].geometry.representative_point()
    body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": inside.x, "lat": inside.y}).json()
    assert body["verdict"] == "in-area" and body["official"]
    assert {a["source"] for a in body["official"]} == {"hazard-area"}
    assert body["data"]["area_layers"] == ["fld"]
    # the sample writes building attributes only for buildings in its areas: none for the covered layer
    assert body["buildings"] is None or all(d["layer"] != "fld" for d in body["buildings"]["depths"])
    buildings = gpd.read_parquet(converted_sample_city() / "buildings.parquet")
    dry = buildings[~buildings["has_flood_risk"] & ~buildings.intersects(areas.union_all())].iloc[0]
    place = dry.geometry.representative_point()
    body = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": place.x, "lat": place.y}).json()
    assert body["official"] == [] and body["verdict"] == "outside-areas"
    assert body["buildings"]["basis"] == "tapped" and body["buildings"]["depths"] == []


@pytest.mark.parametrize(("lon", "lat"), [(55.86, 0.0001), (139.0, 35.0), (-179.9, 89.9), (180.0, -90.0)])
def test_a_place_outside_the_city_or_its_projection_is_a_clear_404(client, lon, lat):
    response = client.get(f"/api/cities/{CITY_ID}/hazard-at", params={"lon": lon, "lat": lat})
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/outside-city"
    assert body["detail"].startswith(f"({lon}, {lat}) is outside this city ('{CITY_ID}')")
    west, east = (float(v) for v in body["detail"].split("longitude ")[1].split(",")[0].split("–"))
    assert west < 139.47 < east and math.isfinite(west)


def test_hazard_layers_lists_what_the_city_has_and_a_city_without_area_maps_has_none(client, koshigaya_city):
    areas = gpd.read_parquet(converted_sample_city() / "hazards.parquet")
    body = client.get(f"/api/cities/{CITY_ID}/hazard-layers").json()
    assert body["all"] == ["fld", "tnm", "htd", "ifld", "rfld"]
    expected = {layer: (sorted(set(group["scale"].dropna())), len(group)) for layer, group in areas.groupby("layer")}
    assert {entry["layer"]: (entry["scales"], entry["areas"]) for entry in body["layers"]} == expected
    # the Koshigaya sample carries buildings only: no layer, and its areas are an empty collection, not a 404
    assert not (koshigaya_city / "hazards.parquet").exists()
    assert client.get("/api/cities/koshigaya/hazard-layers").json()["layers"] == []
    response = client.get("/api/cities/koshigaya/hazards")
    assert response.status_code == 200 and response.json()["features"] == []
