"""Flood scenario jobs of the server: a small queue of background runs, state kept as JSON files.

Each job is a folder ``DATA_DIR/scenarios/<id>/`` holding ``job.json`` (its state: queued,
running, done, failed or cancelled, with a reason), ``result/`` (the city flood output
folder) and ``frames/`` (a PNG per output time, depth in MLIT colours on a lon/lat grid, and
``frames.json``). At most ``workers`` jobs run at once (threads; the numba kernels release
the GIL). Jobs found queued or running when the runner starts were cut off by a restart and
are marked failed. ``job.json`` is replaced atomically (``twin.files.atomic``); results and frames
are written into hidden staging folders and renamed into place only once complete, so a
full disk or a crash never leaves a half-written result that could be served.
"""

from __future__ import annotations

import errno
import json
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import netCDF4
import numpy as np
from affine import Affine
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject

from twin.evacuation.city_run import evacuation_spec, run_city_evacuation
from twin.flood.city_run import CityGrids, flood_run, run_city_flood
from twin.files.atomic import publish, staging_folder, write_atomic
from twin.flood.scenario import Scenario

JOB_ID = re.compile(r"^[a-f0-9]{12}$")
ACTIVE = ("queued", "running")
INTERRUPTED = "interrupted by a server restart"
FINISHED = ("done", "failed", "cancelled")
#: MLIT standard inundation-depth colours (水害ハザードマップ作成の手引き, 2016): upper bound (m), RGB.
MLIT_CLASSES = ((0.5, "#F7F5A9"), (3.0, "#FFD8C0"), (5.0, "#FFB7B7"), (10.0, "#FF9191"),
                (20.0, "#F285C9"), (float("inf"), "#DC7ADC"))
#: Depths below this are drawn transparent.
DRY_M = 0.01
FRAME_ALPHA = 210
LONLAT = CRS.from_epsg(6668)


class Cancelled(Exception):
    """Raised from the progress callback to stop a running job."""


