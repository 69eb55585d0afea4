"""Single observations stored before routing (twin.server.observation_posts) against the route itself.

Two apps on copies of the same home get the same requests, one with the middleware and one
without it; their answers, stored observations, events, alert states and audit entries must
be the same, and the first must not have called the route for the posts it stored.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

import twin.server.routes.ngsi as ngsi_routes
import twin.server.routes.sta as sta_routes
from tests.sensors.conftest import Keys, free_port, river_gauge
from tests.store.conftest import postgres_server  # noqa: F401 - fixture
from tests.store.postgres import create_database
from twin.server import Settings, create_app, observation_posts
from twin.server.observation_posts import ObservationPosts
from twin.store.models import AlertState, AuditEntry, Observation, SensorEvent

STA = "/sta/v1.1"
NGSI = "/ngsi/v2"
FLOOD = "urn:ngsi-ld:FloodMonitoring:tsurumi-1"
RIVER = "urn:ngsi-ld:WaterObserved:ooka"
PROBLEM = "application/problem+json"


def route_only(app: FastAPI) -> FastAPI:
    """``app`` without the middleware: every post takes the route."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not ObservationPosts]
    return app


def gauge_stream(client: TestClient, keys: Keys) -> int:
    """A gauge of the ``sensor`` key (thresholds 2/3/4 m, range −10..50 m); its datastream id."""
    thing = client.post(f"{STA}/Things", json=river_gauge(), headers=Keys.header(keys.sensor)).json()
    streams = client.get(f"{STA}/Things({thing['@iot.id']})/Datastreams", headers=Keys.header(keys.admin)).json()
    return streams["value"][0]["@iot.id"]


def stored(app: FastAPI) -> dict[str, list[tuple]]:
    """Every observation, event, alert state and audit entry, without the clock times they were stamped."""
    with app.state.store.session() as session:
        return {
            "observations": [(o.id, o.datastream_id, o.phenomenon_time, o.phenomenon_end, o.result_time,
                              o.result_number, o.result_json, o.parameters, o.feature_of_interest_id)
                             for o in session.scalars(select(Observation).order_by(Observation.id))],
            "events": [(e.id, e.kind, e.public, e.data)
                       for e in session.scalars(select(SensorEvent).order_by(SensorEvent.id))],
            "alerts": [(a.datastream_id, a.level, a.value, a.phenomenon_time)
                       for a in session.scalars(select(AlertState))],
            "audit": [(a.id, a.actor, a.role, a.action, a.method, a.path, a.status, a.client, a.detail)
                      for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))],
        }


def posts(stream: int, keys: Keys) -> list[tuple[str, dict, str]]:
    """(path, body, key): stored ones of every shape, alert crossings, and refusals of every kind."""
    at = "2024-06-02T{:02d}:00:00Z".format
    return [
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(0), "result": 1.5}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(1), "result": 2}, keys.sensor),
        (f"{STA}/Datastreams({stream})/Observations", {"phenomenonTime": at(2), "result": 3.25,
                                                       "resultTime": "2024-06-02T11:05:00+09:00",
                                                       "parameters": {"battery": 0.8}}, keys.sensor),
        (f"{STA}/Datastreams({stream})/Observations",
         {"phenomenonTime": "2024-06-02T12:00:00+09:00/2024-06-02T12:10:00+09:00", "result": 4.5}, keys.admin),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(4), "result": 0.5}, keys.sensor),
        # re-sent with another value: the first one stays and is answered
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(0), "result": 9.0}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(5), "result": 75.0}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(5), "result": "high"}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": "2024-06-02T05:00:00",
                                 "result": 1.0}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": 999}, "phenomenonTime": at(5), "result": 1.0}, keys.sensor),
        (f"{STA}/Datastreams(999)/Observations", {"phenomenonTime": at(5), "result": 1.0}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(5), "result": 1.0},
         keys.other_sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(5), "result": 1.0}, keys.staff),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(5), "result": 1.0},
         "twin_000000000000_" + "x" * 43),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}}, keys.sensor),
        (f"{STA}/Observations", {"Datastream": {"@iot.id": stream}, "phenomenonTime": at(6), "result": 1.0,
                                 "FeatureOfInterest": {"name": "bank", "encodingType": "application/geo+json",
                                                       "feature": {"type": "Point", "coordinates": [139.7, 35.5]}}},
         keys.sensor),
    ]


