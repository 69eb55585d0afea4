"""The public hazard map's API: official inundation areas, what is known at one point, and the
building footprints the map draws.

All routes are anonymous. A city's hazard areas, footprints and shelter walking field are built on
first use and cached on the ``City`` object (a changed manifest makes a new City, so the
caches go with the old one).
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from twin.hazardmap.footprints import Footprints
from twin.city.hazard_areas import (CLASS_COLOURS, CLASS_LABELS_EN, CLASS_LABELS_JA, HazardAreas, area_properties,
                               depth_class_of_depth, feature_collection)
from twin.server.auth import Role, requires
from twin.server.cities import City
from twin.server.problems import Problem
from twin.server.routes.cities import _bbox, registry
from twin.hazardmap.shelter_walk import WALKING_SPEED_M_S, ShelterWalk
from twin.hazardmap.simulated_depth import latest_done, max_depth_at, max_depth_png, scenario_title

router = APIRouter(prefix="/api/cities", tags=["hazard"])
Layer = Literal["fld", "tnm", "htd", "ifld", "rfld"]
_areas: weakref.WeakKeyDictionary[City, HazardAreas] = weakref.WeakKeyDictionary()
_walks: weakref.WeakKeyDictionary[City, ShelterWalk] = weakref.WeakKeyDictionary()
_footprints: weakref.WeakKeyDictionary[City, bytes] = weakref.WeakKeyDictionary()
_pictures: dict[str, tuple[bytes, list[float]]] = {}  # job id → max-depth PNG and its rectangle
_area_lock = threading.Lock()
_walk_lock = threading.Lock()
_footprint_lock = threading.Lock()


def hazard_areas(city: City) -> HazardAreas:
    """The city's hazard areas (cached), or a 404 Problem when it has none."""
    with _area_lock:
        if city not in _areas:
            path = city.file("hazards")
            if path is None or not path.is_file():
                raise Problem(404, f"City {city.id!r} has no official hazard areas (no fld/tnm/htd/ifld/rfld "
                                   "in its dataset).", "no-hazards")
            _areas[city] = HazardAreas.from_parquet(path)
        return _areas[city]


def shelter_walk(city: City) -> ShelterWalk:
    """The city's travel-distance field from its flood shelters (computed once, about 1 s per 2 M cells)."""
    with _walk_lock:
        if city not in _walks:
            if city.file("masks") is None or not city.file("masks").is_file():
                raise Problem(404, f"City {city.id!r} has no walkable grid (masks.tif); convert it again.",
                              "no-walk-grid")
            _walks[city] = ShelterWalk.of_city(city.folder, city.manifest)
        return _walks[city]


def _warm(city: City) -> None:
    """Start computing the walking field in the background so the first tap answers at once."""
    if city not in _walks and city.file("masks") is not None:
        threading.Thread(target=lambda: _quietly(shelter_walk, city), daemon=True, name="twin-walk").start()


def _quietly(function, city: City) -> None:
    try:
        function(city)
    except Problem:
        pass  # reported to whoever asks for it in a request


@router.get("/{city_id}/hazards", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"application/geo+json": {}}}})
def list_hazards(
    city_id: str,
    request: Request,
    layer: Annotated[Layer | None, Query(description="fld river, tnm tsunami, htd high tide, ifld inland, "
                                                     "rfld reservoir; all layers when omitted")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)")] = None,
) -> JSONResponse:
    """Official inundation areas as GeoJSON (simplified lon/lat) with MLIT depth classes and colours."""
    city = registry(request).get(city_id)
    areas = hazard_areas(city)
    _warm(city)
    body = feature_collection(areas.select(layer, _bbox(bbox)))
    body["legend"] = legend()
    return JSONResponse(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=300"})


@router.get("/{city_id}/footprints", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def footprints(city_id: str, request: Request) -> Response:
    """Every building's footprint ring and height as compact integer lists (decimetres about the city
    centre), for maps drawn without 3D Tiles; see ``twin.hazardmap.footprints``."""
    city = registry(request).get(city_id)
    with _footprint_lock:
        if city not in _footprints:
            centre = city.manifest.get("center")
            frame = city.buildings().frame
            _footprints[city] = json.dumps(Footprints.of_table(frame, tuple(centre[:2]) if centre else None).as_json(),
                                           separators=(",", ":")).encode()
        body = _footprints[city]
    return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})