@dataclass
class Job:
    id: str
    city: str
    scenario: dict
    status: str = "queued"
    progress: float = 0.0
    sim_time_s: float = 0.0
    reason: str | None = None
    created: str = field(default_factory=lambda: _now())
    started: str | None = None
    finished: str | None = None
    cell_size_m: float | None = None
    evacuation: dict | None = None  # options of an evacuation after the flood (twin.evacuation.city_run)

    def public(self) -> dict:
        body = asdict(self)
        body["links"] = {"self": f"/api/scenarios/{self.id}", "events": f"/api/scenarios/{self.id}/events"}
        if self.status == "done":
            body["links"].update(summary=f"/api/scenarios/{self.id}/summary.json",
                                 buildings=f"/api/scenarios/{self.id}/buildings",
                                 frames=f"/api/scenarios/{self.id}/frames")
            if self.evacuation is not None:
                body["links"].update(evacuation=f"/api/scenarios/{self.id}/evacuation/summary.json",
                                     agents=f"/api/scenarios/{self.id}/agents")
        return body


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class JobRunner:
    """Queues scenario runs on a thread pool and keeps each job's ``job.json`` current."""

    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        self.root = Path(data_dir) / "scenarios"
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twin-job")
        self._recover()

    def _recover(self) -> None:
        for path in sorted(self.root.glob("*/job.json")):
            try:
                job = Job(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if job.status in ACTIVE:
                job.status, job.reason, job.finished = "failed", INTERRUPTED, _now()
                for leftover in path.parent.glob(".*.partial"):
                    shutil.rmtree(leftover, ignore_errors=True)
                self._save(job)
            self._jobs[job.id] = job

    def folder(self, job_id: str) -> Path:
        return self.root / job_id

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id) if JOB_ID.match(job_id) else None

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def submit(self, city: CityGrids, scenario: Scenario, cell_size: float | None = None,
               evacuation: dict | None = None) -> Job:
        """Check the scenario against the city now (TwinInputError if bad), then queue it."""
        flood_run(city, scenario)  # positions outside the grid or in a building fail here, not later
        job = Job(id=secrets.token_hex(6), city=city.id, scenario=scenario.as_dict(), cell_size_m=cell_size,
                  evacuation=evacuation)
        self.folder(job.id).mkdir(parents=True)
        with self._lock:
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
        self._save(job)
        self._pool.submit(self._run, job, city, scenario)
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job; None if there is no such active job."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE:
                return None
            self._cancel[job_id].set()
            if job.status == "queued":
                job.status, job.reason, job.finished = "cancelled", "cancelled before it started", _now()
        self._save(job)
        return job

    def delete(self, job_id: str) -> bool:
        """Remove a finished job and its files."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in FINISHED:
                return False
            del self._jobs[job_id]
            self._cancel.pop(job_id, None)
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        return True

    def shutdown(self) -> None:
        for event in self._cancel.values():
            event.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _save(self, job: Job) -> None:
        folder = self.folder(job.id)
        if not folder.is_dir():
            return
        write_atomic(folder / "job.json", (json.dumps(asdict(job), indent=2, ensure_ascii=False) + "\n").encode())

    def _run(self, job: Job, city: CityGrids, scenario: Scenario) -> None:
        cancel = self._cancel[job.id]
        if cancel.is_set() or job.status != "queued":
            return
        job.status, job.started = "running", _now()
        self._save(job)
        last = [0.0]

        def progress(t: float, until: float) -> None:
            if cancel.is_set():
                raise Cancelled
            job.sim_time_s = t
            job.progress = min(0.99, t / until) if until > 0 else 0.99
            now = time.monotonic()
            if now - last[0] > 0.5:
                last[0] = now
                self._save(job)

        folder = self.folder(job.id)
        result, frames = staging_folder(folder / "result"), staging_folder(folder / "frames")
        try:
            run_city_flood(city, scenario, result, progress)
            write_frames(result / "depth.nc", frames, city.crs)
            if job.evacuation is not None:
                run_city_evacuation(city.folder, evacuation_spec(job.evacuation, result, job.cell_size_m),
                                    staging_folder(folder / "evacuation"), lambda *_: _stop_if(cancel))
            publish(result, folder / "result")
            publish(frames, folder / "frames")
            if job.evacuation is not None:
                publish(folder / ".evacuation.partial", folder / "evacuation")
            job.status, job.progress = "done", 1.0
        except Cancelled:
            job.status, job.reason = "cancelled", "cancelled while running"
        except OSError as exc:
            job.status, job.reason = "failed", _disk_reason(exc)
        except Exception as exc:  # noqa: BLE001 - the job fails, the server lives on; the user sees why
            job.status, job.reason = "failed", f"{type(exc).__name__}: {exc}"
        if job.status != "done":
            for partial in (result, frames, folder / "result", folder / "frames", folder / ".evacuation.partial",
                            folder / "evacuation"):
                shutil.rmtree(partial, ignore_errors=True)
        job.finished = _now()
        try:
            self._save(job)
        except OSError:
            pass  # disk still full: the state stays right in memory; a restart marks the job interrupted


def _stop_if(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled


def _disk_reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while writing results ({exc.strerror or exc}); nothing was kept"
    return f"{type(exc).__name__}: {exc}"


def mlit_colours(depth: np.ndarray) -> np.ndarray:
    """RGBA (rows, cols, 4) uint8: MLIT class colours, transparent where dry or NaN."""
    bounds = np.array([b for b, _ in MLIT_CLASSES[:-1]])
    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] + [FRAME_ALPHA] for _, c in MLIT_CLASSES],
                       dtype=np.uint8)
    d = np.nan_to_num(depth, nan=0.0)
    rgba = palette[np.searchsorted(bounds, d, side="right")]
    rgba[d < DRY_M] = 0
    return rgba


def write_frames(depth_nc: Path, folder: Path, crs: CRS) -> dict:
    """One PNG per time of ``depth_nc``, warped onto a lon/lat grid, and ``frames.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(depth_nc) as ds:
        times = [float(t) for t in ds["time"][:]]
        xs, ys = ds["x"][:], ds["y"][:]
        cell = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
        rows, cols = len(ys), len(xs)
        src_transform = Affine(cell, 0, float(xs[0]) - cell / 2, 0, -cell, float(ys[0]) + cell / 2)
        west, north = src_transform @ (0, 0)
        east, south = src_transform @ (cols, rows)
        dst_transform, width, height = calculate_default_transform(crs, LONLAT, cols, rows, west, south, east, north)
        for k in range(len(times)):
            depth = np.asarray(ds["depth"][k].filled(np.nan), dtype=np.float32)
            out = np.full((height, width), np.nan, np.float32)
            reproject(depth, out, src_transform=src_transform, src_crs=crs, dst_transform=dst_transform,
                      dst_crs=LONLAT, resampling=Resampling.nearest, src_nodata=np.nan, dst_nodata=np.nan)
            Image.fromarray(mlit_colours(out), "RGBA").save(folder / f"{k}.png", optimize=False, compress_level=6)
    w, n = dst_transform @ (0, 0)
    e, s = dst_transform @ (width, height)
    index = {"times_s": times, "count": len(times), "rectangle": [w, s, e, n], "width": width, "height": height,
             "legend": [{"max_m": None if np.isinf(b) else b, "colour": c} for b, c in MLIT_CLASSES],
             "crs": "EPSG:6668"}
    (folder / "frames.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return index