def ngsi_posts(keys: Keys) -> list[tuple[str, dict, str]]:
    """(path, body, key): NGSI attribute updates that store, re-send, cross thresholds, and refusals."""
    gauge, river = f"{NGSI}/entities/{FLOOD}/attrs", f"{NGSI}/entities/{RIVER}/attrs"
    at = "2024-06-02T{:02d}:00:00+09:00".format
    return [
        (gauge, {"currentLevel": {"type": "Number", "value": 2.5}, "observationDateTime": {"value": at(10)}}, keys.sensor),
        (gauge, {"currentLevel": 3.5, "observationDateTime": at(11)}, keys.sensor),
        (gauge, {"currentLevel": 3.5, "observationDateTime": at(11)}, keys.sensor),  # re-sent
        (gauge, {"currentLevel": 1.0, "observationDateTime": at(12)}, keys.admin),
        (gauge, {"currentLevel": 1.0, "observationDateTime": at(13), "dangerLevel": 5.0}, keys.sensor),
        (gauge, {"currentLevel": 500.0, "observationDateTime": at(14)}, keys.sensor),
        (gauge, {"currentLevel": 1.0, "observationDateTime": "2024-06-02T14:00:00"}, keys.sensor),
        (gauge, {"currentLevel": 1.0}, keys.sensor),
        (gauge, {"currentLevel": 1.0, "observationDateTime": at(14), "type": "WaterObserved"}, keys.sensor),
        (gauge, {"currentLevel": 1.0, "observationDateTime": at(14)}, keys.other_sensor),
        (gauge, {"currentLevel": 1.0, "observationDateTime": at(14)}, keys.staff),
        (f"{NGSI}/entities/urn:nothing/attrs", {"currentLevel": 1.0, "observationDateTime": at(14)}, keys.sensor),
        (river, {"height": 1.0, "observationDateTime": at(14), "dateObserved": at(14)}, keys.sensor),
        (river, {"flow": 12.0, "dateObserved": at(15)}, keys.sensor),  # its first flow: a new datastream
        (river, {"flow": 13.0, "height": 1.5, "dateObserved": at(16)}, keys.sensor),
        (gauge, [1, 2], keys.sensor),
    ]


def answers(app: FastAPI, keys: Keys) -> list[tuple]:
    """Status, problem type or entity, Location and content type of each post, in order."""
    out = []
    with TestClient(app) as client:
        stream = gauge_stream(client, keys)
        for entity in ({"id": FLOOD, "type": "FloodMonitoring", "currentLevel": 0.5, "alertLevel": 2.0,
                        "evacuationLevel": 3.0, "dangerLevel": 4.0, "observationDateTime": "2024-06-02T00:00:00Z"},
                       {"id": RIVER, "type": "WaterObserved", "height": 0.5, "dateObserved": "2024-06-02T00:00:00Z"}):
            assert client.post(f"{NGSI}/entities", json=entity, headers=Keys.header(keys.sensor)).status_code == 201
        client.get(f"{STA}/Things", headers=Keys.header(keys.other_sensor))  # every key verified once
        client.get(f"{STA}/Things", headers=Keys.header(keys.staff))
        for path, body, key in posts(stream, keys) + ngsi_posts(keys):
            response = client.post(path, json=body, headers=Keys.header(key))
            payload = response.json() if response.content else None
            out.append((path, response.status_code, payload["type"] if response.status_code >= 400 else payload,
                        response.headers.get("location"), response.headers.get("content-type"),
                        response.headers["content-security-policy"]))
    return out


