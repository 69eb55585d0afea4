"""Dataset imports (admin): ``POST /api/cities`` converts a dataset of the import folder as a job.

Only datasets inside ``settings.imports`` (``TWIN_IMPORT_DIR``) can be named; path tricks,
symbolic links out of the folder and unsafe zips are refused with 4xx problems before any
work starts (``twin.convert.imports``). ``/api/imports`` lists the jobs and their states.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from twin.city.layout import is_city
from twin.convert.imports import RESERVED, ImportJob
from twin.server.app_state import AppSettings, Imports
from twin.server.auth import Role, requires
from twin.server.cities import CITY_ID
from twin.server.problems import Problem

router = APIRouter(tags=["imports"])


class ImportRequest(BaseModel):
    source: str | list[str] = Field(description="Inputs relative to the import folder: PLATEAU datasets (folder, "
                                    ".zip, .gml), GSI DEMs, GeoTIFF/ASCII DEMs, shelter lists (.csv, .geojson)",
                                    examples=["14201_yokosuka_city_2022_citygml_1_op.zip"])
    name: str = Field(max_length=64, description="City id to create (letters, digits, '-' and '_'), or to add to",
                      examples=["yokosuka"])
    add: bool = Field(False, description="Add the inputs to the existing city `name` (hazard layers, a DEM, roads, "
                      "land use, a shelter list) instead of creating it")


@router.post("/api/cities", status_code=202, dependencies=[requires(Role.ADMIN)])
def import_city(body: ImportRequest, response: Response, imports: Imports, settings: AppSettings) -> dict[str, Any]:
    """Convert inputs of the import folder into a new city, or add them to one; answers 202 with the import job."""
    if not CITY_ID.match(body.name) or body.name in RESERVED:
        raise Problem(422, f"name {body.name!r}: use 1-64 letters, digits, '-' or '_' (not {sorted(RESERVED)})",
                      "validation")
    sources = [body.source] if isinstance(body.source, str) else body.source
    if not sources or len(sources) > 100 or any(len(s) > 1024 for s in sources):
        raise Problem(422, "source: 1 to 100 paths of at most 1,024 characters each", "validation")
    if imports.busy(body.name):
        raise Problem(409, f"A city {body.name!r} is being imported; wait for that import.", "city-exists")
    if body.add and not is_city(settings.data_dir / body.name):
        raise Problem(404, f"No city {body.name!r} to add to.", "unknown-city")
    if not body.add and (settings.data_dir / body.name).exists():
        raise Problem(409, f"A city {body.name!r} exists; choose another name (or add to it with add: true).",
                      "city-exists")
    try:
        job = imports.submit(sources, body.name, add=body.add)
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
