"""Mixed load over loopback for a bounded time; prints one JSON object.

Builds a sample city in a temporary folder, starts ``twin serve`` on it, then for
``--seconds`` runs, side by side:

- tiles: ``GET`` of the city's tileset JSON and glb content (``Accept-Encoding: gzip``);
- api: ``GET`` of city, building-page, SensorThings and alert reads;
- ingest: ``POST /sta/v1.1/Observations`` with a sensor key;
- sse: ``--sse`` subscribers of ``/api/stream`` held open all along, counting events.

Requests come from ``--processes`` client processes, each an asyncio loop with a minimal
keep-alive HTTP/1.1 client over raw sockets (a general client costs more CPU per request
than the server does, and both share the machine's cores). Reports per kind: requests,
requests/s, p50/p99 latency (ms) and errors (transport errors and non-2xx). Targets (issue
#8, 2 cores): 2,000 tile requests/s, 100 concurrent SSE subscribers, zero errors.

Usage: python bench/load.py [--seconds 30] [--processes 2] [--sse 100] [--buildings 120]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import cpu_seconds, free_port
from citygml.samplecity import generate
from twin.convert.pipeline import convert
from twin.server import Settings
from twin.store import open_store
from twin.store.apikeys import ApiKeys

CITY = "sample"
#: Concurrent requests per client process and kind.
CONCURRENCY = {"tiles": 24, "api": 3, "ingest": 2}


class Connection:
    """One keep-alive HTTP/1.1 connection: just enough client for a load test."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port = port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> int:
        """Send one request, read the whole answer; its status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        length = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n" if body else ""
        self.writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{self.extra}{length}\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in fields:
            await self.reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _worker(kind: str, port: int, plan: dict, until: float, out: dict[str, list]) -> None:
    headers = {"Accept-Encoding": "gzip"}
    if kind == "ingest":
        headers["Authorization"] = f"Bearer {plan['sensor_key']}"
    elif kind == "api":
        headers["Authorization"] = f"Bearer {plan['staff_key']}"
    connection = Connection(port, headers)
    rng = random.Random()
    n = 0
    while time.monotonic() < until:
        if kind == "ingest":
            n += 1
            body = json.dumps({"Datastream": {"@iot.id": plan["datastream"]}, "result": rng.uniform(0, 5)}).encode()
            method, path = "POST", "/sta/v1.1/Observations"
        else:
            method, path, body = "GET", rng.choice(plan[kind]), b""
        started = time.perf_counter()
        try:
            status = await connection.request(method, path, body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            status = 0
        out[kind].append((time.perf_counter() - started, status))


def _client(port: int, plan: dict, seconds: float, queue: multiprocessing.Queue) -> None:
    async def main() -> dict[str, list]:
        out: dict[str, list] = {kind: [] for kind in CONCURRENCY}
        until = time.monotonic() + seconds
        await asyncio.gather(*(_worker(kind, port, plan, until, out)
                               for kind, count in CONCURRENCY.items() for _ in range(count)))
        return out

    queue.put(asyncio.run(main()))


async def _subscribers(url: str, count: int, seconds: float) -> dict:
    """``count`` SSE streams open for ``seconds``: how many stayed connected, events received, errors."""
    received, errors, first_byte = [0] * count, [0], []

    async def one(k: int, http: httpx.AsyncClient) -> None:
        started = time.perf_counter()
        try:
            async with http.stream("GET", f"{url}/api/stream") as response:
                if response.status_code != 200:
                    errors[0] += 1
                    return
                first_byte.append(time.perf_counter() - started)
                async for line in response.aiter_lines():
                    received[k] += line.startswith("event:")
        except httpx.ReadTimeout:
            pass
        except httpx.HTTPError:
            errors[0] += 1

    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(10, read=seconds + 5)) as http:
        tasks = [asyncio.create_task(one(k, http)) for k in range(count)]
        await asyncio.sleep(seconds)
        connected = sum(not t.done() for t in tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"subscribers": count, "connected_at_end": connected, "events_received": sum(received),
            "p50_connect_ms": _ms(np.median(first_byte)) if first_byte else None, "errors": errors[0]}


def _ms(seconds: float) -> float:
    return round(float(seconds) * 1000, 2)


def tile_paths(home: Path) -> list[str]:
    """Every tileset JSON and content file of the city, as server paths."""
    paths, todo = [], ["tileset.json"]
    while todo:
        name = todo.pop()
        paths.append(f"/tiles/{CITY}/{name}")
        tileset = json.loads((home / CITY / name).read_text(encoding="utf-8"))
        stack = [tileset["root"]]
        while stack:
            tile = stack.pop()
            stack.extend(tile.get("children", []))
            for content in [tile.get("content")] + tile.get("contents", []):
                if content and (uri := content.get("uri")):
                    relative = str(Path(name).parent / uri) if "/" in name else uri
                    (todo if uri.endswith(".json") else paths).append(relative if uri.endswith(".json")
                                                                     else f"/tiles/{CITY}/{relative}")
    return paths


@contextlib.contextmanager
def server(home: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [str(Path(sys.executable).with_name("twin")), "serve", "--data-dir", str(home), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/cities", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("twin serve did not start") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def prepare(home: Path, buildings: int) -> dict:
    """Sample city converted into ``home``, keys, one Datastream: what the clients need."""
    generate(home / "source", buildings=buildings, seed=2)
    convert(home / "source", home / CITY)
    store = open_store(Settings(data_dir=home).database)
    keys = ApiKeys(store)
    plan = {"staff_key": keys.create("load-staff", "staff"), "sensor_key": keys.create("load-sensor", "sensor"),
            "tiles": tile_paths(home)}
    store.close()
    return plan


def add_datastream(url: str, plan: dict) -> None:
    thing = {"name": "load gauge", "description": "bench", "Datastreams": [{
        "name": "level", "description": "water level", "observationType": "OM_Measurement",
        "unitOfMeasurement": {"name": "metre", "symbol": "m", "definition": "m"},
        "Sensor": {"name": "gauge", "encodingType": "text/plain", "metadata": "-"},
        "ObservedProperty": {"name": "level", "definition": "urn:level"}}]}
    header = {"Authorization": f"Bearer {plan['sensor_key']}"}
    created = httpx.post(f"{url}/sta/v1.1/Things", json=thing, headers=header, timeout=30)
    created.raise_for_status()
    streams = httpx.get(created.headers["location"] + "/Datastreams", headers=header, timeout=30).json()
    plan["datastream"] = streams["value"][0]["@iot.id"]
    plan["api"] = ["/api/cities", f"/api/cities/{CITY}", f"/api/cities/{CITY}/buildings?limit=20",
                   f"/sta/v1.1/Datastreams({plan['datastream']})/Observations?$top=20", "/api/alerts"]


def summarise(kind: str, samples: list[tuple[float, int]], seconds: float) -> dict:
    latency = np.array([s[0] for s in samples]) if samples else np.zeros(1)
    errors = sum(not 200 <= s[1] < 300 for s in samples)
    return {"requests": len(samples), "per_s": round(len(samples) / seconds, 1), "p50_ms": _ms(np.percentile(latency, 50)),
            "p99_ms": _ms(np.percentile(latency, 99)), "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--sse", type=int, default=100, help="concurrent SSE subscribers")
    parser.add_argument("--buildings", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twin-load-") as tmp:
        home = Path(tmp)
        plan = prepare(home, args.buildings)
        with server(home) as (url, pid):
            add_datastream(url, plan)
            port = int(url.rsplit(":", 1)[1])
            queue: multiprocessing.Queue = multiprocessing.Queue()
            clients = [multiprocessing.Process(target=_client, args=(port, plan, args.seconds, queue))
                       for _ in range(args.processes)]
            cpu_before = cpu_seconds(pid)
            for process in clients:
                process.start()
            sse = asyncio.run(_subscribers(url, args.sse, args.seconds))
            results = [queue.get(timeout=args.seconds + 60) for _ in clients]
            for process in clients:
                process.join(10)
            server_cpu = cpu_seconds(pid) - cpu_before
    merged = {kind: [s for r in results for s in r[kind]] for kind in CONCURRENCY}
    report = {"seconds": args.seconds, "client_processes": args.processes, "tile_files": len(plan["tiles"]),
              **{kind: summarise(kind, samples, args.seconds) for kind, samples in merged.items()},
              "sse": sse, "server_cpu_s": round(server_cpu, 1),
              # CPU per answered request: what bounds the rates when the cores are shared.
              "server_cpu_ms_per_request": round(server_cpu * 1000 / max(1, sum(len(v) for v in merged.values())), 3),
              "targets": {"tiles_per_s": 2000, "sse_subscribers": 100, "errors": 0}}
    report["targets_met"] = (report["tiles"]["per_s"] >= 2000 and sse["connected_at_end"] >= 100
                             and sse["errors"] == 0 and all(report[k]["errors"] == 0 for k in CONCURRENCY))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
