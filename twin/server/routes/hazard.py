"""The public hazard map's API: official inundation areas, what is known at one point, and the
building footprints the map draws.

All routes are anonymous. A city's hazard areas, footprints and shelter walking field are built on
first use and cached on the ``City`` object (a changed manifest makes a new City, so the
caches go with the old one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from twin import depth_classes
from twin.city.hazard_areas import LAYERS, area_properties, feature_collection
from twin.hazardmap.building_depths import official_verdict
from twin.hazardmap.published_forecast import PublishedForecast, published_forecast
from twin.hazardmap.shelter_walk import WALKING_SPEED_M_S, ShelterWalk, WalkAnswer
from twin.hazardmap.simulated_depth import latest_done, max_depth_at, scenario_title
from twin.scenarios.jobs import Job
from twin.server.app_state import Cities, HazardMapCache, Jobs, Nowcasts
from twin.server.auth import Role, requires
from twin.server.cities import City
from twin.server.problems import Problem
from twin.server.routes.cities import parse_bbox

router = APIRouter(prefix="/api/cities", tags=["hazard"])
Layer = Literal["fld", "tnm", "htd", "ifld", "rfld"]


@router.get("/{city_id}/hazards", dependencies=[requires(Role.ANONYMOUS)],
            responses={200: {"content": {"application/geo+json": {}}}})
def list_hazards(
    city_id: str,
    cities: Cities,
    maps: HazardMapCache,
    layer: Annotated[Layer | None, Query(description="fld river, tnm tsunami, htd high tide, ifld inland, "
                                                     "rfld reservoir; all layers when omitted")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees (lon/lat)")] = None,
) -> JSONResponse:
    """Official inundation areas as GeoJSON (simplified lon/lat) with MLIT depth classes and colours;
    an empty collection for a City without area maps (many downloads carry only the buildings, whose
    own depths ``hazard-at`` answers with)."""
    city = cities.get(city_id)
    maps.warm(city)
    box = parse_bbox(bbox)
    body = feature_collection(maps.areas(city).select(layer, box)) if city.folder.has("hazards") \
        else {"type": "FeatureCollection", "numberMatched": 0, "features": []}
    body["legend"] = legend()
    return JSONResponse(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=300"})


@router.get("/{city_id}/hazard-layers", dependencies=[requires(Role.ANONYMOUS)])
def hazard_layers(city_id: str, cities: Cities, maps: HazardMapCache) -> dict[str, Any]:
    """Which official hazard layers the City has (``layers``: each with its scales and number of
    areas) out of all PLATEAU's (``all``), so that a client offers only those."""
    city = cities.get(city_id)
    present: list[dict[str, Any]] = []
    if city.folder.has("hazards"):
        frame = maps.areas(city).frame
        for name, group in frame.groupby("layer", sort=False):
            scales = sorted({s for s in group["scale"] if isinstance(s, str)})
            present.append({"layer": str(name), "scales": scales, "areas": len(group)})
    order = {name: k for k, name in enumerate(LAYERS)}
    return {"layers": sorted(present, key=lambda p: order.get(p["layer"], len(order))), "all": list(LAYERS)}


