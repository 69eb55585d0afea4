"""CORS is off by default; configured origins (and only they) may call the API from a browser."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from tests.security.conftest import make_app
from twin.server import Settings

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}


def test_no_cross_origin_access_by_default(tmp_path):
    with TestClient(make_app(tmp_path / "home")) as client:
        simple = client.get("/api/cities", headers={"Origin": "https://city.example"})
        assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers
        preflight = client.options("/api/scenarios", headers={"Origin": "https://city.example", **PREFLIGHT})
        assert "access-control-allow-origin" not in preflight.headers


def test_configured_origins_only(tmp_path):
    app = make_app(tmp_path / "home", cors_origins=["https://city.example/"])
    with TestClient(app) as client:
        allowed = client.options("/api/scenarios", headers={"Origin": "https://city.example", **PREFLIGHT})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://city.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers  # cookies never cross origins
        assert client.get("/api/cities", headers={"Origin": "https://city.example"}).headers[
            "access-control-allow-origin"] == "https://city.example"
        other = client.options("/api/scenarios", headers={"Origin": "https://evil.example", **PREFLIGHT})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        assert "access-control-allow-origin" not in client.get(
            "/api/cities", headers={"Origin": "https://evil.example"}).headers


@pytest.mark.parametrize("origin", ["*", "city.example", "ftp://city.example", "https://city.example/path"])
def test_origins_must_be_scheme_and_host(origin, tmp_path):
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(data_dir=tmp_path, cors_origins=[origin])
