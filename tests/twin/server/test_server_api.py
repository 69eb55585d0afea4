"""The HTTP API of ``twin serve`` on a converted sample city: contracts, errors, caching, keys."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.server import Settings, create_app
from twin.server.auth import Role, requires, role_registry

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A server home with a copy of the sample city (tests add files to it) and a symlink out of it."""
    home = tmp_path_factory.mktemp("home")
    city = home / CITY_ID
    shutil.copytree(converted_sample_city(), city)
    (home / "secret.json").write_text('{"secret": true}')
    (city / "escape.json").symlink_to(home / "secret.json")
    return home


@pytest.fixture(scope="module")
def app(data_dir) -> FastAPI:
    app = create_app(Settings(data_dir=data_dir))

    @app.get("/test/admin-only", dependencies=[requires(Role.ADMIN)])
    def admin_only() -> dict:
        return {"ok": True}

    return app


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def table(data_dir) -> gpd.GeoDataFrame:
    return gpd.read_parquet(data_dir / CITY_ID / "buildings.parquet")


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    return body


# --- cities -------------------------------------------------------------------------------

def test_cities_are_listed_with_their_tileset_urls(client, data_dir):
    manifest = json.loads((data_dir / CITY_ID / "city.json").read_text())
    cities = client.get("/api/cities").json()["cities"]
    assert [c["id"] for c in cities] == [CITY_ID]
    assert cities[0]["tileset"] == f"/tiles/{CITY_ID}/tileset.json"
    assert cities[0]["counts"]["buildings"] == manifest["counts"]["buildings"]
    detail = client.get(f"/api/cities/{CITY_ID}").json()
    assert detail["bbox"] == manifest["bbox"] and detail["center"] == manifest["center"]
    assert detail["links"]["terrain_tileset"] == f"/tiles/{CITY_ID}/terrain/tileset.json"


@pytest.mark.parametrize("url", ["/api/cities/nowhere", "/api/cities/nowhere/buildings",
                                 f"/api/cities/{CITY_ID}/buildings/bldg_does-not-exist",
                                 "/tiles/nowhere/tileset.json", f"/tiles/{CITY_ID}/missing.json",
                                 "/api/no-such-endpoint"])
def test_unknown_things_are_404_problems(client, url):
    body = assert_problem(client.get(url), 404)
    assert body["instance"] == url


# --- buildings ------------------------------------------------------------------------------

