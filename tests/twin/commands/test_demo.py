"""``twin demo``: sample city → City → a server that answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TWIN = str(Path(sys.executable).with_name("twin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_builds_and_serves_the_sample_city(tmp_path):
    port = free_port()
    server = subprocess.Popen([TWIN, "demo", "--home", str(tmp_path), "--buildings", "60", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        cities = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                cities = httpx.get(f"http://127.0.0.1:{port}/api/cities", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(1)
        assert cities is not None, server.stderr.read() if server.poll() is not None else "server did not answer"
        assert [c["id"] for c in cities["cities"]] == ["sample"]
        assert (tmp_path / "data" / "sample" / "tileset.json").is_file()
    finally:
        server.terminate()
        server.wait(timeout=30)
