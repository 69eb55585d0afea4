"""SensorThings query options, links, validation errors, size limits and key ownership over httpx."""

from __future__ import annotations

import pytest

from tests.sensors.conftest import Keys, river_gauge

STA = "/sta/v1.1"
PROBLEM = "application/problem+json"


@pytest.fixture
def gauge(client, keys) -> dict:
    """A gauge made by the ``sensor`` key with 30 ten-minute observations rising 0.1 m each."""
    thing = client.post(f"{STA}/Things", json=river_gauge(), headers=Keys.header(keys.sensor)).json()
    stream = client.get(f"{STA}/Things({thing['@iot.id']})/Datastreams", headers=Keys.header(keys.staff)).json()
    stream_id = stream["value"][0]["@iot.id"]
    rows = [[f"2024-06-01T{i // 6:02d}:{i % 6 * 10:02d}:00Z", round(0.5 + 0.1 * i, 3)] for i in range(30)]
    response = client.post(f"{STA}/CreateObservations", headers=Keys.header(keys.sensor), json=[
        {"Datastream": {"@iot.id": stream_id}, "components": ["phenomenonTime", "result"], "dataArray": rows}])
    assert response.status_code == 201, response.text
    return {"thing": thing["@iot.id"], "stream": stream_id}


def get(client, keys, url: str, **params):
    response = client.get(url, params=params, headers=Keys.header(keys.staff))
    assert response.status_code == 200, response.text
    return response.json()


def problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    if slug:
        assert body["type"] == f"/problems/{slug}"
    return body


def test_entities_carry_ids_self_links_and_navigation_links(client, keys, gauge):
    thing = get(client, keys, f"{STA}/Things({gauge['thing']})")
    assert thing["@iot.selfLink"].endswith(f"{STA}/Things({gauge['thing']})")
    assert thing["Datastreams@iot.navigationLink"].endswith(f"/Things({gauge['thing']})/Datastreams")
    locations = get(client, keys, f"{STA}/Things({gauge['thing']})/Locations")["value"]
    assert locations[0]["location"]["coordinates"] == [139.68, 35.51]
    assert len(get(client, keys, f"{STA}/Things({gauge['thing']})/HistoricalLocations")["value"]) == 1
    assert get(client, keys, f"{STA}/Datastreams({gauge['stream']})/Thing")["name"] == "Tsurumi gauge"


def test_top_skip_count_and_next_link_page_through_a_collection(client, keys, gauge):
    url = f"{STA}/Datastreams({gauge['stream']})/Observations"
    page = get(client, keys, url, **{"$top": 12, "$count": "true", "$orderby": "phenomenonTime asc"})
    assert page["@iot.count"] == 30 and len(page["value"]) == 12
    seen = [o["result"] for o in page["value"]]
    while "@iot.nextLink" in page:
        page = client.get(page["@iot.nextLink"], headers=Keys.header(keys.staff)).json()
        seen += [o["result"] for o in page["value"]]
    assert seen == [round(0.5 + 0.1 * i, 3) for i in range(30)]
    assert "@iot.nextLink" not in get(client, keys, url, **{"$top": 30})
    assert len(get(client, keys, f"{STA}/Observations")["value"]) == 30  # default $top 100


def test_latest_value_is_orderby_desc_top_1(client, keys, gauge):
    latest = get(client, keys, f"{STA}/Datastreams({gauge['stream']})/Observations",
                 **{"$orderby": "phenomenonTime desc", "$top": 1})["value"]
    assert latest[0]["phenomenonTime"] == "2024-06-01T04:50:00Z" and latest[0]["result"] == pytest.approx(3.4)


@pytest.mark.parametrize(("expression", "expected"), [
    ("result gt 3", 4), ("result ge 3.0 and result lt 3.2", 2), ("result le 0.6 or result eq 3.4", 3),
    ("phenomenonTime ge 2024-06-01T04:00:00Z", 6), ("phenomenonTime le 2024-06-01T09:10:00+09:00", 2),
    ("not (result lt 3.3)", 2), ("result ne 0.5", 29),
])
def test_filter_on_results_and_times(client, keys, gauge, expression, expected):
    assert len(get(client, keys, f"{STA}/Observations", **{"$filter": expression})["value"]) == expected


def test_filter_on_properties_select_and_expand(client, keys, gauge):
    client.post(f"{STA}/Things", json={"name": "counter", "properties": {"kind": "people"}},
                headers=Keys.header(keys.sensor))
    rivers = get(client, keys, f"{STA}/Things", **{"$filter": "properties/kind eq 'river'",
                                                   "$select": "id,name",
                                                   "$expand": "Datastreams($select=name;$expand=Observations"
                                                              "($orderby=phenomenonTime desc;$top=1)),Locations"})
    assert [t["name"] for t in rivers["value"]] == ["Tsurumi gauge"]
    thing = rivers["value"][0]
    assert set(thing) == {"@iot.id", "name", "Datastreams", "Locations"}
    assert thing["Datastreams"][0]["Observations"][0]["result"] == pytest.approx(3.4)
    assert get(client, keys, f"{STA}/Datastreams", **{"$filter": "properties/thresholds/danger ge 4"})["value"]
    names = [t["name"] for t in get(client, keys, f"{STA}/Things", **{"$orderby": "name desc"})["value"]]
    assert names == ["counter", "Tsurumi gauge"]


