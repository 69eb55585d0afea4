"""Token buckets per key and per client IP on writes and on expensive routes: 429 + Retry-After."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import assert_problem, bearer, make_app, role_keys
from twin.server.problems import Problem
from twin.server.ratelimit import Limit, RateLimiter

RUN = {"city": "nowhere", "scenario": "cloudburst-100mm"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    clock = Clock()
    limiter = RateLimiter(Limit(rate=2.0, burst=5), Limit(0, 1), frozenset(), clock=clock)
    for _ in range(5):
        limiter.check("POST", "/x", ["ip:a"])
    with pytest.raises(Problem) as refused:
        limiter.check("POST", "/x", ["ip:a"])
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "1"}  # 1 token at 2/s: 0.5 s
    clock.now = 0.49
    with pytest.raises(Problem):
        limiter.check("POST", "/x", ["ip:a"])
    clock.now = 0.5 + 0.49  # the failed tries took nothing; one token came back at 0.5 s
    limiter.check("POST", "/x", ["ip:a"])
    clock.now = 100.0  # refills only up to the burst
    for _ in range(5):
        limiter.check("POST", "/x", ["ip:a"])
    with pytest.raises(Problem):
        limiter.check("POST", "/x", ["ip:a"])
    limiter.check("GET", "/x", ["ip:a"])  # reads are not limited
    limiter.check("POST", "/x", ["ip:b"])  # another identity has its own bucket


def test_retry_after_is_the_wait_for_one_token_rounded_up():
    clock = Clock()
    limiter = RateLimiter(Limit(0, 1), Limit(rate=1 / 60, burst=1), frozenset({"POST /api/scenarios"}), clock=clock)
    limiter.check("POST", "/api/scenarios", ["key:a"])
    clock.now = 14.2
    with pytest.raises(Problem) as refused:
        limiter.check("POST", "/api/scenarios", ["key:a"])
    assert refused.value.headers["Retry-After"] == str(math.ceil(60 - 14.2))


@pytest.fixture
def limited(tmp_path):
    app = make_app(tmp_path / "home", write_rate=0.01, write_burst=3, expensive_per_minute=1, expensive_burst=2)
    return app, role_keys(app)


def client_at(app, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 40000))


def role_keys_pair(app) -> tuple[str, str]:
    return app.state.keys.create("gauge-a", "sensor"), app.state.keys.create("gauge-b", "sensor")


def test_writes_are_limited_per_key_and_per_ip(limited):
    app, _ = limited
    first, second = role_keys_pair(app)
    ip1, ip2, ip3 = (client_at(app, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    for _ in range(3):
        assert ip1.post("/ngsi/v2/notify", json={}, headers=bearer(first)).status_code != 429
    refused = assert_problem(ip1.post("/ngsi/v2/notify", json={}, headers=bearer(first)), 429, "rate-limited")
    assert "writes" in refused["detail"]
    assert_problem(ip2.post("/ngsi/v2/notify", json={}, headers=bearer(first)), 429)  # the key's bucket is empty
    assert_problem(ip1.post("/ngsi/v2/notify", json={}, headers=bearer(second)), 429)  # so is ip1's
    assert ip3.post("/ngsi/v2/notify", json={}, headers=bearer(second)).status_code != 429
    limit = ip1.post("/ngsi/v2/notify", json={}, headers=bearer(first))
    # One token at 0.01/s is 100 s, less what refilled since the bucket emptied (seconds on a busy machine).
    assert 90 <= int(limit.headers["retry-after"]) <= 100
    for _ in range(10):  # reads are never limited
        assert ip1.get("/ngsi/v2/entities", headers=bearer(first)).status_code == 200


def test_simulation_jobs_have_their_own_low_limit(limited):
    app, keys = limited
    client = client_at(app, "10.0.1.1")
    for _ in range(2):
        assert_problem(client.post("/api/scenarios", json=RUN, headers=bearer(keys["staff"])), 404)  # no such city
    refused = client.post("/api/scenarios", json=RUN, headers=bearer(keys["staff"]))
    assert "POST /api/scenarios" in assert_problem(refused, 429)["detail"]
    assert 50 <= int(refused.headers["retry-after"]) <= 60  # one token at 1/min, less the refill meanwhile


def test_a_forged_key_does_not_drain_the_real_keys_bucket(limited):
    app, keys = limited
    real = keys["sensor"]
    forged = real[:-5] + "AAAAA"
    attacker = client_at(app, "10.0.2.1")
    for _ in range(5):
        assert_problem(attacker.post("/ngsi/v2/notify", json={}, headers=bearer(forged)), 401)
    owner = client_at(app, "10.0.2.2")
    assert owner.post("/ngsi/v2/notify", json={}, headers=bearer(real)).status_code != 429


def test_sign_in_attempts_are_limited_per_ip(limited):
    app, _ = limited
    client = client_at(app, "10.0.3.1")
    attempt = {"name": "nobody", "password": "x", "code": "123456"}
    for _ in range(2):
        assert_problem(client.post("/api/session", json=attempt), 401)
    assert_problem(client.post("/api/session", json=attempt), 429, "rate-limited")
    assert client_at(app, "10.0.3.2").post("/api/session", json=attempt).status_code == 401