@router.get("/{city_id}/footprints", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def footprints(city_id: str, request: Request, cities: Cities, maps: HazardMapCache) -> Response:
    """Every building's footprint ring and height as compact integer lists (decimetres about the city
    centre), for maps drawn without 3D Tiles; see ``twin.hazardmap.footprints``."""
    plain, gzipped = maps.footprints(cities.get(city_id))
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(gzipped, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, media_type="application/json", headers=headers)


@router.get("/{city_id}/map-layers", dependencies=[requires(Role.ANONYMOUS)], response_class=Response,
            responses={200: {"content": {"application/geo+json": {}}}})
def map_layers(city_id: str, request: Request, cities: Cities, maps: HazardMapCache) -> Response:
    """The City's roads, water bodies (each with the name it is shown by and that name's source) and
    bridges as GeoJSON (simplified lon/lat), with the rivers its hazard layers name; empty for the
    layers its data lacks (``layers`` lists those it has). See ``twin.hazardmap.map_layers``."""
    plain, gzipped = maps.map_layers(cities.get(city_id))
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(gzipped, media_type="application/geo+json", headers={**headers, "Content-Encoding": "gzip"})
    return Response(plain, media_type="application/geo+json", headers=headers)


@router.get("/{city_id}/hazard-at", dependencies=[requires(Role.ANONYMOUS)])
def hazard_at(
    city_id: str,
    cities: Cities,
    maps: HazardMapCache,
    jobs: Jobs,
    nowcasts: Nowcasts,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude, degrees")],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude, degrees")],
    speed: Annotated[float, Query(gt=0.2, le=2.0, description="walking speed, m/s")] = WALKING_SPEED_M_S,
) -> dict[str, Any]:
    """What the City knows at a point, each answer labelled with its source: the official hazard
    areas holding it (``official``, per layer and scale); for layers no area covers there, the
    official depths PLATEAU records on the building there or on the buildings nearby
    (``buildings``); ``verdict`` sums it up (``in-area``, ``building-attributes``,
    ``outside-areas``, ``no-data``). Then the latest simulated maximum depth, the published
    forecast's predicted maximum depth (``forecast``, labelled 予測 / forecast with its issue and
    valid-until times; no depth once expired), and the nearest flood shelter with the walking
    distance, time and route over the streets (buildings impassable).
    A place outside the City's grid is a 404 ``outside-city``."""
    city = cities.get(city_id)
    walk = maps.walk(city)
    here = walk.map_xy(lon, lat)
    if here is None or walk.cell_of(lon, lat) is None:
        west, south, east, north = walk.lonlat_bounds()
        raise Problem(404, f"({lon}, {lat}) is outside this city ({city_id!r}): its map covers longitude "
                           f"{west:.4f}–{east:.4f}, latitude {south:.4f}–{north:.4f}.", "outside-city")
    area_layers: list[str] = []
    official: list[dict[str, Any]] = []
    if city.folder.has("hazards"):
        areas = maps.areas(city)
        area_layers = sorted(set(areas.frame["layer"]))
        official = [{**area_properties(row._asdict()), "source": "hazard-area"}
                    for row in areas.at(lon, lat).itertuples(index=False)]
    deepest: dict[str, dict] = {}
    for area in official:
        deepest.setdefault(area["layer"], area)  # rows come deepest first
    depths = maps.building_depths(city) if city.folder.has("buildings") else None
    buildings = depths.at(*here) if depths is not None else None
    known = official_verdict(official, buildings, area_layers)
    return {"lon": lon, "lat": lat, "official": official, "deepest_by_layer": deepest, **known,
            "data": {"area_layers": area_layers, "building_attributes": bool(depths and depths.has_risks)},
            "simulation": _simulation(jobs, city, lon, lat), "forecast": _forecast_at(nowcasts, city, lon, lat),
            **_shelter(city, walk, lon, lat, speed)}


@router.get("/{city_id}/hazard-simulation", dependencies=[requires(Role.ANONYMOUS)])
def hazard_simulation(city_id: str, cities: Cities, maps: HazardMapCache, jobs: Jobs) -> dict[str, Any]:
    """The city's latest finished simulated flood (a simulation, not an official map): its title and
    a picture of the maximum depth in MLIT colours over a lon/lat rectangle; ``simulation`` is null
    when the city has none (an answer, not an error: the public page asks every time)."""
    city = cities.get(city_id)
    try:
        job = _latest_simulation(jobs, city)
    except Problem:
        return {"simulation": None}
    picture = _picture(maps, jobs, city, job)
    return {"simulation": {"kind": "simulation", "id": job.id, "title": scenario_title(job), "finished": job.finished,
                           "rectangle": picture.rectangle,
                           "image": f"/api/cities/{city.id}/hazard-simulation/{job.id}.png"}}


