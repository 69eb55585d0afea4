"""NGSI-v2 over the same store as SensorThings, alert events and the resumable SSE stream."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sensors.conftest import Keys, river_gauge

NGSI = "/ngsi/v2"


def flood(level: float, minute: int) -> dict:
    return {"id": "urn:ngsi-ld:FloodMonitoring:tsurumi-1", "type": "FloodMonitoring",
            "currentLevel": {"type": "Number", "value": level},
            "alertLevel": {"type": "Number", "value": 2.0}, "evacuationLevel": {"type": "Number", "value": 3.0},
            "dangerLevel": {"type": "Number", "value": 4.0},
            "observationDateTime": {"type": "DateTime", "value": f"2024-06-01T09:{minute:02d}:00+09:00"},
            "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [139.68, 35.51]}}}


def test_orion_notifications_become_sensorthings_observations_and_alerts(client, keys):
    sensor, staff = Keys.header(keys.sensor), Keys.header(keys.staff)
    note = {"subscriptionId": "57458eb60962ef754e7c0998", "data": [flood(1.5, 0), flood(3.2, 10)]}
    assert client.post(f"{NGSI}/notify", json=note, headers=sensor).status_code == 204
    assert client.post(f"{NGSI}/notify", json=note, headers=sensor).status_code == 204  # re-sent: no duplicates
    things = client.get("/sta/v1.1/Things", params={"$expand": "Datastreams($expand=Observations)"},
                        headers=staff).json()["value"]
    assert things[0]["name"] == "urn:ngsi-ld:FloodMonitoring:tsurumi-1"
    observations = things[0]["Datastreams"][0]["Observations"]
    assert [(o["phenomenonTime"], o["result"]) for o in observations] == [
        ("2024-06-01T00:00:00Z", 1.5), ("2024-06-01T00:10:00Z", 3.2)]
    alerts = client.get("/api/alerts").json()["alerts"]
    assert [(a["level"], a["label"]["ja"]) for a in alerts] == [(3, "避難判断水位")]
    entity = client.get(f"{NGSI}/entities/urn:ngsi-ld:FloodMonitoring:tsurumi-1", params={"options": "keyValues"},
                        headers=staff).json()
    assert entity["currentLevel"] == 3.2 and entity["dangerLevel"] == 4.0
    assert entity["observationDateTime"] == "2024-06-01T00:10:00Z"
    assert entity["location"]["coordinates"] == [139.68, 35.51]


def test_a_thing_made_over_sensorthings_reads_back_over_ngsi(client, keys):
    thing = river_gauge("Ooka gauge")
    thing["properties"] = {"ngsiId": "urn:ngsi-ld:WaterObserved:ooka", "ngsiType": "WaterObserved"}
    thing["Datastreams"][0]["properties"]["attribute"] = "height"
    made = client.post("/sta/v1.1/Things", json=thing, headers=Keys.header(keys.sensor)).json()
    stream = client.get(made["Datastreams@iot.navigationLink"], headers=Keys.header(keys.staff)).json()
    client.post("/sta/v1.1/Observations", headers=Keys.header(keys.sensor), json={
        "Datastream": {"@iot.id": stream["value"][0]["@iot.id"]}, "phenomenonTime": "2024-06-01T00:00:00Z",
        "result": 1.25})
    entities = client.get(f"{NGSI}/entities", params={"type": "WaterObserved"}, headers=Keys.header(keys.staff))
    assert entities.json() == [{
        "id": "urn:ngsi-ld:WaterObserved:ooka", "type": "WaterObserved",
        "height": {"type": "Number", "value": 1.25, "metadata": {}},
        "dateObserved": {"type": "DateTime", "value": "2024-06-01T00:00:00Z", "metadata": {}},
        "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [139.68, 35.51]},
                     "metadata": {}}}]


def test_entities_paging_count_and_attribute_upserts(client, keys):
    sensor, staff = Keys.header(keys.sensor), Keys.header(keys.staff)
    for n in range(25):
        body = {"id": f"urn:ngsi-ld:CrowdFlowObserved:gate-{n:02d}", "type": "CrowdFlowObserved",
                "peopleCount": n, "dateObservedFrom": "2024-06-01T00:00:00Z",
                "dateObservedTo": "2024-06-01T01:00:00Z"}
        created = client.post(f"{NGSI}/entities", json=body, params={"options": "keyValues"}, headers=sensor)
        assert created.status_code == 201, created.text
    assert client.post(f"{NGSI}/entities", json=body, headers=sensor).status_code == 422  # exists already
    page = client.get(f"{NGSI}/entities", params={"options": "count,keyValues"}, headers=staff)
    assert page.headers["Fiware-Total-Count"] == "25" and len(page.json()) == 20
    rest = client.get(f"{NGSI}/entities", params={"offset": 20, "limit": 1000}, headers=staff).json()
    assert [e["id"][-2:] for e in rest] == ["20", "21", "22", "23", "24"]
    assert client.get(f"{NGSI}/entities", params={"limit": 1001}, headers=staff).status_code == 422
    update = {"peopleCount": {"value": 40}, "dateObservedFrom": {"value": "2024-06-01T01:00:00Z"},
              "dateObservedTo": {"value": "2024-06-01T02:00:00Z"}}
    assert client.post(f"{NGSI}/entities/{body['id']}/attrs", json=update, headers=sensor).status_code == 204
    latest = client.get(f"{NGSI}/entities", params={"id": body["id"], "options": "keyValues"}, headers=staff).json()
    assert latest[0]["peopleCount"] == 40 and latest[0]["dateObservedTo"] == "2024-06-01T02:00:00Z"
    other = Keys.header(keys.other_sensor)
    assert client.post(f"{NGSI}/entities/{body['id']}/attrs", json=update, headers=other).status_code == 403
    assert client.post(f"{NGSI}/entities/urn:nothing/attrs", json=update, headers=sensor).status_code == 404


@pytest.mark.parametrize("entity", [
    {"id": "x", "type": "WaterObserved", "height": 1.0, "dateObserved": "2024-06-01T00:00:00"},
    {"id": "x", "type": "WaterObserved", "height": 1.0},
    {"id": "x", "type": "WaterObserved", "height": 500.0, "dateObserved": "2024-06-01T00:00:00Z"},
    {"id": "x", "type": "WaterObserved", "height": "high", "dateObserved": "2024-06-01T00:00:00Z"},
    {"id": "x", "type": "Spaceship", "height": 1.0, "dateObserved": "2024-06-01T00:00:00Z"},
])
def test_bad_entities_are_422_problems(client, keys, entity):
    response = client.post(f"{NGSI}/entities", json=entity, headers=Keys.header(keys.sensor))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


def read_events(url: str, headers: dict, count: int) -> list[tuple[int, str, dict]]:
    """The first ``count`` events of an SSE stream."""
    found = []
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
            elif "id" in fields:
                found.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                if len(found) == count:
                    return found
            if not line:
                fields = {}
    return found


def test_stream_replays_after_last_event_id_and_hides_footfall_from_anonymous(live_url, keys):
    sensor = Keys.header(keys.sensor)
    with httpx.Client(base_url=live_url) as http:
        http.post(f"{NGSI}/notify", headers=sensor, json={"subscriptionId": "s", "data": [flood(2.5, 0)]})
        http.post(f"{NGSI}/entities", headers=sensor, json={
            "id": "gate", "type": "CrowdFlowObserved", "peopleCount": 12,
            "dateObservedFrom": "2024-06-01T00:00:00Z", "dateObservedTo": "2024-06-01T01:00:00Z"})
        http.post(f"{NGSI}/notify", headers=sensor, json={"subscriptionId": "s", "data": [flood(4.1, 10)]})
    staff = read_events(f"{live_url}/api/stream", {**Keys.header(keys.staff), "Last-Event-ID": "0"}, 5)
    assert [kind for _, kind, _ in staff] == ["observations", "alert", "observations", "observations", "alert"]
    assert [i for i, _, _ in staff] == sorted(i for i, _, _ in staff)
    assert staff[4][2]["level"] == 4 and staff[4][2]["previousLevel"] == 2
    public = read_events(f"{live_url}/api/stream", {"Last-Event-ID": "0"}, 4)
    assert all(data.get("name") != "gate peopleCount" for _, _, data in public)
    resumed = read_events(f"{live_url}/api/stream", {**Keys.header(keys.staff), "Last-Event-ID": str(staff[2][0])}, 2)
    assert resumed == staff[3:5]
