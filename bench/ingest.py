"""Sensor ingestion benchmark over loopback; prints one JSON object.

Starts ``twin serve`` on a temporary data folder (SQLite by default, or a throwaway
PostgreSQL cluster with ``--postgres``), creates one Datastream per client, then for each
mode runs ``--clients`` concurrent HTTP clients (one thread and one keep-alive
``http.client`` connection each) for ``--seconds``; every answer is checked (status, entity,
``Location``, one link per batched observation), and any other answer counts as an error:

- ``single``: one ``POST /sta/v1.1/Observations`` per observation;
- ``single_under_datastream``: one ``POST /sta/v1.1/Datastreams(id)/Observations`` per observation;
- ``ngsi_single``: one NGSI-v2 ``POST /ngsi/v2/entities/{id}/attrs`` (a FloodMonitoring level) per observation;
- ``batched``: ``POST /sta/v1.1/CreateObservations`` with ``--batch`` observations each.

Reports observations/s, requests/s, p50/p99 latency, errors, and the CPU time the server and
the clients spent per request (on a shared machine, CPU rather than the cores bounds the rates). Targets (issue #6, SQLite):
≥ 500 requests/s single and ≥ 5,000 observations/s batched.

Usage: python bench/ingest.py [--clients 8] [--seconds 5] [--batch 500] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twin.store import open_store
from twin.store.apikeys import ApiKeys
from twin.store.database import sqlite_url

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(home: Path, database_url: str) -> Iterator[tuple[str, int]]:
    """``twin serve`` on a free port (its URL and pid), stopped with SIGTERM afterwards."""
    port = free_port()
    env = {**os.environ, "TWIN_DATABASE_URL": database_url}
    log = (home / "serve.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).with_name("twin")), "serve", "--data-dir", str(home),
                                "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/config", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"twin serve did not start: {(home / 'serve.log').read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def datastreams(url: str, key: str, count: int) -> list[int]:
    """One Thing with ``count`` water-level Datastreams; their ids."""
    thing = {"name": "bench", "Locations": [{"name": "bench", "encodingType": "application/geo+json",
                                             "location": {"type": "Point", "coordinates": [139.7, 35.6]}}],
             "Datastreams": [{"name": f"bench {n}", "unitOfMeasurement": {"name": "metre", "symbol": "m"},
                              "observationType": MEASUREMENT,
                              "Sensor": {"name": "bench", "encodingType": "text/plain", "metadata": "-"},
                              "ObservedProperty": {"name": "level", "definition": "urn:level"}}
                             for n in range(count)]}
    header = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"{url}/sta/v1.1/Things", json=thing, headers=header, timeout=30).json()
    listed = httpx.get(created["Datastreams@iot.navigationLink"], headers=header, timeout=30).json()
    return sorted(d["@iot.id"] for d in listed["value"])


class Connection:
    """One keep-alive HTTP/1.1 connection over loopback (``http.client``: a device's client is lean too)."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, path: str, body: object) -> tuple[int, str | None, object]:
        """Status, ``Location`` header and parsed JSON body of ``POST path``."""
        self.http.request("POST", path, json.dumps(body).encode(), self.headers)
        answer = self.http.getresponse()
        data = answer.read()
        return answer.status, answer.getheader("location"), json.loads(data) if data else None

    def close(self) -> None:
        self.http.close()


def flood_entities(url: str, key: str, count: int) -> list[str]:
    """``count`` NGSI-v2 FloodMonitoring entities (river gauges); their ids."""
    ids = [f"urn:ngsi-ld:FloodMonitoring:bench-{n}" for n in range(count)]
    for id_ in ids:
        created = httpx.post(f"{url}/ngsi/v2/entities", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                             json={"id": id_, "type": "FloodMonitoring", "currentLevel": 0.5,
                                   "observationDateTime": EPOCH.isoformat()}, params={"options": "keyValues"})
        created.raise_for_status()
    return ids


def run(clients: int, seconds: float, request: Callable[[Connection, int, int], int], url: str, key: str,
        server_pid: int) -> dict:
    """``clients`` threads calling ``request(connection, client, n)`` for ``seconds``; the figures.

    ``request`` returns how many observations its answer confirms stored, or raises
    :class:`Refused` when the answer is not the expected one (counted as an error)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stored = [0] * clients
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(c: int) -> None:
        connection = Connection(url, key)
        try:
            start.wait()
            n = 0
            while not stop.is_set():
                began = time.perf_counter()
                try:
                    stored[c] += request(connection, c, n)
                except Refused:
                    errors[c] += 1
                latencies[c].append(time.perf_counter() - began)
                n += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began, server_cpu, client_cpu = time.perf_counter(), cpu_seconds(server_pid), time.process_time()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    all_latencies = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    return {"clients": clients, "seconds": round(elapsed, 2), "requests": int(all_latencies.size),
            "observations": sum(stored), "errors": sum(errors),
            "requests_per_s": round(all_latencies.size / elapsed, 1),
            "observations_per_s": round(sum(stored) / elapsed, 1),
            "latency_ms": {"p50": round(float(np.percentile(all_latencies, 50)), 2),
                           "p99": round(float(np.percentile(all_latencies, 99)), 2),
                           "max": round(float(all_latencies.max()), 2)},
            "server_cpu_ms_per_request": round(1000 * server_cpu / all_latencies.size, 3),
            "client_cpu_ms_per_request": round(1000 * client_cpu / all_latencies.size, 3)}


class Refused(Exception):
    """An answer other than the one a stored write gets."""


def single_request(streams: list[int], under_datastream: bool) -> Callable[[Connection, int, int], int]:
    """POST one observation (to ``/Observations``, or to ``/Datastreams(id)/Observations``); checks the entity."""

    first = EPOCH + timedelta(days=180 if under_datastream else 0)  # the two modes store different times

    def request(connection: Connection, c: int, n: int) -> int:
        moment = (first + timedelta(seconds=n)).isoformat()
        value = 1.0 + n % 7
        if under_datastream:
            status, location, entity = connection.post(f"/sta/v1.1/Datastreams({streams[c]})/Observations",
                                                      {"phenomenonTime": moment, "result": value})
        else:
            status, location, entity = connection.post("/sta/v1.1/Observations", {"Datastream": {"@iot.id": streams[c]},
                                                                       "phenomenonTime": moment, "result": value})
        if status != 201 or not isinstance(entity, dict) or entity.get("result") != value \
                or location is None or location != entity.get("@iot.selfLink"):
            raise Refused(status)
        return 1

    return request


def ngsi_request(entities: list[str]) -> Callable[[Connection, int, int], int]:
    """POST one FloodMonitoring level as an NGSI-v2 attribute update; checks the 204."""

    def request(connection: Connection, c: int, n: int) -> int:
        moment = (EPOCH + timedelta(days=90, seconds=n)).isoformat()
        status, _, _ = connection.post(f"/ngsi/v2/entities/{entities[c]}/attrs", {
            "currentLevel": {"type": "Number", "value": 1.0 + n % 7},
            "observationDateTime": {"type": "DateTime", "value": moment}})
        if status != 204:
            raise Refused(status)
        return 1

    return request


def batched_request(streams: list[int], batch: int) -> Callable[[Connection, int, int], int]:
    """POST ``batch`` observations as one CreateObservations data array; checks one link per observation."""

    def request(connection: Connection, c: int, n: int) -> int:
        first = EPOCH + timedelta(days=365, seconds=n * batch)
        data = [[(first + timedelta(seconds=i)).isoformat(), 1.0 + i % 7] for i in range(batch)]
        status, _, links = connection.post("/sta/v1.1/CreateObservations", [{
            "Datastream": {"@iot.id": streams[c]}, "components": ["phenomenonTime", "result"],
            "dataArray@iot.count": len(data), "dataArray": data}])
        if status != 201 or not isinstance(links, list) or len(links) != batch:
            raise Refused(status)
        return batch

    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster, not SQLite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        home = Path(tmp)
        if args.postgres:
            from tests.store.postgres import create_database, postgres_cluster

            database_url = create_database(stack.enter_context(postgres_cluster()), "twin_bench")
        else:
            database_url = sqlite_url(home)
        store = open_store(database_url)
        key = ApiKeys(store).create("bench", "sensor")
        store.close()
        url, pid = stack.enter_context(server(home, database_url))
        streams = datastreams(url, key, args.clients)

        report = {"backend": "postgresql" if args.postgres else "sqlite",
                  "single": run(args.clients, args.seconds, single_request(streams, False), url, key, pid),
                  "single_under_datastream": run(args.clients, args.seconds, single_request(streams, True),
                                                 url, key, pid),
                  "ngsi_single": run(args.clients, args.seconds,
                                     ngsi_request(flood_entities(url, key, args.clients)), url, key, pid),
                  "batched": {"batch": args.batch, **run(args.clients, args.seconds,
                                                         batched_request(streams, args.batch), url, key, pid)},
                  "targets": {"single_requests_per_s": 500, "batched_observations_per_s": 5000}}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
