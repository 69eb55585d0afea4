"""``twin serve`` started for a test on a free local port, and Chromium's settings."""

from __future__ import annotations

import contextlib
import os
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
#: The desktop pages' viewport where a test is not about the size. SwiftShader's cost is per pixel, most
#: of it the draped roads, rivers and hazard areas (Cesium draws them as shadow volumes: hiding them cut a
#: console screenshot from 3.2-4.5 s to 1.0 s): the console's layer test took 202 s at 800 x 500 against
#: 312-391 s at 1100 x 700, the forecast timeline 107 s against 232 s (2026-12-04).
DESKTOP = {"width": 800, "height": 500}
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


def _log_tail(path: Path, chars: int = 3000) -> str:
    """The end of a server log, its per-request access lines left out."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if not line.startswith("INFO:     127.")]
    return "\n".join(lines)[-chars:]


@contextmanager
def running_server(data_dir: Path, timeout: float = 60, settings: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``twin serve --data-dir data_dir`` until the block ends; yields its base URL. ``settings``:
    server settings as ``TWIN_*`` environment variables (``twin.server.settings``)."""
    port = free_port()
    log_path = data_dir.parent / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([TWIN, "serve", "--data-dir", str(data_dir), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(settings or {})})
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
                    raise RuntimeError(f"twin serve did not come up: {_log_tail(log_path)}")
                time.sleep(0.3)
            try:
                yield base
            except Exception as exc:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=2)
                if process.returncode is not None:  # say why: the server died under the test
                    raise RuntimeError(f"twin serve exited with code {process.returncode} during the test; "
                                       f"its log without the access lines ends: {_log_tail(log_path)}") from exc
                raise
        finally:
            process.terminate()
            process.wait(timeout=20)
