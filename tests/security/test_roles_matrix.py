"""Role × endpoint: every route of the registry answers allowed / 401 / 403 exactly as this matrix says.

The matrix is written out by hand: a route added without an entry here fails, and so does a
route whose declared roles drift from it. Each route is then called as anonymous, with a staff,
sensor and admin key, and with a staff operator's session (cookie + CSRF token).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import PASSWORD, add_operator, bearer, make_app, role_keys
from twin.server.auth import role_registry

ANYONE = {"anonymous", "staff", "sensor", "admin"}
KEYS = {"staff", "sensor", "admin"}
STAFF = {"staff", "admin"}
SENSOR = {"sensor", "admin"}
ADMIN = {"admin"}

MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/session"): ANYONE,
    ("DELETE", "/api/session"): STAFF,
    ("GET", "/api/audit"): ADMIN,
    ("GET", "/api/me"): KEYS,
    ("GET", "/api/config"): ANYONE,
    ("GET", "/api/cities"): ANYONE,
    ("POST", "/api/cities"): ADMIN,
    ("GET", "/api/cities/{city_id}"): ANYONE,
    ("GET", "/api/cities/{city_id}/buildings"): ANYONE,
    ("GET", "/api/cities/{city_id}/buildings/{gml_id}"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazards"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazard-layers"): ANYONE,
    ("GET", "/api/cities/{city_id}/map-layers"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazard-at"): ANYONE,
    ("GET", "/api/cities/{city_id}/footprints"): ANYONE,
    ("GET", "/api/cities/{city_id}/rivers"): STAFF,
    ("GET", "/api/imports"): ADMIN,
    ("GET", "/api/imports/{job_id}"): ADMIN,
    ("GET", "/tiles/{city_id}/{path}"): ANYONE,
    ("GET", "/"): ANYONE,
    ("GET", "/src/shared/depth-classes.js"): ANYONE,
    ("GET", "/src/{path}"): ANYONE,
    ("GET", "/cesium/{path}"): ANYONE,
    ("GET", "/sta/v1.1"): KEYS,
    ("GET", "/sta/v1.1/{path}"): KEYS,
    ("POST", "/sta/v1.1/CreateObservations"): SENSOR,
    ("POST", "/sta/v1.1/{path}"): SENSOR,
    ("POST", "/ngsi/v2/notify"): SENSOR,
    ("POST", "/ngsi/v2/entities"): SENSOR,
    ("POST", "/ngsi/v2/entities/{entity_id}/attrs"): SENSOR,
    ("GET", "/ngsi/v2/entities"): KEYS,
    ("GET", "/ngsi/v2/entities/{entity_id}"): KEYS,
    ("GET", "/api/stream"): ANYONE,
    ("GET", "/api/alerts"): ANYONE,
    ("GET", "/api/scenarios/builtin"): ANYONE,
    ("GET", "/api/scenarios/compare"): ANYONE,
    ("GET", "/api/scenarios/compare.png"): ANYONE,
    ("POST", "/api/scenarios"): STAFF,
    ("GET", "/api/scenarios"): ANYONE,
    ("GET", "/api/scenarios/{job_id}"): ANYONE,
    ("DELETE", "/api/scenarios/{job_id}"): STAFF,
    ("GET", "/api/scenarios/{job_id}/events"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/summary.json"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/buildings"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/frames"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/frames/{k}.png"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/frames/{k}/surface"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/report"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/report/map.png"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/agents"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/evacuation/{name}"): ANYONE,
    ("GET", "/api/scenarios/live-forcing"): STAFF,
    ("GET", "/hazard"): ANYONE,
    ("GET", "/footfall"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazard-simulation"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazard-simulation/{job_id}.png"): ANYONE,
    # The forecast staff published: public, labelled 予測 / forecast (issue 18).
    ("GET", "/api/cities/{city_id}/hazard-forecast"): ANYONE,
    ("GET", "/api/cities/{city_id}/hazard-forecast/{stamp}.png"): ANYONE,
    ("GET", "/api/cities/{city_id}/shelters"): ANYONE,
    # Area management: aggregates are public, a single counter's hours are for staff.
    ("GET", "/api/footfall/{city_id}/areas"): ANYONE,
    ("PUT", "/api/footfall/{city_id}/areas"): ADMIN,
    ("GET", "/api/footfall/{city_id}/counters"): ANYONE,
    ("GET", "/api/footfall/{city_id}/summary"): ANYONE,
    ("GET", "/api/footfall/{city_id}/compare"): ANYONE,
    ("GET", "/api/footfall/{city_id}/hourly.csv"): ANYONE,
    ("GET", "/api/footfall/{city_id}/counters/{datastream_id}/hourly"): STAFF,
    # Nowcast: an admin sets it up, staff read and drive it.
    ("GET", "/api/nowcast/{city_id}"): STAFF,
    ("PUT", "/api/nowcast/{city_id}"): ADMIN,
    ("POST", "/api/nowcast/{city_id}/inputs"): STAFF,
    ("POST", "/api/nowcast/{city_id}/inputs/rain-grid"): STAFF,
    ("POST", "/api/nowcast/{city_id}/cycles"): STAFF,
    ("GET", "/api/nowcast/{city_id}/forecasts/{stamp}"): STAFF,
    ("GET", "/api/nowcast/{city_id}/forecasts/{stamp}/buildings"): STAFF,
    ("GET", "/api/nowcast/{city_id}/forecasts/{stamp}/depths"): STAFF,
    ("GET", "/api/nowcast/{city_id}/forecasts/{stamp}/areas"): STAFF,
    ("GET", "/api/nowcast/{city_id}/forecasts/{stamp}/roads"): STAFF,
    ("POST", "/api/nowcast/{city_id}/forecasts/{stamp}/publish"): STAFF,
    ("DELETE", "/api/nowcast/{city_id}/forecasts/{stamp}/publish"): STAFF,
    ("GET", "/api/nowcast/{city_id}/verification"): STAFF,
    # Open data (issue 19): what the public map shows is open; the sensor-stations collection checks
    # for staff inside (it is not even listed otherwise); footfall only as k-anonymised aggregates.
    ("GET", "/ogcapi"): ANYONE,
    ("GET", "/ogcapi/{city_id}"): ANYONE,
    ("GET", "/ogcapi/{city_id}/conformance"): ANYONE,
    ("GET", "/ogcapi/{city_id}/collections"): ANYONE,
    ("GET", "/ogcapi/{city_id}/collections/{collection_id}"): ANYONE,
    ("GET", "/ogcapi/{city_id}/collections/{collection_id}/queryables"): ANYONE,
    ("GET", "/ogcapi/{city_id}/collections/{collection_id}/items"): ANYONE,
    ("GET", "/ogcapi/{city_id}/collections/{collection_id}/items/{feature_id}"): ANYONE,
    ("GET", "/catalog"): ANYONE,
    ("GET", "/catalog.jsonld"): ANYONE,
    ("GET", "/ckan/api/3/action/package_list"): ANYONE,
    ("GET", "/ckan/api/3/action/package_show"): ANYONE,
    ("GET", "/ckan/api/3/action/package_search"): ANYONE,
    ("GET", "/ckan/api/3/action/organization_list"): ANYONE,
    ("GET", "/ckan/api/action/package_list"): ANYONE,
    ("GET", "/ckan/api/action/package_show"): ANYONE,
    ("GET", "/ckan/api/action/package_search"): ANYONE,
    ("GET", "/ckan/api/action/organization_list"): ANYONE,
    ("GET", "/api/cities/{city_id}/downloads"): ANYONE,
    ("GET", "/api/cities/{city_id}/downloads/{name}"): ANYONE,
    ("GET", "/api/scenarios/{job_id}/downloads/max-depth.tif"): ANYONE,
    # Ensembles (issue 18): staff run them, the odds are read like scenario results.
    ("POST", "/api/ensembles"): STAFF,
    ("GET", "/api/ensembles"): ANYONE,
    ("GET", "/api/ensembles/{job_id}"): ANYONE,
    ("DELETE", "/api/ensembles/{job_id}"): STAFF,
    ("GET", "/api/ensembles/{job_id}/buildings"): ANYONE,
    ("GET", "/api/ensembles/{job_id}/{name}"): ANYONE,
}
#: Endless streams: their roles are checked against the matrix, but they are not called.
STREAMS = {("GET", "/api/stream")}
PARAMS = {"city_id": "nowhere", "gml_id": "x", "job_id": "nojob", "path": "Things", "entity_id": "x", "k": "0",
          "datastream_id": "1", "name": "x", "stamp": "latest", "collection_id": "buildings", "feature_id": "x"}
DENIED = {"/problems/unauthorized", "/problems/forbidden", "/problems/csrf"}
CALLERS = ["anonymous", "staff", "sensor", "admin", "staff-session"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("home"), write_rate=0, expensive_per_minute=0)
    keys = role_keys(app)
    operator = add_operator(app, "sato", "staff")
    with TestClient(app) as client:
        signed = client.post("/api/session", json={"name": "sato", "password": PASSWORD, "code": operator.code()})
        assert signed.status_code == 200, signed.text
        session = {"cookie": client.cookies["twin_session"], "csrf": signed.json()["csrf_token"]}
        client.cookies.clear()
        yield app, keys, session, client


def test_every_route_is_in_the_matrix_with_the_same_roles(world):
    app = world[0]
    registry = {route: {r.value for r in roles} | ({"staff", "sensor", "admin"} if "anonymous" in
                                                    {r.value for r in roles} else set())
                for route, roles in role_registry(app).items()}
    missing = sorted(set(registry) - set(MATRIX))
    assert not missing, f"routes without a row in the role matrix: {missing}"
    drifted = {route: (registry[route], MATRIX[route]) for route in registry if registry[route] != MATRIX[route]}
    assert not drifted


def call(client: TestClient, method: str, path: str, caller: str, keys: dict, session: dict):
    url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
    headers, cookies = {}, {}
    if caller in keys:
        headers = bearer(keys[caller])
    elif caller == "staff-session":
        cookies = {"twin_session": session["cookie"]}
        headers = {"X-CSRF-Token": session["csrf"]}
    client.cookies.clear()
    client.cookies.update(cookies)
    try:
        return client.request(method, url, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None)
    finally:
        client.cookies.clear()


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_is_allowed_or_refused_as_the_matrix_says(world, caller):
    app, keys, session, client = world
    role = "staff" if caller == "staff-session" else caller
    wrong = []
    for method, path in sorted(role_registry(app)):
        if (method, path) in STREAMS:
            continue
        # Signing out would end the session the other rows use: it goes last.
        if (method, path) == ("DELETE", "/api/session"):
            continue
        outcome = outcome_of(call(client, method, path, caller, keys, session))
        expected = "allowed" if role in MATRIX[(method, path)] else "401" if role == "anonymous" else "403"
        if outcome != expected:
            wrong.append((method, path, expected, outcome))
    outcome = outcome_of(call(client, "DELETE", "/api/session", caller, keys, session))
    expected = "allowed" if role in STAFF else "401" if role == "anonymous" else "403"
    if outcome != expected:
        wrong.append(("DELETE", "/api/session", expected, outcome))
    assert not wrong


def outcome_of(response) -> str:
    """'401', '403' for a refusal by the role check, else 'allowed' (whatever the handler then said)."""
    if response.status_code in (401, 403):
        kind = response.json().get("type")
        assert kind in DENIED, response.text  # a 401/403 from a handler would blur the matrix
        return str(response.status_code)
    assert response.status_code < 500, response.text
    return "allowed"
