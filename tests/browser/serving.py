"""``twin serve`` started for a test on a free local port, and Chromium's settings."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.twin.fixtures_city import TWIN

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--disable-gpu", "--disable-background-networking"]
NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium); CI installs it")


def create_key(home: Path, role: str, name: str) -> str:
    """A new API key of ``role`` in the server home ``home`` (``twin keys create``)."""
    done = subprocess.run([TWIN, "keys", "create", "--role", role, "--name", name, "--data-dir", str(home)],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, timeout: float = 60) -> Iterator[str]:
    """Run ``twin serve --data-dir data_dir`` until the block ends; yields its base URL."""
    port = free_port()
    log_path = data_dir.parent / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([TWIN, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(f"{base}/api/cities", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"twin serve did not come up: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=20)