def test_paging_visits_every_building_once(client, table):
    url, seen, pages = f"/api/cities/{CITY_ID}/buildings?limit=25", [], 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        body = page.json()
        assert body["type"] == "FeatureCollection" and body["numberMatched"] == len(table)
        assert body["numberReturned"] == len(body["features"]) <= 25
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert pages == -(-len(table) // 25)
    assert sorted(seen) == sorted(table["gml_id"])


def test_buildings_are_geojson_footprints_with_summary_properties(client, table):
    feature = client.get(f"/api/cities/{CITY_ID}/buildings?limit=1").json()["features"][0]
    row = table.set_index("gml_id").loc[feature["id"]]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert shapely.geometry.shape(feature["geometry"]).equals_exact(row.geometry, 1e-9)
    assert feature["properties"]["usage_label"] == row["usage_label"]
    assert "attributes" not in feature["properties"]


def test_filters_match_the_table(client, table):
    usage = table["usage_code"].mode()[0]
    by_usage = client.get(f"/api/cities/{CITY_ID}/buildings", params={"usage": usage, "limit": 1000}).json()
    assert by_usage["numberMatched"] == int((table["usage_code"] == usage).sum()) > 0
    assert {f["properties"]["usage_code"] for f in by_usage["features"]} == {usage}
    label = table.loc[table["usage_code"] == usage, "usage_label"].iloc[0]
    assert client.get(f"/api/cities/{CITY_ID}/buildings",
                      params={"usage": label}).json()["numberMatched"] == by_usage["numberMatched"]

    tall = client.get(f"/api/cities/{CITY_ID}/buildings", params={"min_height": 20}).json()
    assert tall["numberMatched"] == int((table["height"] >= 20).sum()) > 0

    w, s, e, n = table.total_bounds
    quarter = (w, s, (w + e) / 2, (s + n) / 2)
    boxed = client.get(f"/api/cities/{CITY_ID}/buildings",
                       params={"bbox": ",".join(map(str, quarter)), "limit": 1000}).json()
    expected = set(table.loc[shapely.intersects(table.geometry.values, shapely.box(*quarter)), "gml_id"])
    assert 0 < len(expected) < len(table)
    assert {f["id"] for f in boxed["features"]} == expected


@pytest.mark.parametrize("query", ["limit=0", "limit=5000", "offset=-1", "min_height=-3", "bbox=1,2,3",
                                   "bbox=a,b,c,d", "bbox=10,10,0,0"])
def test_bad_queries_are_422_problems(client, query):
    body = assert_problem(client.get(f"/api/cities/{CITY_ID}/buildings?{query}"), 422)
    assert body["detail"]


def test_building_detail_has_decoded_attributes_and_labels(client, table):
    row = table[table["max_flood_rank"].notna()].iloc[0]
    body = client.get(f"/api/cities/{CITY_ID}/buildings/{row.gml_id}").json()
    props = body["properties"]
    assert body["id"] == row.gml_id and props["gml_id"] == row.gml_id
    assert props["attributes"]["usage"] == {"code": row.usage_code, "label": row.usage_label}
    assert props["flood_risks"] and props["flood_risks"][0]["rank"] is not None
    assert props["max_flood_rank"] == int(row.max_flood_rank)
    assert body["labels"]["usage_label"] == {"ja": "用途", "en": "Usage"}
    assert body["labels"]["max_flood_depth"]["en"].startswith("Max. flood depth")
    # coded values named in both languages: PLATEAU's Building_usage code list (411 住宅) and the risk scales
    assert body["value_names"]["usage"]["411"] == {"ja": "住宅", "en": "Houses"}
    assert body["value_names"]["scale"]["L2"]["ja"].startswith("想定最大規模")
    assert body["named_by"]["usage_label"] == {"names": "usage", "code_field": "usage_code"}
    assert row.usage_code in body["value_names"]["usage"]  # the sample's codes are all named


# --- tiles ----------------------------------------------------------------------------------

def test_tileset_is_json_gzipped_and_cacheable(client, data_dir):
    raw = (data_dir / CITY_ID / "tileset.json").read_bytes()
    plain = client.get(f"/tiles/{CITY_ID}/tileset.json", headers={"Accept-Encoding": "identity"})
    assert plain.headers["content-type"] == "application/json" and plain.content == raw
    assert "content-encoding" not in plain.headers
    with client.stream("GET", f"/tiles/{CITY_ID}/tileset.json", headers={"Accept-Encoding": "gzip"}) as zipped:
        wire = b"".join(zipped.iter_raw())
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(wire) == raw and len(wire) < len(raw)
    for response in (plain, zipped):
        assert response.headers["etag"] and response.headers["last-modified"]
        assert "max-age" in response.headers["cache-control"]
        assert "Accept-Encoding" in response.headers["vary"]
    assert plain.headers["etag"] != zipped.headers["etag"]  # two representations, two tags
    again = client.get(f"/tiles/{CITY_ID}/tileset.json", headers={"If-None-Match": zipped.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    since = client.get(f"/tiles/{CITY_ID}/tileset.json", headers={
        "Accept-Encoding": "identity", "If-Modified-Since": plain.headers["last-modified"]})
    assert since.status_code == 304


def test_glb_content_has_its_type_and_serves_ranges(client, data_dir):
    tileset = json.loads((data_dir / CITY_ID / "tileset.json").read_text())
    uri = tileset["root"].get("content", {}).get("uri") or next(
        c["content"]["uri"] for c in tileset["root"]["children"] if "content" in c)
    raw = (data_dir / CITY_ID / uri).read_bytes()
    full = client.get(f"/tiles/{CITY_ID}/{uri}", headers={"Accept-Encoding": "gzip"})
    assert full.headers["content-type"] == "model/gltf-binary" and full.content == raw
    assert full.headers["accept-ranges"] == "bytes" and "content-encoding" not in full.headers
    part = client.get(f"/tiles/{CITY_ID}/{uri}", headers={"Range": "bytes=4-11"})
    assert part.status_code == 206 and part.content == raw[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(raw)}"
    tail = client.get(f"/tiles/{CITY_ID}/{uri}", headers={"Range": "bytes=-4"})
    assert tail.status_code == 206 and tail.content == raw[-4:]
    body = assert_problem(client.get(f"/tiles/{CITY_ID}/{uri}", headers={"Range": f"bytes={len(raw)}-"}), 416)
    assert body["type"] == "/problems/range-not-satisfiable"


def _raw_get(app: FastAPI, raw_path: bytes) -> tuple[int, dict[str, str], bytes]:
    """GET with a request target exactly as given (httpx would remove ``..`` segments)."""
    import asyncio
    from urllib.parse import unquote

    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": unquote(raw_path.decode()), "raw_path": raw_path, "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def test_the_raw_request_helper_reaches_real_files(app):
    status, headers, body = _raw_get(app, b"/tiles/sample/tileset.json")
    assert status == 200 and json.loads(body)["asset"]["version"] == "1.1"


@pytest.mark.parametrize("target", [
    b"/tiles/sample/../../twin.db", b"/tiles/sample/../secret.json", b"/tiles/sample/content/../../secret.json",
    b"/tiles/sample/%2e%2e/secret.json", b"/tiles/sample/%2E%2E%2Fsecret.json", b"/tiles/sample/..%2f..%2ftwin.db",
    b"/tiles/%2e%2e/twin.db", b"/tiles/sample//etc/passwd", b"/tiles/sample/%2Fetc%2Fpasswd",
    b"/tiles/sample/..\\secret.json", b"/tiles/sample/escape.json", b"/tiles/sample/city.json%00.glb",
    b"/tiles/sample/buildings.parquet", b"/src/../../pyproject.toml", b"/cesium/%2e%2e/%2e%2e/package.json",
])
def test_path_traversal_is_refused(app, target):
    status, headers, body = _raw_get(app, target)
    assert status in (400, 404), (target, status)
    assert headers["content-type"] == PROBLEM
    assert b"SQLite" not in body and b"secret" not in body.replace(b"secret.json", b"")


# --- security headers and keys -------------------------------------------------------------

def test_every_response_carries_security_headers(client):
    for url in ("/", "/src/main.js", "/api/cities", "/api/cities/nowhere", f"/tiles/{CITY_ID}/tileset.json"):
        headers = client.get(url).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] and headers["x-frame-options"] == "DENY"
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        if headers["content-type"].startswith(("text/html", "text/javascript")):
            # Cesium's needs (see twin/server/headers.py); still no inline or foreign script.
            assert "script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval';" in csp
        else:
            assert csp.startswith("default-src 'none'")
    assert client.get("/docs").status_code == 404  # Swagger UI would need a CDN


def test_keys_are_hashed_checked_and_revocable(client, app, data_dir):
    keys = app.state.keys
    staff, admin = keys.create("ops-desk", "staff"), keys.create("root", "admin")
    with sqlite3.connect(data_dir / "twin.db") as db:
        stored = dict(db.execute("select name, key_hash from api_keys"))
    assert stored["ops-desk"].startswith("$argon2") and staff not in stored["ops-desk"]

    anonymous = assert_problem(client.get("/api/me"), 401)
    assert anonymous["type"] == "/problems/unauthorized"
    assert client.get("/api/me").headers["www-authenticate"].startswith("Bearer")
    me = client.get("/api/me", headers={"Authorization": f"Bearer {staff}"})
    assert me.status_code == 200 and me.json() == {"name": "ops-desk", "role": "staff"}
    assert_problem(client.get("/api/me", headers={"Authorization": f"Bearer {staff[:-2]}xx"}), 401)
    assert_problem(client.get("/api/me", headers={"Authorization": f"Basic {staff}"}), 401)

    assert_problem(client.get("/test/admin-only", headers={"Authorization": f"Bearer {staff}"}), 403)
    assert client.get("/test/admin-only", headers={"Authorization": f"Bearer {admin}"}).status_code == 200

    keys.revoke("ops-desk")
    assert_problem(client.get("/api/me", headers={"Authorization": f"Bearer {staff}"}), 401)


def test_openapi_lists_every_route_with_its_roles(client, app):
    schema = client.get("/openapi.json").json()
    registry = role_registry(app)
    assert ("GET", "/api/me") in registry and ("GET", "/tiles/{city_id}/{path}") in registry
    for (method, path), roles in registry.items():
        operation = schema["paths"][path][method.lower()]
        assert operation["x-roles"] == [r.value for r in roles]
        assert ("security" in operation) == (Role.ANONYMOUS not in roles)
    assert schema["paths"]["/api/me"]["get"]["x-roles"] == ["staff", "sensor", "admin"]
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert documented == set(registry)


def test_a_route_without_a_role_stops_the_app(data_dir):
    app = create_app(Settings(data_dir=data_dir))

    @app.get("/api/forgotten")
    def forgotten() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="/api/forgotten declares no role"):
        role_registry(app)


def test_imagery_is_off_by_default_and_its_origin_joins_the_csp(data_dir, client):
    assert client.get("/api/config").json()["imagery_url"] is None
    url = "https://tiles.example.org:8443/{z}/{x}/{y}.png"
    with TestClient(create_app(Settings(data_dir=data_dir, imagery_url=url))) as other:
        assert other.get("/api/config").json()["imagery_url"] == url
        csp = other.get("/").headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://tiles.example.org:8443;" in csp
    with pytest.raises(ValueError, match="http"):
        Settings(data_dir=data_dir, imagery_url="file:///etc/passwd")
