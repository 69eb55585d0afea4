"""``/api/scenarios``: flood scenario jobs on a city — run (staff), follow, read results (anyone).

Running and cancelling need the ``staff`` role; job states, progress events and results are
readable anonymously, like the city data they are computed from.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from twin.city.grids import CityGrids, load_grids, require_measured_terrain
from twin.city.layout import CityFolder
from twin.city.shelters import city_shelters
from twin.evacuation.city_run import evacuation_spec
from twin.evacuation.outputs import EVACUATION_FILES, agents_at
from twin.files.job_state import FINISHED
from twin.flood.breach_site import with_breach
from twin.flood.builtin import SAMPLE_CITY_ONLY
from twin.flood.scenario import Scenario, builtin_data, builtin_names, parse_scenario, with_overrides
from twin.scenarios.frames import water_surface
from twin.scenarios.jobs import Job, JobRunner
from twin.server.app_state import Cities, Jobs
from twin.server.auth import Role, requires
from twin.server.cities import City, CityRegistry, plain
from twin.server.problems import Problem

router = APIRouter(prefix="/api/scenarios", tags=["scenarios"])
#: What an API user is asked for when the built-in breach line misses their City.
BREACH_ASK = "give 'river' (one of them) or 'at' ([lon, lat] near a bank) to place the breach"


class EvacuationRequest(BaseModel):
    """An evacuation run after the flood, on its depth (docs/evacuation.md, "On the city")."""

    model_config = ConfigDict(extra="forbid")
    time_of_day: Literal["day", "night"] = Field("night", description="Who is where: residents (night) or "
                                                 "daytime occupants (day)")
    shelters: Literal["city", "city+vertical"] = Field("city", description="The city's designated shelters, "
                                                       "optionally with vertical evacuation into tall sturdy buildings")
    vertical: int = Field(20, ge=1, le=200, description="With city+vertical: how many buildings take evacuees")
    people_per_agent: float = Field(1.0, ge=1, le=1000, description="Sampling: people one agent stands for")
    duration_s: float = Field(3600.0, gt=0, le=86400, description="Simulated time, s")
    cell_size: float | None = Field(None, gt=0, description="Walking grid cell size, m (default: the flood's)")
    seed: int = Field(0, ge=0)

    def options(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"shelters", "vertical"})
        body["vertical"] = self.vertical if self.shelters == "city+vertical" else 0
        return body


class ScenarioRequest(BaseModel):
    city: str = Field(description="City id (a folder of the data directory)")
    scenario: str | None = Field(None, description="Name of a built-in scenario", examples=["cloudburst-100mm"])
    definition: dict[str, Any] | None = Field(None, description="An inline scenario (the TOML format as JSON)")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Top-level scenario keys to replace, "
                                      "e.g. {\"duration_s\": 1800, \"rain\": {\"mm_per_h\": 50}}")
    cell_size: float | None = Field(None, gt=0, description="Coarsen the city's grid to this cell size, m")
    scheme: Literal["auto", "inertial", "full"] | None = Field(
        None, description="The flood scheme: full shallow water, local inertial, or auto (picks one; the pick "
        "and its reason go into the summary); default the scenario's, auto unless it names one")
    evacuation: EvacuationRequest | None = Field(None, description="Evacuate the city's people after the flood, "
                                                 "through its water")
    allow_estimated_terrain: bool = Field(False, description="Run even where the city's terrain is estimated from "
                                          "its buildings (no DEM); the share goes into the summary")
    river: str | None = Field(None, description="Put the scenario's breach (its first inflow) on this river of the "
                              "city (GET /api/cities/{city_id}/rivers), on the bank nearest 'at' or else the "
                              "town's side", examples=["新河岸川"])
    at: list[float] | None = Field(None, min_length=2, max_length=2, description="[lon, lat] near the bank "
                                   "where the breach goes", examples=[[139.4715, 35.9366]])
    bank: Literal["left", "right", "north", "south", "east", "west"] | None = Field(
        None, description="The bank the breach goes on: left or right looking downstream (the flow read from the "
        "city's terrain), or the side it faces")


def job_of(jobs: JobRunner, job_id: str) -> Job:
    """The job, or a 404 Problem."""
    job = jobs.get(job_id)
    if job is None:
        raise Problem(404, f"No scenario job {job_id!r}.", "unknown-job")
    return job


@router.get("/builtin", dependencies=[requires(Role.ANONYMOUS)])
def list_builtin() -> dict[str, Any]:
    """The built-in scenarios: name, titles and main figures; ``sample_city_only`` (ja, en) says why one fits
    only the sample city (else null)."""
    out = []
    for name in builtin_names():
        s = parse_scenario(builtin_data(name), f"scenario {name}").as_dict()
        out.append({**{k: s[k] for k in ("name", "title", "description", "duration_s", "output_interval_s")},
                    "sample_city_only": SAMPLE_CITY_ONLY.get(name)})
    return {"scenarios": out}


@router.post("", status_code=202, dependencies=[requires(Role.STAFF)])
def create_job(body: ScenarioRequest, response: Response, cities: Cities, jobs: Jobs) -> dict[str, Any]:
    """Queue a scenario run on a city; answers 202 with the job (follow it at ``links.events``)."""
    city_entry, city, scenario = requested_scenario(body, cities)
    evacuation = body.evacuation.options() if body.evacuation is not None else None
    if evacuation is not None:
        evacuation_spec(evacuation, None, body.cell_size)
        require_flood_shelters(city_entry.folder)
    require_measured_terrain(city, body.allow_estimated_terrain, api=True)  # a 422 in the API's words
    job = jobs.submit(city, scenario, body.cell_size, evacuation, body.allow_estimated_terrain)
    response.headers["Location"] = f"/api/scenarios/{job.id}"
    return job.public()


def requested_scenario(body: ScenarioRequest, cities: CityRegistry) -> tuple[City, CityGrids, Scenario]:
    """The city a request names, its grids and the checked scenario (its breach placed when asked)."""
    if (body.scenario is None) == (body.definition is None):
        raise Problem(422, "Give either 'scenario' (a built-in name) or 'definition' (an inline scenario).",
                      "validation")
    city_entry = cities.get(body.city)  # 404 unknown-city
    if body.scenario is not None:
        data, source = builtin_data(body.scenario), f"scenario {body.scenario}"
    else:
        data, source = body.definition or {}, "definition"
    overrides = body.overrides | ({"scheme": body.scheme} if body.scheme is not None else {})
    data = with_overrides(data, overrides)
    if body.river is None and body.at is None and body.bank is None:  # else its breach may have no position until placed
        parse_scenario(data, source)  # a bad scenario is named before the City is read
    city = load_grids(city_entry.folder, body.cell_size)
    near = (body.at[0], body.at[1]) if body.at is not None else None
    return city_entry, city, parse_scenario(with_breach(data, city, body.river, near, ask=BREACH_ASK, bank=body.bank),
                                            source)


def require_flood_shelters(city: CityFolder) -> None:
    """A 422 before the job starts when the City has no shelter that takes flood evacuees."""
    flood = city_shelters(city) if city.has("shelters") else None
    if flood is None or len(flood) == 0:
        raise Problem(422, f"City {city.id!r} has no flood shelters (指定緊急避難場所 designated for 洪水), so "
                           "nobody could be evacuated: an administrator can attach the city's official shelter "
                           "list; run the flood without an evacuation meanwhile.", "no-shelters")


@router.get("", dependencies=[requires(Role.ANONYMOUS)])
def list_jobs(jobs: Jobs) -> dict[str, Any]:
    """Every scenario job, newest first."""
    return {"jobs": [j.public() for j in jobs.list()]}


@router.get("/{job_id}", dependencies=[requires(Role.ANONYMOUS)])
def get_job(job_id: str, jobs: Jobs) -> dict[str, Any]:
    """One job's state: queued, running (with progress), done, failed or cancelled (with a reason)."""
    return job_of(jobs, job_id).public()


