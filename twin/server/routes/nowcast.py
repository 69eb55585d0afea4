"""``/api/nowcast/{city_id}``: a City's nowcast settings, posted forecasts, cycles, forecasts,
their time left to leave per area, the forecast published to the public map and the
verification (``twin.nowcast``). Settings are an admin's; the rest is staff's. What the public
sees of a published forecast is ``/api/cities/{city_id}/hazard-forecast`` (``twin.hazardmap``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Query, Request
from starlette.concurrency import run_in_threadpool

from twin.hazardmap.published_forecast import is_current
from twin.nowcast.service import NowcastService
from twin.server.app_state import Cities, Nowcasts
from twin.server.auth import Role, requires
from twin.server.problems import Problem

router = APIRouter(prefix="/api/nowcast", tags=["nowcast"])


@router.get("/{city_id}", dependencies=[requires(Role.STAFF)])
def get_nowcast(city_id: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """The City's settings, the issue times of its kept forecasts, the forecasts posted for its
    cycles and the one published to the public map (``stamp``, times, ``by``, ``at``) or null."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    config = folder.config()
    return {"city": city_id, "config": config.to_json() if config is not None else None,
            "forecasts": folder.issued(), "posted": folder.posted(), "published": folder.published()}


@router.put("/{city_id}", dependencies=[requires(Role.ADMIN)])
def configure(city_id: str, cities: Cities, nowcasts: Nowcasts, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Set the City's nowcast: ``rain_gauges``, ``river_gauges`` ([{datastream, datum_m, side |
    breach, width_m, crest_m}]), ``cycle_s``, ``horizon_s``, ``scheme``, ``cell_size_m``,
    ``alert_lead_s``, ``alert_depth_m``, ``output_interval_s``."""
    cities.get(city_id)
    return nowcasts.configure(city_id, body).to_json()


@router.post("/{city_id}/inputs", dependencies=[requires(Role.STAFF)])
def post_inputs(city_id: str, cities: Cities, nowcasts: Nowcasts, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Post a forecast the next cycles use: ``{"rain": {"valid": [...], "mm_per_h": [...]}}`` and/or
    ``{"stage": {"<datastream>": {"valid": [...], "stage_m": [...]}}}`` (valid times ahead of now)."""
    cities.get(city_id)
    return nowcasts.post_forecast(city_id, body)


@router.post("/{city_id}/inputs/rain-grid", dependencies=[requires(Role.STAFF)])
async def post_rain_grid(city_id: str, request: Request, cities: Cities, nowcasts: Nowcasts,
                         valid: Annotated[list[str] | None, Query(
                             description="A GeoTIFF's valid times (ISO 8601 with zone), one per band, repeated "
                                         "or comma-separated; without it, each band's description")] = None,
                         ) -> dict[str, Any]:
    """Post a rain grid forecast (mm/h) the next cycles use in place of a rain series: the body is
    the file itself, a GeoTIFF (one band per valid time) or a CF-NetCDF (a ``time`` × y × x
    variable), within the server's request size limit. Refused (422, nothing kept) when it is
    unreadable, has no CRS or one that does not transform to the City's, misses the City, has
    valid times in the past or not increasing, or negative or missing intensities."""
    cities.get(city_id)
    data = await request.body()
    times = [t.strip() for v in valid for t in v.split(",") if t.strip()] if valid else None
    return await run_in_threadpool(nowcasts.post_rain_grid, city_id, data, times)