@router.get("/{city_id}/hazard-simulation/{job_id}.png", dependencies=[requires(Role.ANONYMOUS)],
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def hazard_simulation_png(city_id: str, job_id: str, cities: Cities, maps: HazardMapCache, jobs: Jobs) -> Response:
    """The maximum-depth picture of a finished scenario of this city."""
    city = cities.get(city_id)
    picture = _picture(maps, jobs, city, _latest_simulation(jobs, city, job_id))
    return Response(picture.png, media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{city_id}/hazard-forecast", dependencies=[requires(Role.ANONYMOUS)])
def hazard_forecast(city_id: str, cities: Cities, maps: HazardMapCache, nowcasts: Nowcasts) -> dict[str, Any]:
    """The forecast City staff published (a forecast, not an official map): label 予測 / forecast,
    issue time, valid-until time, ``status`` ``current`` or ``expired``, and while current a
    picture of the predicted maximum depth in MLIT colours over a lon/lat rectangle;
    ``forecast`` is null when none is published."""
    city = cities.get(city_id)
    shown = _published(nowcasts, city)
    if shown is None:
        return {"forecast": None}
    body = shown.public()
    if shown.current:
        body["rectangle"] = maps.forecast_picture(city, shown.stamp, shown.max_depth_tif).rectangle
    return {"forecast": body}


@router.get("/{city_id}/hazard-forecast/{stamp}.png", dependencies=[requires(Role.ANONYMOUS)],
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def hazard_forecast_png(city_id: str, stamp: str, cities: Cities, maps: HazardMapCache, nowcasts: Nowcasts) -> Response:
    """The predicted maximum depth picture of the published forecast, while it is current."""
    city = cities.get(city_id)
    shown = _published(nowcasts, city)
    if shown is None or shown.stamp != stamp or not shown.current:
        raise Problem(404, f"City {city.id!r} has no current published forecast {stamp!r}.", "no-forecast")
    picture = maps.forecast_picture(city, stamp, shown.max_depth_tif)
    return Response(picture.png, media_type="image/png", headers={"Cache-Control": "public, max-age=300"})


def _published(nowcasts: Nowcasts, city: City) -> PublishedForecast | None:
    return published_forecast(nowcasts.folder(city.id), datetime.now(UTC))


def _forecast_at(nowcasts: Nowcasts, city: City, lon: float, lat: float) -> dict[str, Any] | None:
    shown = _published(nowcasts, city)
    return shown.at(lon, lat) if shown is not None else None


def _latest_simulation(jobs: Jobs, city: City, job_id: str | None = None) -> Job:
    job = jobs.get(job_id) if job_id else latest_done(jobs.list(), city.id)
    if job is None or job.city != city.id or job.status != "done":
        raise Problem(404, f"City {city.id!r} has no finished simulated flood"
                           + (f" {job_id!r}." if job_id else "."), "no-simulation")
    if not (jobs.files(job.id).result / "max_depth.tif").is_file():
        raise Problem(404, f"Scenario job {job.id!r} has no max_depth.tif.", "no-simulation")
    return job


def _picture(maps: HazardMapCache, jobs: Jobs, city: City, job: Job):
    files = jobs.files(job.id)
    return maps.simulated_picture(city, job.id, files.result / "max_depth.tif", files.wet_depth())


def legend() -> list[dict[str, Any]]:
    """The MLIT depth classes: API index (``depth_class``), colour and labels."""
    return [{"depth_class": depth_classes.api_class(c.rank), "colour": c.colour, "label_ja": c.label_ja,
             "label_en": c.label_en} for c in depth_classes.CLASSES]


def _simulation(jobs: Jobs, city: City, lon: float, lat: float) -> dict[str, Any] | None:
    job = latest_done(jobs.list(), city.id)
    if job is None:
        return None
    files = jobs.files(job.id)
    tif = files.result / "max_depth.tif"
    depth = max_depth_at(tif, lon, lat) if tif.is_file() else None
    rank = int(depth_classes.rank_of_depth(depth, files.wet_depth())) if depth is not None else 0
    k = depth_classes.api_class(rank)
    return {"kind": "simulation", "id": job.id, "title": scenario_title(job), "finished": job.finished,
            "max_depth_m": None if depth is None else round(depth, 3), "depth_class": k,
            "colour": depth_classes.of_rank(rank).colour if rank else None,
            "frames": f"/api/scenarios/{job.id}/frames"}


def _shelter(city: City, walk: ShelterWalk, lon: float, lat: float, speed: float) -> dict[str, Any]:
    """``shelter``: the nearest flood shelter on foot, else (none reachable on foot) the nearest one
    outside the walkable grid by straight line; ``shelters_off_grid``: shelters outside the grid
    nearer in a straight line than that walk; ``shelter_status`` says why there is none."""
    if not walk.shelters:
        status = "no-shelter-list" if not city.folder.has("shelters") else "no-flood-shelter"
        return {"shelter": None, "shelters_off_grid": [], "shelter_status": status}
    walked = walk.nearest(lon, lat)
    off_grid = walk.off_grid_nearer(lon, lat, walked.distance_m if walked else None)
    if walked is None and not off_grid:
        return {"shelter": None, "shelters_off_grid": [], "shelter_status": "none-reachable"}
    first = walked or off_grid.pop(0)
    return {"shelter": _shelter_json(first, speed), "shelters_off_grid": [_shelter_json(a, speed) for a in off_grid],
            "shelter_status": "walk" if walked else "straight-line"}


def _shelter_json(answer: WalkAnswer, speed: float) -> dict[str, Any]:
    s, walked = answer.shelter, answer.distance_m
    return {"id": s.id, "name": s.name, "name_en": s.name_en, "lon": s.lon, "lat": s.lat, "capacity": s.capacity,
            "basis": "walk" if walked is not None else "straight-line",
            "distance_m": round(walked, 1) if walked is not None else None,
            "straight_m": round(answer.straight_m, 1), "walking_speed_m_s": speed,
            "walk_time_s": round(walked / speed, 1) if walked is not None else None,
            "route": {"type": "LineString", "coordinates": answer.route} if answer.route else None,
            "note": None if walked is not None else "outside-walkable-grid"}