@pytest.mark.parametrize("params", [{"$top": "10001"}, {"$top": "-1"}, {"$filter": "result gt"},
                                    {"$filter": "nosuch eq 1"}, {"$orderby": "name sideways"},
                                    {"$expand": "Nothing"}, {"$select": "colour"}, {"$frobnicate": "1"}])
def test_bad_query_options_are_400_problems(client, keys, gauge, params):
    problem(client.get(f"{STA}/Things", params=params, headers=Keys.header(keys.staff)), 400)


def test_unknown_paths_and_entities_are_404(client, keys, gauge):
    problem(client.get(f"{STA}/Things(999)", headers=Keys.header(keys.staff)), 404, "not-found")
    problem(client.get(f"{STA}/Widgets", headers=Keys.header(keys.staff)), 404, "not-found")


def observation(stream: int, **fields) -> dict:
    return {"Datastream": {"@iot.id": stream}, "phenomenonTime": "2024-06-02T00:00:00Z", "result": 1.5, **fields}


@pytest.mark.parametrize(("fields", "status", "slug"), [
    ({"result": "high"}, 422, "validation"),
    ({"result": True}, 422, "validation"),
    ({"phenomenonTime": "2024-06-02T00:00:00"}, 422, "validation"),
    ({"phenomenonTime": 1717286400}, 422, "validation"),
    ({"result": 75.0}, 422, "out-of-range"),
    ({"result": -11}, 422, "out-of-range"),
    ({"Datastream": {"@iot.id": 999}}, 422, "unknown-datastream"),
    ({"Datastream": {"@iot.id": "1"}}, 422, "validation"),
])
def test_invalid_observations_are_refused_and_nothing_is_stored(client, keys, gauge, fields, status, slug):
    body = observation(gauge["stream"], **fields)
    problem(client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.sensor)), status, slug)
    assert len(get(client, keys, f"{STA}/Observations")["value"]) == 30


def test_a_batch_with_one_bad_row_stores_none_of_it(client, keys, gauge):
    rows = [["2024-06-03T00:00:00Z", 1.0], ["2024-06-03T00:10:00Z", 99.0]]
    body = [{"Datastream": {"@iot.id": gauge["stream"]}, "components": ["phenomenonTime", "result"],
             "dataArray": rows}]
    detail = problem(client.post(f"{STA}/CreateObservations", json=body, headers=Keys.header(keys.sensor)),
                     422, "out-of-range")["detail"]
    assert detail.startswith("observation 1:")
    assert len(get(client, keys, f"{STA}/Observations")["value"]) == 30


def test_resending_an_observation_returns_the_same_entity(client, keys, gauge):
    body = observation(gauge["stream"])
    first = client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.sensor))
    again = client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.sensor))
    assert first.status_code == again.status_code == 201
    assert first.headers["location"] == again.headers["location"]
    assert len(get(client, keys, f"{STA}/Observations", **{"$top": 1000})["value"]) == 31


def test_bodies_over_the_limit_are_413_and_non_json_is_400(client, keys, gauge):
    huge = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    problem(client.post(f"{STA}/Things", content=huge, headers=Keys.header(keys.sensor)), 413, "too-large")
    problem(client.post(f"{STA}/Things", content=b"{nope", headers=Keys.header(keys.sensor)), 400, "bad-json")


def test_writes_need_a_sensor_or_admin_key_and_sensors_write_only_their_own(client, keys, gauge):
    body = observation(gauge["stream"])
    problem(client.post(f"{STA}/Observations", json=body), 401, "unauthorized")
    problem(client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.staff)), 403, "forbidden")
    problem(client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.other_sensor)), 403, "forbidden")
    problem(client.post(f"{STA}/Things({gauge['thing']})/Datastreams", json=river_gauge()["Datastreams"][0],
                        headers=Keys.header(keys.other_sensor)), 403, "forbidden")
    assert client.post(f"{STA}/Observations", json=body, headers=Keys.header(keys.admin)).status_code == 201
    problem(client.get(f"{STA}/Things"), 401)


def test_posting_under_a_datastream_path_links_the_observation(client, keys, gauge):
    body = {"phenomenonTime": "2024-06-02T01:00:00+09:00/2024-06-02T01:10:00+09:00", "result": 2.2}
    created = client.post(f"{STA}/Datastreams({gauge['stream']})/Observations", json=body,
                          headers=Keys.header(keys.sensor))
    assert created.status_code == 201, created.text
    assert created.json()["phenomenonTime"] == "2024-06-01T16:00:00Z/2024-06-01T16:10:00Z"
    assert client.get(created.headers["location"] + "/Datastream",
                      headers=Keys.header(keys.staff)).json()["@iot.id"] == gauge["stream"]
