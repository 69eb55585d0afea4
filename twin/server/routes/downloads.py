"""Downloads of a City's data as files (GeoPackage, CityJSON, GeoJSON, CSV) and of a flood as a COG.

Made on first request from the City's tables (``twin.opendata.exports``) and kept until the
City or its finished scenarios change (``twin.server.open_data.Downloads``). Open to all, like
the data they hold; footfall is not among them (it is published only as aggregates).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from twin.opendata import licence
from twin.opendata.catalog import COG
from twin.opendata.cog import write_cog
from twin.opendata.exports import CSVW_SUFFIX
from twin.server.app_state import Cities, Jobs, Published
from twin.server.auth import Role, requires
from twin.server.open_data import version
from twin.server.problems import Problem
from twin.server.routes.scenarios import job_of

router = APIRouter(tags=["downloads"])
CACHE_CONTROL = "public, max-age=300"
CSVW_MEDIA_TYPE = "application/csvm+json"
MAX_DEPTH = "max-depth.tif"


def _headers(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": CACHE_CONTROL,
            "Link": f'<{licence.LICENCE_URL}>; rel="license"'}


@router.get("/api/cities/{city_id}/downloads", dependencies=[requires(Role.ANONYMOUS)])
def list_downloads(city_id: str, request: Request, cities: Cities, jobs: Jobs, published: Published) -> dict[str, Any]:
    """The files offered for the City: name, format, media type, the collection each holds, URL."""
    city = cities.get(city_id)
    offered = published.downloads.offered(city, published.collections(city, jobs))
    base = str(request.base_url).rstrip("/")
    return {"downloads": [{"name": d.name, "format": d.format.name, "media_type": d.format.media_type,
                           "collection": d.collection, "href": f"{base}/api/cities/{city_id}/downloads/{d.name}"}
                          for d in offered.values()], **licence.attribution(city.manifest).notice()}


@router.get("/api/cities/{city_id}/downloads/{name}", dependencies=[requires(Role.ANONYMOUS)],
            response_class=FileResponse,
            responses={200: {"content": {"application/geopackage+sqlite3": {}, "application/geo+json": {},
                                         "text/csv": {}, "application/city+json": {}, CSVW_MEDIA_TYPE: {}}}})
def get_download(city_id: str, name: str, request: Request, cities: Cities, jobs: Jobs,
                 published: Published) -> FileResponse:
    """One file (made on first request; a large City's GeoPackage takes a while the first time)."""
    city = cities.get(city_id)
    offered = published.downloads.offered(city, published.collections(city, jobs))
    stamp = version(city, jobs)
    if name.endswith(CSVW_SUFFIX) and name[:-len(CSVW_SUFFIX)] in offered:
        path = published.downloads.sidecar(city, stamp, offered[name[:-len(CSVW_SUFFIX)]])
        return FileResponse(path, media_type=CSVW_MEDIA_TYPE, headers=_headers(name))
    download = offered.get(name)
    if download is None:
        raise Problem(404, f"City {city_id!r} offers no download {name!r}; see /api/cities/{city_id}/downloads.",
                      "not-found")
    headers = _headers(name)
    if name.endswith(".csv"):
        headers["Link"] += f', <{request.url}{CSVW_SUFFIX}>; rel="describedby"; type="{CSVW_MEDIA_TYPE}"'
    media_type = download.format.media_type + ("; charset=utf-8" if name.endswith(".csv") else "")
    return FileResponse(published.downloads.file(city, stamp, download), media_type=media_type, headers=headers)


@router.get(f"/api/scenarios/{{job_id}}/downloads/{MAX_DEPTH}", dependencies=[requires(Role.ANONYMOUS)],
            response_class=FileResponse, responses={200: {"content": {"image/tiff": {}}}})
def max_depth_cog(job_id: str, cities: Cities, jobs: Jobs, published: Published) -> FileResponse:
    """A finished scenario's maximum depth (m) as a Cloud-Optimized GeoTIFF in the City's plane CRS."""
    job = job_of(jobs, job_id)
    files = jobs.files(job.id)
    grid = files.result / "max_depth.tif"
    if job.status != "done" or not grid.is_file():
        raise Problem(404, f"Scenario job {job_id!r} has no finished maximum depth.", "not-found")
    out = files.folder / "downloads" / MAX_DEPTH
    out.parent.mkdir(exist_ok=True)
    title = (job.scenario or {}).get("name") or job.id
    credit = licence.attribution(cities.get(job.city).manifest)
    published.downloads.ensure(out, lambda path: write_cog(grid, path, f"{title}: maximum depth (m)", credit))
    return FileResponse(out, media_type=COG.media_type, headers=_headers(f"{job.id}-{MAX_DEPTH}"))
