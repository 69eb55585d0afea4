"""``/api/ensembles``: flood ensembles on a city — run (staff), follow, read the odds (anyone).

A request is a scenario request (``POST /api/scenarios``' body) plus what varies (``vary``: a range
per parameter of ``twin.ensembles.design.PARAMETERS``), how many members and the seed. Results are
readable anonymously, like the scenario results they are made from.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import Field

from twin.city.grids import require_measured_terrain
from twin.ensembles.design import MAX_MEMBERS, MIN_MEMBERS, PARAMETERS, checked_range
from twin.ensembles.jobs import EnsembleJob, EnsembleRunner
from twin.ensembles.run import EnsembleSpec
from twin.files.job_state import FINISHED
from twin.server.app_state import Cities, Ensembles, Jobs
from twin.server.auth import Role, requires
from twin.server.problems import Problem
from twin.server.routes.scenarios import ScenarioRequest, requested_scenario, require_flood_shelters

router = APIRouter(prefix="/api/ensembles", tags=["ensembles"])
#: The files of a finished ensemble that may be downloaded, and their media types.
FILES = {"summary.json": "application/json", "ensemble.nc": "application/x-netcdf",
         "buildings.parquet": "application/vnd.apache.parquet", "members.csv": "text/csv; charset=utf-8",
         "probability.png": "image/png"}


class EnsembleRequest(ScenarioRequest):
    vary: dict[str, list[float]] = Field(
        description="Ranges [low, high] to draw members from, by parameter: "
        + "; ".join(f"{p.name} ({p.unit}, {p.low:g}–{p.high:g}): {p.meaning}" for p in PARAMETERS.values()),
        examples=[{"rain": [0.5, 1.5], "manning": [0.5, 2.0]}])
    members: int = Field(16, ge=MIN_MEMBERS, le=MAX_MEMBERS, description="How many members")
    seed: int = Field(0, ge=0, description="Seed of the Latin hypercube design")
    scenario_job: str | None = Field(None, pattern=r"^[a-f0-9]{12}$", description="A scenario job on the same "
                                     "city this ensemble brackets: that job's report then has an ensemble section")


def job_of(ensembles: EnsembleRunner, job_id: str) -> EnsembleJob:
    job = ensembles.get(job_id)
    if job is None:
        raise Problem(404, f"No ensemble job {job_id!r}.", "unknown-job")
    return job


@router.post("", status_code=202, dependencies=[requires(Role.STAFF)])
def create_job(body: EnsembleRequest, response: Response, cities: Cities, ensembles: Ensembles,
               jobs: Jobs) -> dict[str, Any]:
    """Queue an ensemble; answers 202 with the job. Every member's inputs are checked first: a bad range
    or a parameter the scenario lacks (no rain to scale, no breach line to widen) is a 422 and nothing runs."""
    varied = []
    for name, span in body.vary.items():
        if len(span) != 2:
            raise Problem(422, f"vary.{name}: give [low, high], got {span}", "validation")
        varied.append(checked_range(name, *span))
    if body.scenario_job is not None and getattr(jobs.get(body.scenario_job), "city", None) != body.city:
        raise Problem(422, f"scenario_job: no scenario job {body.scenario_job!r} on city {body.city!r}", "validation")
    city_entry, grids, scenario = requested_scenario(body, cities)
    require_measured_terrain(grids, body.allow_estimated_terrain, api=True)  # a 422 in the API's words
    evacuation = body.evacuation.options() if body.evacuation is not None else None
    if evacuation is not None:
        require_flood_shelters(city_entry.folder)
    spec = EnsembleSpec(city=city_entry.folder.path, scenario=scenario, varied=tuple(varied), members=body.members,
                        seed=body.seed, cell_size=body.cell_size, evacuation=evacuation,
                        allow_estimated_terrain=body.allow_estimated_terrain)
    job = ensembles.submit(city_entry.id, spec, body.scenario_job)
    response.headers["Location"] = f"/api/ensembles/{job.id}"
    return job.public()


@router.get("", dependencies=[requires(Role.ANONYMOUS)])
def list_jobs(ensembles: Ensembles) -> dict[str, Any]:
    """Every ensemble job, newest first."""
    return {"jobs": [j.public() for j in ensembles.list()]}


@router.get("/{job_id}", dependencies=[requires(Role.ANONYMOUS)])
def get_job(job_id: str, ensembles: Ensembles) -> dict[str, Any]:
    """One ensemble's state: members done and failed so far, progress, and its links once done."""
    return job_of(ensembles, job_id).public()


@router.delete("/{job_id}", dependencies=[requires(Role.STAFF)], status_code=202,
               responses={204: {"description": "a finished ensemble, deleted with its files"}})
def cancel_job(job_id: str, ensembles: Ensembles) -> Response:
    """Cancel a queued or running ensemble (202), or delete a finished one with its results (204)."""
    job = job_of(ensembles, job_id)
    if job.status in FINISHED:
        ensembles.delete(job_id)
        return Response(status_code=204)
    cancelled = ensembles.cancel(job_id) or job
    return Response(json.dumps(cancelled.public()), status_code=202, media_type="application/json")


def _result_file(ensembles: EnsembleRunner, job_id: str, name: str) -> Any:
    job = job_of(ensembles, job_id)
    if job.status != "done":
        raise Problem(409, f"Ensemble job {job_id!r} is {job.status}; results exist once it is done.", "not-done")
    path = ensembles.result(job_id) / name
    if not path.is_file():
        raise Problem(404, f"No {name} for ensemble job {job_id!r}.", "not-found")
    return path


@router.get("/{job_id}/buildings", dependencies=[requires(Role.ANONYMOUS)])
def job_buildings(job_id: str, ensembles: Ensembles) -> dict[str, Any]:
    """Per building: the probability of being wetted (``p_wetted``) and in how many members."""
    table = pd.read_parquet(_result_file(ensembles, job_id, "buildings.parquet"),
                            columns=["gml_id", "p_wetted", "members_wetted", "members"])
    return {"count": len(table), "buildings": [
        {"gml_id": g, "p_wetted": round(float(p), 4), "members_wetted": int(w), "members": int(m)}
        for g, p, w, m in table.itertuples(index=False)]}


@router.get("/{job_id}/{name}", dependencies=[requires(Role.ANONYMOUS)], response_model=None,
            responses={200: {"content": {t: {} for t in FILES.values()}}})
def job_file(job_id: str, name: str, ensembles: Ensembles) -> Any:
    """A result file: ``summary.json`` (members used, retried and failed, figures), ``ensemble.nc``
    (CF-NetCDF maps), ``buildings.parquet`` (GeoParquet), ``members.csv`` (the design) or
    ``probability.png`` (P(depth ≥ 0.5 m) on ``summary.picture.rectangle``)."""
    if name not in FILES:
        raise Problem(404, f"No ensemble file {name!r}; one of {', '.join(FILES)}.", "not-found")
    path = _result_file(ensembles, job_id, name)
    if name == "summary.json":
        return json.loads(path.read_text(encoding="utf-8"))
    return FileResponse(path, media_type=FILES[name], filename=None if name.endswith(".png") else name)
