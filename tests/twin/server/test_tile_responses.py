"""Tile answers replayed from memory are the route's answers, and follow the files on disk."""

from __future__ import annotations

import os
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.server import Settings, create_app
from twin.server.routes import tiles


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A client on a private copy of the sample city, and a counter of calls that reach the route."""
    shutil.copytree(converted_sample_city(), tmp_path / CITY_ID)
    calls = []
    route = tiles.serve_file

    def counted(*args, **kwargs):
        calls.append(args[1])
        return route(*args, **kwargs)

    monkeypatch.setattr(tiles, "serve_file", counted)
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        yield client, tmp_path / CITY_ID, calls


def glb_name(city) -> str:
    return next(city.glob("content/*.glb")).relative_to(city).as_posix()


def test_a_repeat_request_is_replayed_with_the_same_answer(served):
    client, city, calls = served
    for name in ("tileset.json", glb_name(city)):
        first, second = (client.get(f"/tiles/{CITY_ID}/{name}") for _ in range(2))
        assert first.status_code == second.status_code == 200
        assert first.content == second.content == (city / name).read_bytes()
        assert dict(first.headers) == dict(second.headers)
        assert second.headers["x-content-type-options"] == "nosniff"  # outer middlewares still apply
    assert len(calls) == 2, "the second request of each file must not reach the route"


def test_a_changed_or_removed_file_goes_back_to_the_route(served):
    client, city, calls = served
    name = glb_name(city)
    old = client.get(f"/tiles/{CITY_ID}/{name}")
    (city / name).write_bytes(b"glTF-rewritten")
    os.utime(city / name, ns=(1, 1))
    new = client.get(f"/tiles/{CITY_ID}/{name}")
    assert new.content == b"glTF-rewritten" and new.headers["etag"] != old.headers["etag"]
    (city / name).unlink()
    assert client.get(f"/tiles/{CITY_ID}/{name}").status_code == 404
    assert len(calls) == 2  # the 404 is refused before serve_file


def test_ranges_and_conditional_requests_always_reach_the_route(served):
    client, city, calls = served
    name = glb_name(city)
    etag = client.get(f"/tiles/{CITY_ID}/{name}").headers["etag"]
    assert client.get(f"/tiles/{CITY_ID}/{name}", headers={"Range": "bytes=0-3"}).content == b"glTF"
    assert client.get(f"/tiles/{CITY_ID}/{name}", headers={"If-None-Match": etag}).status_code == 304
    assert len(calls) == 3
