"""Every request body is capped: 413 problem+json for declared and for chunked bodies over the limit."""

from __future__ import annotations

import json
import socket

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import assert_problem, bearer, make_app, role_keys, served

LIMIT = 1000


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path / "home", max_body_bytes=LIMIT)


def entity(size: int) -> bytes:
    """A SensorThings Thing whose JSON is exactly ``size`` bytes."""
    thing = {"name": "gauge", "description": ""}
    thing["description"] = "x" * (size - len(json.dumps(thing).encode()))
    body = json.dumps(thing).encode()
    assert len(body) == size
    return body


def test_a_declared_body_over_the_limit_is_refused_before_the_handler(app):
    keys = role_keys(app)
    with TestClient(app) as client:
        refused = client.post("/sta/v1.1/Things", content=entity(LIMIT + 1),
                              headers={**bearer(keys["sensor"]), "Content-Type": "application/json"})
        assert f"larger than {LIMIT} bytes" in assert_problem(refused, 413, "too-large")["detail"]
        assert client.get("/sta/v1.1/Things", headers=bearer(keys["sensor"])).json()["value"] == []
        # Exactly at the limit the body reaches the handler.
        accepted = client.post("/sta/v1.1/Things", content=entity(LIMIT),
                               headers={**bearer(keys["sensor"]), "Content-Type": "application/json"})
        assert accepted.status_code == 201, accepted.text
        # Anonymous endpoints too: the limit runs before any role check.
        assert_problem(client.post("/api/session", content=b"{" + b" " * LIMIT + b"}",
                                   headers={"Content-Type": "application/json"}), 413)


def raw_request(port: int, head: str, chunks: list[bytes], finish: bool) -> tuple[int, bytes]:
    """Send ``head`` and the body as HTTP/1.1 chunks over a socket; the status line's code and the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if finish:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the body ended
        answer = b""
        while b"\r\n\r\n" not in answer or (b"content-length" in answer.lower() and not _complete(answer)):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1]), answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    return len(body) >= length


def test_a_chunked_body_is_refused_once_it_passes_the_limit(app):
    keys = role_keys(app)
    head = (f"POST /sta/v1.1/Things HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {keys['sensor']}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    with served(app) as port:
        # 50 chunks of 100 bytes, and the body never ends: the refusal comes once 1000 bytes have passed.
        status, answer = raw_request(port, head, [b" " * 100] * 50, finish=False)
        assert status == 413
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert body["type"] == "/problems/too-large"
        # A chunked body within the limit is passed on whole.
        whole = entity(LIMIT)
        status, answer = raw_request(port, head, [whole[i:i + 300] for i in range(0, LIMIT, 300)], finish=True)
        assert status == 201, answer