@router.delete("/{job_id}", dependencies=[requires(Role.STAFF)], status_code=202,
               responses={204: {"description": "a finished job, deleted with its files"}})
def cancel_job(job_id: str, jobs: Jobs) -> Response:
    """Cancel a queued or running job (202), or delete a finished one with its results (204)."""
    job = job_of(jobs, job_id)
    if job.status in FINISHED:
        jobs.delete(job_id)
        return Response(status_code=204)
    cancelled = jobs.cancel(job_id) or job
    return Response(json.dumps(cancelled.public()), status_code=202, media_type="application/json")


@router.get("/{job_id}/events", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/event-stream": {}}}})
async def job_events(job_id: str, request: Request, jobs: Jobs) -> StreamingResponse:
    """Server-sent events: ``progress`` ({fraction, sim_time_s}) as the run advances, then one
    ``done``, ``failed`` or ``cancelled`` with the job, and the stream ends."""
    job_of(jobs, job_id)

    async def stream():
        last = None
        yield "retry: 2000\n\n"
        while True:
            job = jobs.get(job_id)
            if job is None:
                yield _event("failed", {"id": job_id, "status": "failed", "reason": "the job was deleted"})
                return
            if job.status in FINISHED:
                yield _event(job.status, job.public())
                return
            now = (job.status, round(job.progress, 3))
            if now != last:
                last = now
                yield _event("progress", {"id": job.id, "status": job.status, "fraction": round(job.progress, 4),
                                          "sim_time_s": round(job.sim_time_s, 1)})
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(name: str, data: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _result_file(jobs: JobRunner, job_id: str, *parts: str) -> Any:
    job = job_of(jobs, job_id)
    if job.status != "done":
        raise Problem(409, f"Scenario job {job_id!r} is {job.status}; results exist once it is done.", "not-done")
    path = jobs.folder(job_id).joinpath(*parts)
    if not path.is_file():
        raise Problem(404, f"No {'/'.join(parts)} for scenario job {job_id!r}.", "not-found")
    return path


@router.get("/{job_id}/summary.json", dependencies=[requires(Role.ANONYMOUS)])
def job_summary(job_id: str, jobs: Jobs) -> Any:
    """The run's summary: volume budget, buildings wetted, comparison with the official ranks."""
    return json.loads(_result_file(jobs, job_id, "result", "summary.json").read_text(encoding="utf-8"))


@router.get("/{job_id}/buildings", dependencies=[requires(Role.ANONYMOUS)])
def job_buildings(job_id: str, jobs: Jobs, wetted_only: bool = False) -> dict[str, Any]:
    """Per building: max adjacent depth, first wetting time, official and simulated ranks."""
    table = pd.read_parquet(_result_file(jobs, job_id, "result", "buildings.parquet"))
    if wetted_only:
        table = table[table["simulated_rank"] > 0]
    rows = [{k: plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")]
    return {"count": len(rows), "buildings": rows}


@router.get("/{job_id}/frames", dependencies=[requires(Role.ANONYMOUS)])
def job_frames(job_id: str, jobs: Jobs) -> dict[str, Any]:
    """Depth frames: times (s), the lon/lat rectangle [west, south, east, north] and PNG URLs."""
    index = json.loads(_result_file(jobs, job_id, "frames", "frames.json").read_text(encoding="utf-8"))
    index["urls"] = [f"/api/scenarios/{job_id}/frames/{k}.png" for k in range(index["count"])]
    return index


@router.get("/{job_id}/frames/{k}.png", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"image/png": {}}}})
def job_frame(job_id: str, k: int, jobs: Jobs) -> FileResponse:
    """Depth at output time ``k`` in MLIT colours, transparent where dry, on the frames' rectangle."""
    if k < 0:
        raise Problem(404, f"No frame {k}.", "not-found")
    path = _result_file(jobs, job_id, "frames", f"{k}.png")
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{job_id}/frames/{k}/surface", dependencies=[requires(Role.ANONYMOUS)])
def job_frame_surface(job_id: str, k: int, jobs: Jobs) -> dict[str, Any]:
    """The water surface elevation (m T.P.) at output time ``k`` in blocks of cells, None where dry: the
    console draws frame ``k`` at this height, on the ground and up the walls, never over roofs."""
    path = _result_file(jobs, job_id, "result", "depth.nc")
    try:
        return water_surface(path, k, jobs.files(job_id).wet_depth())
    except IndexError as error:
        raise Problem(404, f"{error}.", "not-found") from None


@router.get("/{job_id}/evacuation/{name}", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def job_evacuation_file(job_id: str, name: str, jobs: Jobs) -> Any:
    """The evacuation's results: ``summary.json``, ``clearance.csv`` (people arrived, stranded,
    evacuating over time), ``shelters.csv`` (arrivals, overflow), ``stranded.csv``, ``buildings.csv``."""
    if name not in EVACUATION_FILES:
        raise Problem(404, f"No evacuation file {name!r}; one of {', '.join(EVACUATION_FILES)}.", "not-found")
    path = _result_file(jobs, job_id, "evacuation", name)
    if name.endswith(".json"):
        return json.loads(path.read_text(encoding="utf-8"))
    return FileResponse(path, media_type="text/csv; charset=utf-8")


@router.get("/{job_id}/agents", dependencies=[requires(Role.ANONYMOUS)])
def job_agents(job_id: str, jobs: Jobs, t: float = Query(0.0, ge=0, description="Time, s")) -> dict[str, Any]:
    """Every agent's lon, lat and state (waiting, walking, arrived, stranded) at the stored time
    nearest ``t``, and the people in each shelter by then."""
    path = _result_file(jobs, job_id, "evacuation", "agents.parquet")
    return agents_at(path.parent, t)
