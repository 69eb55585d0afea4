"""Nothing acknowledged is lost: SIGKILL ``twin serve`` mid-burst, restart, every 2xx observation is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.sensors.conftest import Keys, free_port, river_gauge

pytestmark = pytest.mark.slow


def serve(home: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen([str(Path(sys.executable).with_name("twin")), "serve", "--data-dir", str(home),
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120  # a guard against a hang, generous for a loaded 2-core machine
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/config", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("twin serve did not start")


def test_sigkill_mid_burst_loses_no_acknowledged_observation(home, keys):
    port = free_port()
    server = serve(home, port)
    url, header = f"http://127.0.0.1:{port}/sta/v1.1", Keys.header(keys.sensor)
    try:
        thing = httpx.post(f"{url}/Things", json=river_gauge(), headers=header).json()
        stream_id = httpx.get(thing["Datastreams@iot.navigationLink"], headers=header).json()["value"][0]["@iot.id"]
        acknowledged: list[str] = []
        stop = threading.Event()

        day = datetime.now(UTC).date().isoformat()  # today: the restarted server's pruning keeps it

        def burst() -> None:
            with httpx.Client(headers=header, timeout=5) as http:
                for n in range(100_000):
                    if stop.is_set():
                        return
                    moment = f"{day}T00:00:{n // 1000:02d}.{n % 1000:03d}Z" if n < 60_000 else None
                    try:
                        answer = http.post(f"{url}/Observations", json={
                            "Datastream": {"@iot.id": stream_id}, "phenomenonTime": moment, "result": 1.0})
                    except httpx.TransportError:
                        return
                    if 200 <= answer.status_code < 300:
                        acknowledged.append(moment)

        sender = threading.Thread(target=burst)
        sender.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 200:
            assert sender.is_alive() and time.monotonic() < deadline, f"only {len(acknowledged)} observations acknowledged"
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        stop.set()
        sender.join(10)
    finally:
        server.kill()
        server.wait(10)

    server = serve(home, port)
    try:
        stored = httpx.get(f"{url}/Datastreams({stream_id})/Observations",
                           params={"$top": 10000, "$select": "phenomenonTime"}, headers=header).json()["value"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    times = {datetime.fromisoformat(o["phenomenonTime"]) for o in stored}
    assert len(acknowledged) >= 200
    assert {datetime.fromisoformat(t) for t in acknowledged} <= times
    assert len(times) <= len(acknowledged) + 1  # at most the one in flight when killed
