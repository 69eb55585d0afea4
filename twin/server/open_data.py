"""What the server publishes as open data: each City's collections (cached), pages, and downloads.

A City's collections are listed once per version of its manifest and set of finished
scenario jobs (listing reads the hazard table's layer and scale columns); the selector keeps
each file's bounds index and the latest selections (``twin.opendata.tables.Selector``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from twin.city.layout import MANIFEST
from twin.hazardmap.simulated_depth import scenario_title
from twin.nowcast.folder import NowcastFolder
from twin.opendata import exports, licence
from twin.opendata.catalog import (
    CITYJSON,
    COG,
    CSV,
    GEOJSON,
    GPKG,
    JSON,
    RESTRICTED,
    THEME_ENVIRONMENT,
    THEME_REGIONS,
    TILES,
    Catalogue,
    Dataset,
    Distribution,
    Format,
    Service,
)
from twin.opendata.cityjson import source_datasets, write_cityjson
from twin.opendata.collections import Collection, ScenarioRun, city_collections
from twin.opendata.sensor_stations import StreamInfo, datastreams
from twin.opendata.tables import Selector
from twin.scenarios.jobs import JobRunner
from twin.sensors.footfall_areas import areas_path
from twin.sensors.times import parse_moment
from twin.server.cities import City, CityRegistry
from twin.server.settings import Settings
from twin.store.database import Store

#: Cities whose collection lists are kept.
_CITIES = 16


class OpenData:
    """Per-city collection lists and the selector of pages."""

    def __init__(self, data_dir: Path) -> None:
        self.selector = Selector()
        self.downloads = Downloads(data_dir)
        self._lists: OrderedDict[str, tuple[tuple, list[Collection]]] = OrderedDict()
        self._lock = threading.Lock()

    def collections(self, city: City, jobs: JobRunner) -> list[Collection]:
        """The City's layers and finished scenarios (the database-backed ones are added by the routes)."""
        runs = finished_runs(city, jobs)
        stamp = ((city.folder.path / MANIFEST).stat().st_mtime_ns, tuple(r.id for r in runs))
        with self._lock:
            cached = self._lists.get(city.id)
            if cached is not None and cached[0] == stamp:
                self._lists.move_to_end(city.id)
                return cached[1]
        found = city_collections(city.folder, runs)
        with self._lock:
            self._lists[city.id] = (stamp, found)
            while len(self._lists) > _CITIES:
                self._lists.popitem(last=False)
        return found


def finished_runs(city: City, jobs: JobRunner) -> list[ScenarioRun]:
    """The City's scenario jobs that finished with a per-building result, oldest first."""
    runs = []
    for job in sorted(jobs.list(), key=lambda j: j.finished or ""):
        result = jobs.files(job.id).result
        if job.city != city.id or job.status != "done" or not (result / "buildings.parquet").is_file():
            continue
        title = scenario_title(job)
        runs.append(ScenarioRun(job.id, title.get("ja") or job.id, title.get("en") or title.get("ja") or job.id,
                                job.finished, result))
    return runs


# -- downloads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Download:
    """A file the server offers for a City: its name, format and how it is made."""

    name: str
    format: Format
    collection: str | None  # the collection it holds (None: the whole City)
    make: Callable[[Path], object]


class Downloads:
    """Export files made on first request into ``DATA_DIR/exports/<city>/<version>/`` and kept there.

    A City's version is its manifest's modification time and its finished scenario jobs; a new
    version's folder replaces the old ones. One lock per file: a second request waits for the
    first to finish writing, then both serve the same file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "exports"
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def offered(self, city: City, collections: list[Collection]) -> dict[str, Download]:
        """Every download of the City by file name."""
        exportable = [c for c in collections if c.table is not None and c.table.num_rows > 0]
        found: dict[str, Download] = {}
        if exportable:
            found[f"{city.id}.gpkg"] = Download(f"{city.id}.gpkg", GPKG, None,
                                                lambda out: exports.write_gpkg(exportable, out))
        if city.folder.has("buildings") and source_datasets(city.folder):
            name = f"{city.id}-buildings.city.json"
            found[name] = Download(name, CITYJSON, "buildings", lambda out: write_cityjson(city.folder, out))
        for collection in exportable:
            stem = f"{city.id}-{collection.id}"
            found[f"{stem}.geojson"] = Download(f"{stem}.geojson", GEOJSON, collection.id,
                                                functools.partial(exports.write_geojson, collection))
            found[f"{stem}.csv"] = Download(f"{stem}.csv", CSV, collection.id,
                                            functools.partial(exports.write_csv, collection))
        return found

    def file(self, city: City, version: str, download: Download) -> Path:
        """The download's file, made now if this version of the City does not have it yet."""
        folder = self.root / city.id / version
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            for old in (self.root / city.id).iterdir():
                if old.is_dir() and old.name != version:
                    shutil.rmtree(old, ignore_errors=True)
        return self.ensure(folder / download.name, download.make)

    def ensure(self, path: Path, make: Callable[[Path], object]) -> Path:
        """``path``, made by ``make(path)`` unless it exists; concurrent requests for it wait for one maker."""
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            if not path.is_file():
                make(path)
        return path

    def sidecar(self, city: City, version: str, download: Download) -> Path:
        """The CSVW metadata file written beside a CSV download."""
        csv = self.file(city, version, download)
        return csv.with_name(csv.name + exports.CSVW_SUFFIX)


