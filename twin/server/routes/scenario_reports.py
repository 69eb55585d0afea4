"""Scenario reports and comparisons: ``/api/scenarios/{id}/report`` and ``/api/scenarios/compare``.

Readable anonymously, like the results they are made from. Registered before the
``scenarios`` router so that ``/api/scenarios/compare`` is not taken for a job id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from twin.opendata import licence
from twin.scenarios.compare import Comparison, compare_jobs
from twin.scenarios.figures import scenario_figures
from twin.scenarios.jobs import JobRunner
from twin.scenarios.report import charts, ensemble_html, report_html, report_map
from twin.server.app_state import Cities, Ensembles, Jobs
from twin.server.auth import Role, requires
from twin.server.problems import Problem
from twin.server.routes.scenarios import job_of

router = APIRouter(prefix="/api/scenarios", tags=["scenarios"])
JobA = Annotated[str, Query(pattern=r"^[a-f0-9]{12}$", description="Job A (the reference)")]
JobB = Annotated[str, Query(pattern=r"^[a-f0-9]{12}$", description="Job B (compared with A)")]


def _done(jobs: JobRunner, job_id: str) -> tuple[Path, dict[str, Any]]:
    """The folder and public state of a finished job (404 unknown, 409 not done)."""
    job = job_of(jobs, job_id)
    if job.status != "done":
        raise Problem(409, f"Scenario job {job_id!r} is {job.status}; results exist once it is done.", "not-done")
    return jobs.folder(job_id), job.public()


def _comparison(jobs: JobRunner, a: str, b: str) -> Comparison:
    if a == b:
        raise Problem(422, "Compare two different jobs (a and b are the same).", "validation")
    folder_a, job_a = _done(jobs, a)
    folder_b, job_b = _done(jobs, b)
    return compare_jobs(folder_a, job_a, folder_b, job_b)


@router.get("/compare", dependencies=[requires(Role.ANONYMOUS)])
def compare(jobs: Jobs, a: JobA, b: JobB) -> dict[str, Any]:
    """Two finished jobs on one city: each one's figures, the changes B − A (flooded area,
    buildings by depth class, people stranded, shelters overflowing) and the max-depth
    difference map (``map.url``, a PNG on ``map.rectangle`` = [west, south, east, north])."""
    comparison = _comparison(jobs, a, b)
    figures = comparison.figures
    figures["map"] = {"url": f"/api/scenarios/compare.png?{urlencode({'a': a, 'b': b})}",
                      "rectangle": figures["difference"]["rectangle"]}
    return figures


@router.get("/compare.png", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"image/png": {}}}}, response_class=Response)
def compare_png(jobs: Jobs, a: JobA, b: JobB) -> Response:
    """The max-depth difference B − A in lon/lat: reds deeper in B, blues shallower, transparent unchanged."""
    return Response(_comparison(jobs, a, b).png, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{job_id}/report", dependencies=[requires(Role.ANONYMOUS)], response_model=None,
            responses={200: {"content": {"text/html": {}, "application/json": {}}}})
def report(job_id: str, jobs: Jobs, cities: Cities, ensembles: Ensembles,
           format: Literal["html", "json"] = Query("html", description="html (printable page) or json")
           ) -> HTMLResponse | dict[str, Any]:
    """A printable report of a finished job: map picture, key figures (buildings flooded by
    depth class, people affected, evacuation clearance time, shelter overflows) and charts;
    ``?format=json`` gives the same figures as JSON. An ensemble around the job (``POST /api/ensembles``
    with its ``scenario_job``) adds a section, the newest finished one."""
    folder, job = _done(jobs, job_id)
    figures = scenario_figures(folder, job)
    ensemble = ensembles.latest_for(job_id)
    section = ""
    if ensemble is not None:
        figures["ensemble"] = json.loads((ensemble / "summary.json").read_text(encoding="utf-8"))
        section = ensemble_html(figures["ensemble"], f"/api/ensembles/{ensemble.parent.name}/probability.png")
    if format == "json":
        return figures
    # The City's sources (GSI too where its terrain came from a GSI DEM); PLATEAU's alone once it is gone.
    credit = licence.attribution(cities.get(job["city"]).manifest) if job["city"] in cities.ids() else licence.Attribution()
    page = report_html(figures, f"/api/scenarios/{job_id}/report/map.png", charts(folder, figures), credit.text,
                       section)
    return HTMLResponse(page)


@router.get("/{job_id}/report/map.png", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"image/png": {}}}}, response_class=FileResponse)
def report_picture(job_id: str, jobs: Jobs, cities: Cities) -> FileResponse:
    """The report's map: the city with the scenario's maximum depth (pyvista), cached in the job folder."""
    folder, job = _done(jobs, job_id)
    city = cities.get(job["city"])  # 404 when the city is gone
    path = report_map(city.folder.path, folder)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})