def keyed_app(data_dir: Path, database_url: str) -> tuple[FastAPI, Keys]:
    """An app on a new database with the four keys of the sensor tests (same names, new secrets)."""
    app = create_app(Settings(data_dir=data_dir, database_url=database_url))
    create = app.state.keys.create
    return app, Keys(create("ops", "admin"), create("gauge-1", "sensor"), create("gauge-2", "sensor"),
                     create("desk", "staff"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def twin_pair(request, template_home, tmp_path) -> Iterator[tuple[tuple[FastAPI, Keys], tuple[FastAPI, Keys]]]:
    """Two apps on equal databases of each backend: the first with the middleware, the second without."""
    if request.param == "sqlite":
        lean_home = Path(shutil.copytree(template_home[0], tmp_path / "lean"))
        route_home = Path(shutil.copytree(template_home[0], tmp_path / "route"))
        lean, route = create_app(Settings(data_dir=lean_home)), create_app(Settings(data_dir=route_home))
        yield (lean, template_home[1]), (route_only(route), template_home[1])
        return
    server = request.getfixturevalue("postgres_server")
    names = [f"twin_posts_{tmp_path.name[-12:].lower()}_{side}" for side in ("lean", "route")]
    lean = keyed_app(tmp_path / "lean", create_database(server, names[0]))
    route = keyed_app(tmp_path / "route", create_database(server, names[1]))
    yield lean, (route_only(route[0]), route[1])
    lean[0].state.store.close()
    route[0].state.store.close()


def observation_ids_dropped(found: tuple[list[tuple], dict[str, list[tuple]]]) -> tuple:
    """Answers and stored rows without observation ids (links included)."""
    answered, rows = found
    plain = [(path, status, {k: v for k, v in body.items() if "@iot" not in k} if isinstance(body, dict) else body,
              location is not None, *rest) for path, status, body, location, *rest in answered]
    return plain, {**rows, "observations": [o[1:] for o in rows["observations"]]}


def test_lean_posts_answer_and_store_exactly_what_the_route_does(twin_pair, monkeypatch):
    (lean, lean_keys), (route, route_keys) = twin_pair
    expected = answers(route, route_keys), stored(route)
    calls, ngsi_calls = [], []
    real_create, real_in_session = sta_routes.create, ngsi_routes.in_session
    monkeypatch.setattr(sta_routes, "create", lambda *args: calls.append(args[2]) or real_create(*args))
    monkeypatch.setattr(ngsi_routes, "in_session", lambda request, *args, **kw: ngsi_calls.append(
        request.url.path) or real_in_session(request, *args, **kw))
    got = answers(lean, lean_keys), stored(lean)
    assert [status for _, status, *_ in got[0]] == [201] * 6 + [422, 422, 422, 422, 422, 403, 403, 401, 422, 201] + [
        204, 204, 204, 204, 204, 422, 422, 422, 422, 403, 403, 404, 204, 204, 204, 422]
    assert {"alert", "observations"} <= {kind for _, kind, *_ in expected[1]["events"]}
    if lean.state.store.engine.dialect.name == "postgresql":
        # A conflicting INSERT still draws a sequence value there: the re-sent observation, tried
        # here before the route, leaves one more gap in the ids than the route alone does.
        got, expected = observation_ids_dropped(got), observation_ids_dropped(expected)
    assert got == expected
    # the route created the gauge, and ran for the re-sent observation, the seven refusals that got
    # past the key check and the feature to create; never for the five new plain observations
    assert calls == ["Things"] + ["Observations"] * 9
    # NGSI: the two entities, the thresholds, five refusals, the unknown entity and the new datastream
    assert ngsi_calls == [f"{NGSI}/entities"] * 2 + [f"{NGSI}/entities/{FLOOD}/attrs"] * 6 + [
        f"{NGSI}/entities/urn:nothing/attrs", f"{NGSI}/entities/{RIVER}/attrs"]


def test_concurrent_posts_are_each_stored_audited_and_announced_once(app, keys):
    with TestClient(app) as client:
        stream = gauge_stream(client, keys)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.02)
    before = stored(app)
    replies: list[list[dict]] = [[] for _ in range(8)]

    def device(c: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}{STA}", headers=Keys.header(keys.sensor)) as http:
            for n in range(25):
                response = http.post(f"/Datastreams({stream})/Observations",
                                     json={"phenomenonTime": f"2024-07-01T00:{c:02d}:{n:02d}Z", "result": 1.0 + c})
                assert response.status_code == 201, response.text
                replies[c].append(response.json())

    try:
        devices = [threading.Thread(target=device, args=(c,)) for c in range(8)]
        for d in devices:
            d.start()
        for d in devices:
            d.join()
    finally:
        server.should_exit = True
        thread.join(5)
    after = stored(app)
    ids = [a["@iot.id"] for per in replies for a in per]
    assert len(set(ids)) == 200
    new = after["observations"][len(before["observations"]):]
    assert sorted(ids) == [o[0] for o in new]
    assert len(after["audit"]) - len(before["audit"]) == 200
    assert {a[1:] for a in after["audit"][len(before["audit"]):]} == {
        ("key:gauge-1", "sensor", "write", "POST", f"{STA}/Datastreams({stream})/Observations", 201, "127.0.0.1", "")}
    events = [e for e in after["events"][len(before["events"]):] if e[1] == "observations"]
    assert sorted(e[3]["observations"][0]["phenomenonTime"] for e in events) == sorted(a["phenomenonTime"]
                                                                                      for per in replies for a in per)


def test_a_revoked_key_stores_nothing_from_its_next_post(client, app, keys):
    stream = gauge_stream(client, keys)
    body = {"phenomenonTime": "2024-06-02T00:00:00Z", "result": 1.0}
    assert client.post(f"{STA}/Datastreams({stream})/Observations", json=body,
                       headers=Keys.header(keys.sensor)).status_code == 201
    app.state.keys.revoke("gauge-1")
    refused = client.post(f"{STA}/Datastreams({stream})/Observations",
                          json={**body, "phenomenonTime": "2024-06-02T01:00:00Z"}, headers=Keys.header(keys.sensor))
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    assert [o[2].hour for o in stored(app)["observations"]] == [0]
    assert stored(app)["audit"][-1][1:8] == ("anonymous", "anonymous", "denied", "POST",
                                             f"{STA}/Datastreams({stream})/Observations", 401, "testclient")


def test_rate_limit_takes_one_token_per_post_even_when_the_route_answers(home, keys):
    app = create_app(Settings(data_dir=home, write_rate=0.001, write_burst=4))
    with TestClient(app) as client:
        stream = gauge_stream(client, keys)  # token 1
        url = f"{STA}/Datastreams({stream})/Observations"
        ok = client.post(url, json={"phenomenonTime": "2024-06-02T00:00:00Z", "result": 1.0},
                         headers=Keys.header(keys.sensor))  # token 2, stored before routing
        refused = client.post(url, json={"phenomenonTime": "2024-06-02T00:00:00Z", "result": 9.0},
                              headers=Keys.header(keys.sensor))  # token 3, answered by the route (re-sent)
        last = client.post(url, json={"phenomenonTime": "2024-06-02T01:00:00Z", "result": 1.0},
                           headers=Keys.header(keys.sensor))  # token 4
        limited = client.post(url, json={"phenomenonTime": "2024-06-02T02:00:00Z", "result": 1.0},
                              headers=Keys.header(keys.sensor))
    assert (ok.status_code, refused.status_code, last.status_code) == (201, 201, 201)
    assert refused.json()["result"] == 1
    assert limited.status_code == 429 and limited.headers["content-type"] == PROBLEM
    assert limited.headers["retry-after"]
    assert stored(app)["audit"][-1][3:7] == ("denied", "POST", url, 429)


def test_a_failed_transaction_sends_its_posts_to_the_route(client, app, keys, monkeypatch):
    stream = gauge_stream(client, keys)

    def broken(*_):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(observation_posts, "store_each", broken)
    created = client.post(f"{STA}/Datastreams({stream})/Observations",
                          json={"phenomenonTime": "2024-06-02T00:00:00Z", "result": 1.0},
                          headers=Keys.header(keys.sensor))
    assert created.status_code == 201, created.text
    assert len(stored(app)["observations"]) == 1
    assert [a[3:7] for a in stored(app)["audit"][-1:]] == [("write", "POST",
                                                           f"{STA}/Datastreams({stream})/Observations", 201)]