def version(city: City, jobs: JobRunner) -> str:
    """A name for the City's current state: its manifest's time and its finished scenario jobs."""
    stamp = (city.folder.path / MANIFEST).stat().st_mtime_ns
    runs = ",".join(r.id for r in finished_runs(city, jobs))
    return f"{stamp}-{hashlib.sha256(runs.encode()).hexdigest()[:12]}"


# -- the catalogue ----------------------------------------------------------------------------


def catalogue(base: str, cities: CityRegistry, jobs: JobRunner, published: OpenData, store: Store,
              settings: Settings) -> Catalogue:
    """Every dataset and API of the server, at ``base`` (its public URL)."""
    datasets: list[Dataset] = []
    services: list[Service] = []
    for city_id in cities.ids():
        city = cities.get(city_id)
        collections = published.collections(city, jobs)
        offered = published.downloads.offered(city, collections)
        city_sets = _city_datasets(base, city, collections, offered, jobs)
        datasets += city_sets
        if areas_path(settings.data_dir, city.id).is_file():
            datasets.append(_footfall_dataset(base, city))
        forecast = _forecast_dataset(base, city, NowcastFolder(settings.data_dir, city.id))
        if forecast is not None:
            datasets.append(forecast)
        services.append(Service(f"ogcapi-{_name(city.id)}", f"OGC API – Features: {_title(city)}",
                                "The City's layers, scenario results and footfall aggregates as feature collections "
                                "(GeoJSON; CRS84, EPSG:6668, EPSG:6697; CQL2 filters).", f"{base}/ogcapi/{city.id}",
                                f"{base}/openapi.json", OGC_FEATURES, tuple(d.id for d in city_sets)))
    with store.session() as session:
        streams = datastreams(session)
    sensor_sets = [_stream_dataset(base, s) for s in streams]
    datasets += sensor_sets
    everything = tuple(d.id for d in datasets)
    services += [
        Service("rest", "machi-twin REST API", "The twin's own API: cities, buildings, hazards, scenarios, footfall. "
                "Each operation's x-roles lists who may call it.", f"{base}/api/cities", f"{base}/openapi.json",
                OPENAPI_STANDARD, everything),
        Service("sensorthings", "OGC SensorThings API 1.1", "Sensor observations (an API key is needed to read).",
                f"{base}/sta/v1.1", None, SENSORTHINGS, tuple(d.id for d in sensor_sets), RESTRICTED),
        Service("ngsi", "FIWARE NGSI-v2", "Sensor entities as NGSI-v2 (an API key is needed to read).",
                f"{base}/ngsi/v2/entities", None, NGSI, tuple(d.id for d in sensor_sets), RESTRICTED),
        Service("ckan", "CKAN action API (read)", "package_list, package_show, package_search, organization_list "
                "for open-data portals that harvest CKAN.", f"{base}/ckan/api/3/action/package_list", None, None,
                everything),
    ]
    modified = max((d.modified for d in datasets), default=datetime.now(UTC).replace(microsecond=0))
    return Catalogue(base, settings.catalog_title, settings.catalog_publisher, modified, tuple(datasets),
                     tuple(services), settings.catalog_contact)


OGC_FEATURES = "http://www.opengis.net/doc/IS/ogcapi-features-1/1.0"
OPENAPI_STANDARD = "https://spec.openapis.org/oas/v3.1.0"
SENSORTHINGS = "http://www.opengis.net/doc/is/sensorthings/1.1"
NGSI = "https://fiware.github.io/specifications/ngsiv2/stable/"


