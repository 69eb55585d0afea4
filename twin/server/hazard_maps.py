"""What the public hazard map serves, built once per city and kept: hazard areas, the buildings'
official depths, the shelter walking field, the footprint block and the pictures of simulated floods
and of the published forecast.

Entries are keyed by the ``City`` object; a changed manifest makes a new ``City`` (see
``CityRegistry``), so the old city's entries go with it.
"""

from __future__ import annotations

import gzip
import json
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from twin.city.hazard_areas import HazardAreas
from twin.depth_classes import WET_DEPTH_M
from twin.hazardmap.building_depths import BuildingDepths
from twin.hazardmap.footprints import Footprints
from twin.hazardmap.map_layers import map_layers
from twin.hazardmap.shelter_walk import ShelterWalk
from twin.hazardmap.simulated_depth import max_depth_picture
from twin.pictures.lonlat_png import LonLatPicture
from twin.server.cities import City
from twin.server.problems import Problem

T = TypeVar("T")


class HazardMaps:
    """The hazard map's per-city values, each computed on first use under its own lock."""

    def __init__(self) -> None:
        self._areas: weakref.WeakKeyDictionary[City, HazardAreas] = weakref.WeakKeyDictionary()
        self._depths: weakref.WeakKeyDictionary[City, BuildingDepths] = weakref.WeakKeyDictionary()
        self._walks: weakref.WeakKeyDictionary[City, ShelterWalk] = weakref.WeakKeyDictionary()
        self._footprints: weakref.WeakKeyDictionary[City, tuple[bytes, bytes]] = weakref.WeakKeyDictionary()
        self._map_layers: weakref.WeakKeyDictionary[City, tuple[bytes, bytes]] = weakref.WeakKeyDictionary()
        self._pictures: dict[tuple[str, str], LonLatPicture] = {}  # (city, job id) → max-depth picture
        self._forecasts: dict[str, tuple[str, LonLatPicture]] = {}  # city → (stamp, its published forecast's picture)
        self._locks = {name: threading.Lock() for name in ("areas", "depths", "walks", "footprints", "map_layers",
                                                           "pictures", "forecasts")}

    @staticmethod
    def _cached(cache, lock: threading.Lock, key, make: Callable[[], T]) -> T:
        with lock:
            if key not in cache:
                cache[key] = make()
            return cache[key]

    def areas(self, city: City) -> HazardAreas:
        """The city's official hazard areas, or a 404 Problem when it has none."""
        def make() -> HazardAreas:
            if not city.folder.has("hazards"):
                raise Problem(404, f"City {city.id!r} has no official hazard areas (no fld/tnm/htd/ifld/rfld "
                                   "in its dataset).", "no-hazards")
            return HazardAreas.from_parquet(city.folder.require("hazards"))
        return self._cached(self._areas, self._locks["areas"], city, make)

    def building_depths(self, city: City) -> BuildingDepths:
        """The city's building footprints with their official flood-risk attributes, indexed."""
        return self._cached(self._depths, self._locks["depths"], city,
                            lambda: BuildingDepths.of_table(city.buildings().frame, city.folder.local_crs))

    def walk(self, city: City) -> ShelterWalk:
        """The city's travel-distance field from its flood shelters (about 1 s per 2 M cells, once)."""
        def make() -> ShelterWalk:
            if not city.folder.has("masks"):
                raise Problem(404, f"City {city.id!r} has no walkable grid (masks.tif); convert it again.",
                              "no-walk-grid")
            return ShelterWalk.of_city(city.folder)
        return self._cached(self._walks, self._locks["walks"], city, make)

    def warm(self, city: City) -> None:
        """Start computing the walking field and the building index in the background so that the
        first tap answers at once."""
        if city not in self._walks and city.folder.has("masks"):
            threading.Thread(target=self._quietly, args=(city,), daemon=True, name="twin-walk").start()

    def _quietly(self, city: City) -> None:
        try:
            self.walk(city)
            if city.folder.has("buildings"):
                self.building_depths(city)
        except Problem:
            pass  # reported to whoever asks for it in a request

    def footprints(self, city: City) -> tuple[bytes, bytes]:
        """The footprint block as JSON, plain and gzipped (compressed once, not per request)."""
        def make() -> tuple[bytes, bytes]:
            centre = city.manifest.get("center")
            block = Footprints.of_table(city.buildings().frame, tuple(centre[:2]) if centre else None)
            body = json.dumps(block.as_json(), separators=(",", ":")).encode()
            return body, gzip.compress(body, compresslevel=6)
        return self._cached(self._footprints, self._locks["footprints"], city, make)

    def map_layers(self, city: City) -> tuple[bytes, bytes]:
        """Roads, water bodies and bridges as GeoJSON (``twin.hazardmap.map_layers``), plain and gzipped."""
        def make() -> tuple[bytes, bytes]:
            body = json.dumps(map_layers(city.folder), ensure_ascii=False, separators=(",", ":")).encode()
            return body, gzip.compress(body, compresslevel=6)
        return self._cached(self._map_layers, self._locks["map_layers"], city, make)

    def forecast_picture(self, city: City, stamp: str, max_depth_tif: Path) -> LonLatPicture:
        """A published forecast's predicted maximum depth as a lon/lat picture (one kept per city)."""
        with self._locks["forecasts"]:
            kept = self._forecasts.get(city.id)
            if kept is None or kept[0] != stamp:
                kept = self._forecasts[city.id] = (stamp, max_depth_picture(max_depth_tif, WET_DEPTH_M))
            return kept[1]

    def simulated_picture(self, city: City, job_id: str, max_depth_tif: Path, wet_m: float) -> LonLatPicture:
        """A finished job's maximum depth as a lon/lat picture."""
        return self._cached(self._pictures, self._locks["pictures"], (city.id, job_id),
                            lambda: max_depth_picture(max_depth_tif, wet_m))
