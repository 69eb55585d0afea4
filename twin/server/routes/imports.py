"""Dataset imports (admin): ``POST /api/cities`` converts a dataset of the import folder as a job.

Only datasets inside ``settings.imports`` (``TWIN_IMPORT_DIR``) can be named; path tricks,
symbolic links out of the folder and unsafe zips are refused with 4xx problems before any
work starts (``twin.convert.imports``). ``/api/imports`` lists the jobs and their states.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from twin.convert.imports import RESERVED, ImportJob
from twin.server.app_state import AppSettings, Imports
from twin.server.auth import Role, requires
from twin.server.cities import CITY_ID
from twin.server.problems import Problem

router = APIRouter(tags=["imports"])


class ImportRequest(BaseModel):
    source: str = Field(max_length=1024, description="Dataset folder, .zip or .gml, relative to the import folder",
                        examples=["14201_yokosuka_city_2022_citygml_1_op.zip"])
    name: str = Field(max_length=64, description="City id to create (letters, digits, '-' and '_')",
                      examples=["yokosuka"])


@router.post("/api/cities", status_code=202, dependencies=[requires(Role.ADMIN)])
def import_city(body: ImportRequest, response: Response, imports: Imports, settings: AppSettings) -> dict[str, Any]:
    """Convert a dataset of the import folder into a new city; answers 202 with the import job."""
    if not CITY_ID.match(body.name) or body.name in RESERVED:
        raise Problem(422, f"name {body.name!r}: use 1-64 letters, digits, '-' or '_' (not {sorted(RESERVED)})",
                      "validation")
    if (settings.data_dir / body.name).exists() or imports.busy(body.name):
        raise Problem(409, f"A city {body.name!r} exists or is being imported; choose another name.", "city-exists")
    try:
        job = imports.submit(body.source, body.name)
    except FileNotFoundError as exc:
        raise Problem(404, str(exc), "unknown-source") from None
    response.headers["Location"] = f"/api/imports/{job.id}"
    return job.public()


@router.get("/api/imports", dependencies=[requires(Role.ADMIN)])
def list_imports(imports: Imports) -> dict[str, Any]:
    """Every import job, newest first."""
    return {"imports": [j.public() for j in imports.list()]}


@router.get("/api/imports/{job_id}", dependencies=[requires(Role.ADMIN)])
def get_import(job_id: str, imports: Imports) -> dict[str, Any]:
    """One import: queued, running (files converted so far), done or failed (with a reason)."""
    job: ImportJob | None = imports.get(job_id)
    if job is None:
        raise Problem(404, f"No import job {job_id!r}.", "unknown-import")
    return job.public()