def _name(text: str) -> str:
    """A CKAN package name: lower-case letters, digits, ``-`` and ``_``."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:100] or "x"


def _title(city: City) -> str:
    return str(city.manifest.get("name") or city.id)


def _bbox(city: City) -> tuple[float, float, float, float] | None:
    box = city.manifest.get("bbox")
    return tuple(float(v) for v in box) if isinstance(box, list) and len(box) == 4 else None  # type: ignore[return-value]


#: Layers also under the EU data theme "Environment" (hazards, water).
_ENVIRONMENT = frozenset({"hazards", "water"})
#: Manifest counts named in a City's description (a City lacking a kind leaves it out).
_COUNTED = (("buildings", "建築物"), ("roads", "道路"), ("hazard_areas", "浸水想定区域"), ("water_bodies", "水部"),
            ("land_use_areas", "土地利用"), ("bridges", "橋梁"), ("other_features", "その他の地物"))


#: How each kind of input is named in a City's provenance (the manifest's ``inputs``).
_INPUT_KINDS = {"plateau": "PLATEAU CityGML dataset", "gsi_dem": "GSI 基盤地図情報 DEM", "raster_dem": "DEM raster"}


def _inputs(manifest: dict) -> str:
    """The City's inputs by kind and folder name (not the server's paths): its PLATEAU sources and DEMs."""
    inputs = manifest.get("inputs")
    named = [f"{_INPUT_KINDS.get(str(i.get('kind')), str(i.get('kind')))} {Path(str(i.get('path'))).name!r}"
             for i in inputs if isinstance(i, dict) and i.get("path")] if isinstance(inputs, list) else []
    return "; ".join(named)


def _city_datasets(base: str, city: City, collections: list[Collection], offered: dict[str, Download],
                   jobs: JobRunner) -> list[Dataset]:
    manifest = city.manifest
    city_set = f"city-{_name(city.id)}"
    created = manifest.get("created")
    modified = datetime.fromisoformat(created) if isinstance(created, str) else \
        datetime.fromtimestamp((city.folder.path / MANIFEST).stat().st_mtime, UTC)
    credit = licence.attribution(manifest)
    iur = ", ".join(map(str, (manifest.get("versions") or {}).get("iur") or [])) or "?"
    provenance = (f"{_inputs(manifest) or repr(_title(city))} (i-UR {iur}), converted by machi-twin "
                  f"{(manifest.get('versions') or {}).get('machi_twin', '')} on {created or modified.isoformat()}. "
                  f"{credit.text}")
    api = f"{base}/ogcapi/{city.id}"
    downloads = f"{base}/api/cities/{city.id}/downloads"
    whole = [Distribution(f"{city_set}-ogcapi", "OGC API – Features", JSON, api, service=f"ogcapi-{_name(city.id)}")]
    if city.folder.file("tileset") is not None:
        whole.append(Distribution(f"{city_set}-3dtiles", "3D Tiles 1.1 (tileset.json)", TILES,
                                  f"{base}/tiles/{city.id}/tileset.json"))
    for download in offered.values():
        if download.collection is None or download.format is CITYJSON:
            whole.append(Distribution(f"{city_set}-{_name(download.name)}", download.name, download.format,
                                      f"{downloads}/{download.name}", f"{downloads}/{download.name}"))
    counts = manifest.get("counts") or {}
    found = [Dataset(city_set, f"{_title(city)} 3D都市モデル（PLATEAU）", f"{_title(city)} 3D city model (PLATEAU)",
                     f"PLATEAU 3D都市モデル {_title(city)}: " + "、".join(
                         f"{name} {counts[key]}" for key, name in _COUNTED if counts.get(key))
                     + "。レイヤ・シミュレーション結果は個別のデータセットとしても掲載。",
                     ("PLATEAU", "3D都市モデル", "CityGML", city.id), modified, tuple(whole), "city", _bbox(city),
                     provenance=provenance, landing_page=f"{base}/catalog#{city_set}", credit=credit)]
    for collection in collections:
        ident = f"{city_set}-{_name(collection.id)}" if not collection.id.startswith("scenario-") \
            else _name(collection.id)
        items = f"{api}/collections/{collection.id}/items"
        parts = [Distribution(f"{ident}-items", f"{collection.title_en} (OGC API items)", GEOJSON, items,
                              service=f"ogcapi-{_name(city.id)}")]
        for download in offered.values():
            if download.collection == collection.id and download.format is not CITYJSON:
                parts.append(Distribution(f"{ident}-{download.format.name.lower()}", download.name, download.format,
                                          f"{downloads}/{download.name}", f"{downloads}/{download.name}"))
        group = "scenario" if collection.id.startswith("scenario-") else "layer"
        themes = (THEME_REGIONS, THEME_ENVIRONMENT) if group == "scenario" or collection.layer.key in _ENVIRONMENT \
            else (THEME_REGIONS,)
        if group == "scenario":
            job = collection.extra["job"]
            parts += [Distribution(f"{ident}-summary", "summary.json", JSON, f"{base}/api/scenarios/{job}/summary.json"),
                      Distribution(f"{ident}-max-depth", "Maximum depth (COG)", COG,
                                   f"{base}/api/scenarios/{job}/downloads/max-depth.tif",
                                   f"{base}/api/scenarios/{job}/downloads/max-depth.tif")]
        keywords = ("PLATEAU", collection.layer.title, *collection.keywords)
        found.append(Dataset(ident, f"{_title(city)}: {collection.title}", f"{_title(city)}: {collection.title_en}",
                             collection.description, tuple(dict.fromkeys(keywords)), collection.updated, tuple(parts),
                             group, collection.bbox or _bbox(city), themes=themes, provenance=provenance,
                             part_of=city_set, landing_page=f"{base}/catalog#{ident}", credit=credit))
    return found


def _footfall_dataset(base: str, city: City) -> Dataset:
    ident = f"footfall-{_name(city.id)}"
    api = f"{base}/ogcapi/{city.id}/collections/footfall/items"
    return Dataset(ident, f"{_title(city)}: 人流（エリア別、k-匿名化）", f"{_title(city)}: footfall per area (k-anonymised)",
                   "People counted per named area by hour and day. Only aggregates are published: hours counting "
                   "fewer than k people and areas with fewer than the minimum number of counters are withheld; no "
                   "counter's own series is published (docs/data-policy.md).", ("footfall", "人流", city.id),
                   datetime.now(UTC).replace(microsecond=0),
                   (Distribution(f"{ident}-items", "Daily totals per area (OGC API items)", GEOJSON, api,
                                 service=f"ogcapi-{_name(city.id)}"),
                    Distribution(f"{ident}-csv", "Hourly totals per area (CSV)", CSV,
                                 f"{base}/api/footfall/{city.id}/hourly.csv",
                                 f"{base}/api/footfall/{city.id}/hourly.csv")),
                   "footfall", _bbox(city), landing_page=f"{base}/catalog#{ident}")


def _forecast_dataset(base: str, city: City, folder: NowcastFolder) -> Dataset | None:
    """The City's latest nowcast forecast (staff only), modified at its issue time; None without one."""
    latest = folder.latest()
    if latest is None:
        return None
    ident = f"forecast-{_name(city.id)}"
    api = f"{base}/api/nowcast/{city.id}/forecasts/latest"
    return Dataset(ident, f"{_title(city)}: 最新の浸水予測（ナウキャスト）", f"{_title(city)}: latest flood forecast (nowcast)",
                   f"The newest forecast of the City's nowcast (issued {latest.get('issued')}, valid to "
                   f"{latest.get('valid_to')}): depth and time to leave per building, shelters at risk, alerts. "
                   "Staff only: the forecast API needs a staff API key or session (docs/forecasting.md).",
                   ("forecast", "nowcast", "浸水予測", city.id), parse_moment(latest["issued"], "issued"),
                   (Distribution(f"{ident}-json", "Latest forecast (JSON API, staff only)", JSON, api,
                                 description="GET with a staff API key; 'latest' is the newest issue."),),
                   "forecast", _bbox(city), access=RESTRICTED, themes=(THEME_REGIONS, THEME_ENVIRONMENT),
                   provenance=f"Computed by machi-twin's nowcast on {_title(city)!r}. "
                              f"{licence.attribution(city.manifest).text}",
                   part_of=f"city-{_name(city.id)}", landing_page=f"{base}/catalog#{ident}",
                   credit=licence.attribution(city.manifest))


def _stream_dataset(base: str, stream: StreamInfo) -> Dataset:
    ident = f"datastream-{stream.id}"
    unit = f" ({stream.unit})" if stream.unit else ""
    return Dataset(ident, f"{stream.name}{unit}", f"{stream.name}{unit}",
                   stream.description or f"{stream.observed_property} observations", ("sensor", stream.observed_property),
                   stream.latest or datetime.now(UTC).replace(microsecond=0),
                   (Distribution(f"{ident}-sta", "SensorThings Observations", JSON,
                                 f"{base}/sta/v1.1/Datastreams({stream.id})/Observations", service="sensorthings"),),
                   "sensors", access=RESTRICTED, landing_page=f"{base}/catalog#{ident}")
