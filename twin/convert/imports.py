"""Dataset imports of the server: downloads from the import folder converted (or added to a City) as jobs.

An import names one or more sources (PLATEAU datasets, GSI DEMs, GeoTIFF/ASCII DEMs, shelter
lists) of one place; ``add`` puts them into an existing City (``twin.convert.additions``) instead
of making a new one. A source is named relative to the configured import folder and must stay inside it:
absolute paths, ``..``, hidden names and symbolic links that lead out are refused, and so is
a dataset whose scan skipped unsafe entries (zip-slip members, zip bombs, links out of the
dataset; see ``citygml.dataset``). Each job's state is ``DATA_DIR/imports/<id>.json``,
replaced atomically; ``twin.convert.pipeline`` stages the City beside its final folder and renames it
into place, so an interrupted import leaves no half-written city. Jobs found queued or
running when the runner starts were cut off by a restart and are marked failed.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citygml.dataset import open_dataset
from twin.convert.additions import add_to_city
from twin.convert.file_tasks import FileResult
from twin.convert.inputs import classify
from twin.convert.pipeline import ConvertOptions, convert, plan_conversion
from twin.errors import TwinInputError
from twin.files.atomic import LEFTOVERS
from twin.files.job_state import JobBoard, new_id, now

#: Folder names of the data folder that are not cities.
RESERVED = frozenset({"scenarios", "imports", "import"})


@dataclass
class ImportJob:
    id: str
    source: str  # the first source (jobs of earlier versions named only one)
    name: str
    status: str = "queued"
    sources: list[str] = field(default_factory=list)
    add: bool = False  # into the existing City ``name``
    files_done: int = 0
    files_total: int = 0
    reason: str | None = None
    warnings: int = 0
    shelters: dict | None = None  # the report of a shelter list among the sources (ShelterReport.as_dict)
    created: str = field(default_factory=now)
    finished: str | None = None

    def public(self) -> dict:
        body = asdict(self)
        body["links"] = {"self": f"/api/imports/{self.id}"}
        if self.status == "done":
            body["links"]["city"] = f"/api/cities/{self.name}"
        return body


def resolve_source(import_dir: Path, source: str) -> Path:
    """The input ``source`` names inside ``import_dir``; TwinInputError if it is outside, unsafe or not an input."""
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
    inputs = classify([real], check=False)  # TwinInputError: not a dataset, DEM or shelter list
    if any(i.kind == "plateau" for i in inputs):
        with open_dataset(real) as dataset:
            if dataset.warnings:
                refused = "; ".join(f"{w.source.rsplit(':', 1)[-1]}: {w.message}" for w in dataset.warnings[:5])
                raise TwinInputError(f"source {source!r}: unsafe entries ({refused})")
    return real


class ImportRunner:
    """Runs conversions one at a time (a ``JobBoard`` keeps their state files current).

    Stopping the server cuts a conversion off (the next start marks it interrupted and removes
    its staging folder) instead of waiting for it.
    """

    def __init__(self, data_dir: Path, import_dir: Path) -> None:
        self.data_dir = data_dir
        self.import_dir = import_dir
        self.root = data_dir / "imports"
        self.root.mkdir(parents=True, exist_ok=True)
        self._board: JobBoard[ImportJob] = JobBoard(
            lambda job_id: self.root / f"{job_id}.json", self.root.glob("*.json"), lambda data: ImportJob(**data),
            on_interrupted=self._remove_staging, name="twin-import")

    def _remove_staging(self, job: ImportJob) -> None:
        for staging in self.data_dir.glob(LEFTOVERS):
            if staging.name.startswith(f".{job.name}."):
                shutil.rmtree(staging, ignore_errors=True)

    def get(self, job_id: str) -> ImportJob | None:
        return self._board.get(job_id)

    def list(self) -> list[ImportJob]:
        return self._board.list()

    def busy(self, name: str) -> bool:
        """Whether an import into city ``name`` is queued or running."""
        return self._board.busy(lambda job: job.name == name)

    def submit(self, sources: str | Sequence[str], name: str, add: bool = False) -> ImportJob:
        """Check ``sources`` now (TwinInputError, FileNotFoundError; inputs of different places), then queue
        their conversion into a new City ``name``, or (``add``) their addition to the City ``name``."""
        names = [sources] if isinstance(sources, str) else list(sources)
        if not names:
            raise TwinInputError("sources: name at least one input")
        try:
            paths = [resolve_source(self.import_dir, source) for source in names]
            classify(paths, check=not add)
        except TwinInputError as exc:
            raise self._in_import_words(exc) from None
        job = ImportJob(id=new_id(), source=names[0], name=name, sources=names, add=add)
        return self._board.submit(job, lambda job, cancel: self._run(job, paths))

    def _in_import_words(self, exc: TwinInputError) -> TwinInputError:
        """The error with its inputs named as the API user names them: relative to the import folder."""
        return TwinInputError(str(exc).replace(f"{self.import_dir.resolve()}{os.sep}", ""))

    def _run(self, job: ImportJob, paths: Sequence[Path]) -> None:
        try:
            self._convert(job, paths)
        except TwinInputError as exc:
            raise self._in_import_words(exc) from None

    def _convert(self, job: ImportJob, paths: Sequence[Path]) -> None:
        def on_file(result: FileResult) -> None:
            job.files_done += 1
            self._board.save(job)

        inputs = classify(list(paths), check=False)
        job.files_total = len(plan_conversion(inputs, ConvertOptions(), require_content=False).files)
        target = self.data_dir / job.name
        manifest = add_to_city(target, paths, on_file=on_file) if job.add else convert(paths, target, on_file=on_file)
        job.warnings = len(manifest.get("warnings") or [])
        if any(i.kind == "shelters" for i in inputs):  # what the City kept of it, what was reported
            job.shelters = manifest.get("shelters")