@router.get("/{city_id}/hazard-at", dependencies=[requires(Role.ANONYMOUS)])
def hazard_at(
    city_id: str,
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude, degrees")],
    speed: Annotated[float, Query(gt=0.2, le=2.0, description="walking speed, m/s")] = WALKING_SPEED_M_S,
) -> dict[str, Any]:
    """Official depth classes at a point, the latest simulated maximum depth, and the nearest flood
    shelter with the walking distance, time and route over the streets (buildings impassable)."""
    city = registry(request).get(city_id)
    walk = shelter_walk(city)
    if walk.cell_of(lon, lat) is None:
        raise Problem(404, f"({lon}, {lat}) is outside city {city_id!r}'s grid.", "outside-city")
    official = [area_properties(row._asdict()) for row in hazard_areas(city).at(lon, lat).itertuples(index=False)] \
        if city.file("hazards") is not None else []
    deepest: dict[str, dict] = {}
    for area in official:
        deepest.setdefault(area["layer"], area)  # rows come deepest first
    return {"lon": lon, "lat": lat, "official": official, "deepest_by_layer": deepest,
            "simulation": _simulation(request, city, lon, lat), "shelter": _shelter(walk, lon, lat, speed)}


@router.get("/{city_id}/hazard-simulation", dependencies=[requires(Role.ANONYMOUS)])
def hazard_simulation(city_id: str, request: Request) -> dict[str, Any]:
    """The city's latest finished simulated flood (a simulation, not an official map): its title and
    a picture of the maximum depth in MLIT colours over a lon/lat rectangle; ``simulation`` is null
    when the city has none (an answer, not an error: the public page asks every time)."""
    city = registry(request).get(city_id)
    try:
        job, tif = _latest_simulation(request, city)
    except Problem:
        return {"simulation": None}
    _, rectangle = _picture(job.id, tif)
    return {"simulation": {"kind": "simulation", "id": job.id, "title": scenario_title(job), "finished": job.finished,
                           "rectangle": rectangle, "image": f"/api/cities/{city.id}/hazard-simulation/{job.id}.png"}}


@router.get("/{city_id}/hazard-simulation/{job_id}.png", dependencies=[requires(Role.ANONYMOUS)],
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def hazard_simulation_png(city_id: str, job_id: str, request: Request) -> Response:
    """The maximum-depth picture of a finished scenario of this city."""
    city = registry(request).get(city_id)
    job, tif = _latest_simulation(request, city, job_id)
    png, _ = _picture(job.id, tif)
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


def _latest_simulation(request: Request, city: City, job_id: str | None = None):
    from twin.server.routes.scenarios import runner  # its job runner is made on first use

    jobs = runner(request)
    job = jobs.get(job_id) if job_id else latest_done(jobs.list(), city.id)
    if job is None or job.city != city.id or job.status != "done":
        raise Problem(404, f"City {city.id!r} has no finished simulated flood"
                           + (f" {job_id!r}." if job_id else "."), "no-simulation")
    tif = jobs.folder(job.id) / "result" / "max_depth.tif"
    if not tif.is_file():
        raise Problem(404, f"Scenario job {job.id!r} has no max_depth.tif.", "no-simulation")
    return job, tif


def _picture(job_id: str, tif) -> tuple[bytes, list[float]]:
    with _area_lock:
        if job_id not in _pictures:
            _pictures[job_id] = max_depth_png(tif)
        return _pictures[job_id]


def legend() -> list[dict[str, Any]]:
    """The MLIT depth classes: index, colour and labels."""
    return [{"depth_class": k, "colour": colour, "label_ja": ja, "label_en": en}
            for k, (colour, ja, en) in enumerate(zip(CLASS_COLOURS, CLASS_LABELS_JA, CLASS_LABELS_EN))]


def _simulation(request: Request, city: City, lon: float, lat: float) -> dict[str, Any] | None:
    from twin.server.routes.scenarios import runner  # its job runner is made on first use

    jobs = runner(request)
    job = latest_done(jobs.list(), city.id)
    if job is None:
        return None
    tif = jobs.folder(job.id) / "result" / "max_depth.tif"
    depth = max_depth_at(tif, lon, lat) if tif.is_file() else None
    k = depth_class_of_depth(depth) if depth is not None and depth >= 0.01 else None
    return {"kind": "simulation", "id": job.id, "title": scenario_title(job), "finished": job.finished,
            "max_depth_m": None if depth is None else round(depth, 3), "depth_class": k,
            "colour": CLASS_COLOURS[k] if k is not None else None, "frames": f"/api/scenarios/{job.id}/frames"}


def _shelter(walk: ShelterWalk, lon: float, lat: float, speed: float) -> dict[str, Any] | None:
    answer = walk.nearest(lon, lat)
    if answer is None:
        return None
    s = answer.shelter
    return {"id": s.id, "name": s.name, "name_en": s.name_en, "lon": s.lon, "lat": s.lat, "capacity": s.capacity,
            "distance_m": round(answer.distance_m, 1), "straight_m": round(answer.straight_m, 1),
            "walking_speed_m_s": speed, "walk_time_s": round(answer.distance_m / speed, 1),
            "route": {"type": "LineString", "coordinates": answer.route}}