@router.post("/{city_id}/cycles", status_code=202, dependencies=[requires(Role.STAFF)])
def request_cycle(city_id: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Ask for a cycle now; the nowcast's thread runs it within a few seconds."""
    cities.get(city_id)
    nowcasts.config(city_id)
    nowcasts.request(city_id)
    return {"city": city_id, "requested": True}


@router.get("/{city_id}/forecasts/{stamp}", dependencies=[requires(Role.STAFF)])
def get_forecast(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """A kept forecast (``latest`` for the newest): issue and valid times, forcing and its labels,
    timeline, buildings and shelters at risk, alerts."""
    cities.get(city_id)
    return nowcasts.folder(city_id).forecast(_stamp(nowcasts, city_id, stamp))


@router.get("/{city_id}/forecasts/{stamp}/buildings", dependencies=[requires(Role.STAFF)])
def forecast_buildings(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts,
                       at_risk_only: bool = True) -> dict[str, Any]:
    """Per building: predicted maximum depth (m), lead times (s after issue) to wet and to the
    alert depth, walking time to the nearest shelter and time left to leave."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    stamp = _stamp(nowcasts, city_id, stamp)
    table = pd.read_parquet(folder.forecasts / stamp / "buildings.parquet")
    if at_risk_only:
        table = table[table["alert_in_s"].notna()].sort_values("alert_in_s")
    rows = table.replace({np.nan: None}).to_dict(orient="records")
    return {"issued": folder.forecast(stamp)["issued"], "count": len(rows), "buildings": rows}


@router.get("/{city_id}/forecasts/{stamp}/depths", dependencies=[requires(Role.STAFF)])
def forecast_depths(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Each building's predicted depth (m) at each output time: ``lead_s`` (the
    timeline's lead times) and per building ``depth_m``, one value per lead time."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    stamp = _stamp(nowcasts, city_id, stamp)
    path = folder.forecasts / stamp / "building_depths.parquet"
    if not path.is_file():
        raise Problem(404, f"forecast {stamp!r} keeps no depths per output time (made by an older version)",
                      "not-found")
    table = pd.read_parquet(path)
    leads = [c for c in table.columns if c != "gml_id"]
    depths = table[leads].to_numpy(np.float64).tolist()
    return {"issued": folder.forecast(stamp)["issued"], "lead_s": [float(c) for c in leads],
            "buildings": [{"gml_id": g, "depth_m": d} for g, d in zip(table["gml_id"].tolist(), depths)]}


def _kept_file(cities: Cities, nowcasts: Nowcasts, city_id: str, stamp: str, name: str, what: str) -> tuple[str, Path]:
    """A forecast's issue time and its file ``name``; 404 when a forecast made by an older version lacks it."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    stamp = _stamp(nowcasts, city_id, stamp)
    path = folder.forecast_file(stamp, name)
    if not path.is_file():
        raise Problem(404, f"forecast {stamp!r} keeps no {what} (made by an older version)", "not-found")
    return folder.forecast(stamp)["issued"], path


@router.get("/{city_id}/forecasts/{stamp}/areas", dependencies=[requires(Role.STAFF)])
def forecast_areas(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Time left to leave per area (the City's named areas, else JIS X 0410 1/4 meshes), least
    first: buildings, those at the alert depth, the least time left (s) and its building, how
    many are too late (< 0 s) and how many have no shelter reachable on foot."""
    issued, path = _kept_file(cities, nowcasts, city_id, stamp, "areas.json", "areas")
    return {"issued": issued, **json.loads(path.read_text(encoding="utf-8"))}


@router.get("/{city_id}/forecasts/{stamp}/roads", dependencies=[requires(Role.STAFF)])
def forecast_roads(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts, all: bool = False) -> dict[str, Any]:
    """The roads the forecast cuts (``all=true``: every road), GeoJSON in lon/lat, soonest cut
    first: ``gml_id``, class and function where the City has them, ``cut_at`` (valid time its
    deepest cell reaches the cut depth, null if never), ``max_depth_m`` and ``area_cut_m2``."""
    issued, path = _kept_file(cities, nowcasts, city_id, stamp, "roads.parquet", "roads")
    table = gpd.read_parquet(path)
    if not all:
        table = table[table["cut_at"].notna()]
    table = table.sort_values(["cut_at", "gml_id"], na_position="last")
    collection = json.loads(table.to_json(na="null", drop_id=True))
    return {"issued": issued, **collection}


@router.post("/{city_id}/forecasts/{stamp}/publish", dependencies=[requires(Role.STAFF)])
def publish_forecast(city_id: str, stamp: str, request: Request, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Publish a kept forecast (``latest`` for the newest) to the public hazard map, in place of
    any published before; one past its valid-until time is refused (409)."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    stamp = _stamp(nowcasts, city_id, stamp)
    forecast = folder.forecast(stamp)
    now = datetime.now(UTC)
    if not is_current(forecast["valid_to"], now):
        raise Problem(409, f"forecast {stamp!r} was valid until {forecast['valid_to']}: publish a current one",
                      "expired")
    return {"published": folder.publish(stamp, request.state.actor, now)}


@router.delete("/{city_id}/forecasts/{stamp}/publish", dependencies=[requires(Role.STAFF)])
def withdraw_forecast(city_id: str, stamp: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Take the published forecast ``stamp`` off the public map; 404 when it is not the published one."""
    cities.get(city_id)
    folder = nowcasts.folder(city_id)
    stamp = _stamp(nowcasts, city_id, stamp)
    record = folder.published()
    if record is None or record["stamp"] != stamp:
        raise Problem(404, f"forecast {stamp!r} of city {city_id!r} is not published", "not-found")
    folder.withdraw()
    return {"withdrawn": record["stamp"]}


@router.get("/{city_id}/verification", dependencies=[requires(Role.STAFF)])
def get_verification(city_id: str, cities: Cities, nowcasts: Nowcasts) -> dict[str, Any]:
    """Every kept forecast scored against the gauges' later readings."""
    cities.get(city_id)
    nowcasts.config(city_id)
    return nowcasts.verification(city_id)


def _stamp(nowcasts: NowcastService, city_id: str, stamp: str) -> str:
    issued = nowcasts.folder(city_id).issued()
    if stamp == "latest":
        if not issued:
            raise Problem(404, f"city {city_id!r} has no forecast yet", "not-found")
        return issued[-1]
    if stamp not in issued:
        raise Problem(404, f"no forecast {stamp!r} for city {city_id!r}", "not-found")
    return stamp

