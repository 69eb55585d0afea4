"""The log of a served session stays readable: event streams opened and closed across a restart of
the shared event feed leave no "Task was destroyed but it is pending!", and a report map rendered
offscreen leaves no X-server warnings."""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest
import rasterio

from tests.browser.serving import running_server
from tests.twin.fixtures_city import CITY_ID, converted_sample_city, data_dir_linking
from twin.files.rasters import Grid, write_grid
from twin.server.event_feed import EventFeed
from twin.server.routes.stream import POLL_SECONDS

pytestmark = pytest.mark.slow
JOB = "cccccccccccc"


def _finished_job(home) -> None:
    """A finished scenario job as the runner leaves it: job.json and result/max_depth.tif."""
    with rasterio.open(converted_sample_city() / "terrain.tif") as src:
        transform, crs, shape = src.transform, src.crs, src.shape
    depth = np.zeros(shape, np.float32)
    depth[: shape[0] // 2] = 0.3
    folder = home / "scenarios" / JOB
    (folder / "result").mkdir(parents=True)
    write_grid(folder / "result" / "max_depth.tif", Grid(depth, transform, crs))
    (folder / "job.json").write_text(json.dumps({
        "id": JOB, "city": CITY_ID, "scenario": {"name": "test"}, "status": "done", "progress": 1.0,
        "created": "2026-01-01T00:00:00Z", "finished": "2026-01-01T00:10:00Z"}))


def _listen(base: str, seconds: float) -> None:
    """Hold /api/stream open for ``seconds`` (no events come: only the feed's polls time out)."""
    with httpx.stream("GET", f"{base}/api/stream", timeout=httpx.Timeout(5, read=seconds)) as response:
        assert response.status_code == 200
        try:
            for _ in response.iter_raw():  # "retry: 2000", then nothing until a heartbeat after 15 s
                pass
        except httpx.ReadTimeout:
            pass  # held open for ``seconds``: the client goes


def test_a_served_session_logs_no_destroyed_tasks_and_no_x_server_warnings(tmp_path):
    home = data_dir_linking(tmp_path / "data", converted_sample_city())
    _finished_job(home)
    # the feed stops this long after its last listener left; the next listener restarts it
    idle_stop_s = 20 * POLL_SECONDS
    assert EventFeed.__init__.__defaults__[0] == POLL_SECONDS
    with running_server(home) as base:
        _listen(base, 3)
        time.sleep(idle_stop_s + 1.5)
        _listen(base, 2)  # restarts the feed: before the fix, ~6 pending waits per second listened were dropped
        picture = httpx.get(f"{base}/api/scenarios/{JOB}/report/map.png", timeout=120)
        assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
        time.sleep(1)
    log = (home.parent / "serve.log").read_text()
    assert "GET /api/stream" in log and "report/map.png" in log  # the log is the session's
    assert "Task was destroyed" not in log
    assert "X server" not in log and "DISPLAY" not in log and "WARN|" not in log
    assert "Traceback" not in log
