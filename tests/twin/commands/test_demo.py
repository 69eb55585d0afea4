"""``twin demo``: sample city → City → a flood and evacuation scenario → a server that answers."""

from __future__ import annotations

import json
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
        jobs = httpx.get(f"http://127.0.0.1:{port}/api/scenarios", timeout=10).json()["jobs"]
        assert [(j["scenario"]["name"], j["status"]) for j in jobs] == [("river-breach", "done")]
        job = jobs[0]["id"]
        flood = httpx.get(f"http://127.0.0.1:{port}/api/scenarios/{job}/summary.json", timeout=10).json()
        assert flood["duration_s"] == 3600 and flood["cell_size_m"] == 16 and flood["buildings"]["count"] == 60
        evacuation = httpx.get(f"http://127.0.0.1:{port}/api/scenarios/{job}/evacuation/summary.json", timeout=10).json()
        assert evacuation["agents"] > 0 and evacuation["people_per_agent"] == 10
        assert evacuation["arrived"] + evacuation["stranded"] + evacuation["not_arrived"] == evacuation["agents"]
        on_disk = json.loads((tmp_path / "data" / "scenarios" / job / "job.json").read_text(encoding="utf-8"))
        assert on_disk["status"] == "done" and on_disk["evacuation"]["duration_s"] == 1800
    finally:
        server.terminate()
        server.wait(timeout=30)
