"""Dataset imports of the server: PLATEAU datasets from the import folder converted as jobs.

A source is named relative to the configured import folder and must stay inside it:
absolute paths, ``..``, hidden names and symbolic links that lead out are refused, and so is
a dataset whose scan skipped unsafe entries (zip-slip members, zip bombs, links out of the
dataset; see ``citygml.dataset``). Each job's state is ``DATA_DIR/imports/<id>.json``,
replaced atomically; ``twin.convert.pipeline`` stages the City beside its final folder and renames it
into place, so an interrupted import leaves no half-written city. Jobs found queued or
running when the runner starts were cut off by a restart and are marked failed.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import SimpleQueue

from citygml.dataset import open_dataset
from citygml.errors import CityGMLError
from twin.convert.pipeline import FileResult, convert
from twin.files.atomic import write_atomic
from twin.errors import TwinInputError

IMPORT_ID = re.compile(r"^[a-f0-9]{12}$")
ACTIVE = ("queued", "running")
INTERRUPTED = "interrupted by a server restart"
#: Folder names of the data folder that are not cities.
RESERVED = frozenset({"scenarios", "imports", "import"})


@dataclass
class ImportJob:
    id: str
    source: str
    name: str
    status: str = "queued"
    files_done: int = 0
    files_total: int = 0
    reason: str | None = None
    warnings: int = 0
    created: str = field(default_factory=lambda: _now())
    finished: str | None = None

    def public(self) -> dict:
        body = asdict(self)
        body["links"] = {"self": f"/api/imports/{self.id}"}
        if self.status == "done":
            body["links"]["city"] = f"/api/cities/{self.name}"
        return body


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def resolve_source(import_dir: Path, source: str) -> Path:
    """The dataset ``source`` names inside ``import_dir``; TwinInputError if it is outside or unsafe."""
    parts = source.split("/")
    if (not source or source.startswith("/") or "\\" in source or "\0" in source or re.match(r"^[A-Za-z]:", source)
            or any(p in ("", ".", "..") or p.startswith(".") for p in parts)):
        raise TwinInputError(f"source {source!r}: give a plain path relative to the import folder")
    try:
        root = import_dir.resolve(strict=True)
        real = root.joinpath(*parts).resolve(strict=True)
    except (OSError, RuntimeError):
        raise FileNotFoundError(f"source {source!r}: no such dataset in the import folder") from None
    if not real.is_relative_to(root) or real == root:
        raise TwinInputError(f"source {source!r}: leads out of the import folder")
    with open_dataset(real) as dataset:
        if dataset.warnings:
            refused = "; ".join(f"{w.source.rsplit(':', 1)[-1]}: {w.message}" for w in dataset.warnings[:5])
            raise TwinInputError(f"source {source!r}: unsafe entries ({refused})")
        if not dataset.files:
            raise TwinInputError(f"source {source!r}: no CityGML files in it")
    return real


class ImportRunner:
    """Runs conversions one at a time and keeps each job's state file current.

    The worker is a daemon thread: stopping the server cuts a conversion off (the next start
    marks it interrupted and removes its staging folder) instead of waiting for it.
    """

    def __init__(self, data_dir: Path, import_dir: Path) -> None:
        self.data_dir = data_dir
        self.import_dir = import_dir
        self.root = data_dir / "imports"
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, ImportJob] = {}
        self._lock = threading.Lock()
        self._queue: SimpleQueue[tuple[ImportJob, Path]] = SimpleQueue()
        threading.Thread(target=self._work, name="twin-import", daemon=True).start()
        self._recover()

    def _recover(self) -> None:
        for path in sorted(self.root.glob("*.json")):
            try:
                job = ImportJob(**json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
            if job.status in ACTIVE:
                job.status, job.reason, job.finished = "failed", INTERRUPTED, _now()
                for staging in self.data_dir.glob(f".{job.name}.partial-*"):
                    shutil.rmtree(staging, ignore_errors=True)
                self._save(job)
            self._jobs[job.id] = job

    def get(self, job_id: str) -> ImportJob | None:
        with self._lock:
            return self._jobs.get(job_id) if IMPORT_ID.match(job_id) else None

    def list(self) -> list[ImportJob]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)

    def busy(self, name: str) -> bool:
        """Whether an import into city ``name`` is queued or running."""
        with self._lock:
            return any(j.name == name and j.status in ACTIVE for j in self._jobs.values())

    def submit(self, source: str, name: str) -> ImportJob:
        """Check ``source`` now (TwinInputError, FileNotFoundError), then queue its conversion."""
        path = resolve_source(self.import_dir, source)
        job = ImportJob(id=secrets.token_hex(6), source=source, name=name)
        with self._lock:
            self._jobs[job.id] = job
        self._save(job)
        self._queue.put((job, path))
        return job

    def _work(self) -> None:
        while True:
            self._run(*self._queue.get())

    def _save(self, job: ImportJob) -> None:
        write_atomic(self.root / f"{job.id}.json", (json.dumps(asdict(job), indent=2, ensure_ascii=False) + "\n").encode())

    def _run(self, job: ImportJob, path: Path) -> None:
        job.status = "running"
        self._save(job)

        def on_file(result: FileResult) -> None:
            job.files_done += 1
            self._save(job)

        try:
            with open_dataset(path) as dataset:
                job.files_total = len(dataset.select())
            manifest = convert(path, self.data_dir / job.name, on_file=on_file)
            job.status, job.warnings = "done", len(manifest.get("warnings") or [])
        except (TwinInputError, CityGMLError) as exc:
            job.status, job.reason = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - the job fails, the server lives on; the admin sees why
            job.status, job.reason = "failed", f"{type(exc).__name__}: {exc}"
        job.finished = _now()
        try:
            self._save(job)
        except OSError:
            pass  # disk full: the state stays right in memory; a restart marks the job interrupted
