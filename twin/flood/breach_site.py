"""Where a river breach goes on a City: on the bank of one of its rivers, not at the sample city's
coordinates.

The rivers are the City's water bodies (``wtr``) by the names ``twin.city.rivers`` gives them. The
operator names a river, or a point (a click), or both; the breach is a line of ``width_m`` along the
river's edge nearest that point (the town's side when no point is given: the edge nearest the
buildings' centre), set landward so that the inflow enters the ground beside the channel rather
than the channel itself: at the landward toe of the levee when the City's terrain shows one (the
ground rises from the water's edge to a crest within ``LEVEE_SEARCH_M`` and falls behind it; the
sample's 荒川 breach sits there), else ``SETBACK_M`` off the water.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point

from twin.city.grids import CityGrids
from twin.city.layout import CityFolder
from twin.city.rivers import named_water
from twin.errors import TwinInputError
from twin.flood.scenario import with_overrides
from twin.lonlat import from_lonlat, to_lonlat

#: The built-in scenario whose breach line was placed by hand on the sample city's levee.
BUILTIN_BREACH = "river-breach"
#: How far landward of the water's edge the breach line lies (m): off the channel polygon and its
#: rounding on a 2-4 m grid.
SETBACK_M = 6.0
BREACH_WIDTH_M = 100.0
#: How far landward a levee's crest and toe are looked for (m): Japanese river levees with their
#: berms are some 10-60 m wide at the foot.
LEVEE_SEARCH_M = 80.0
#: A crest at least this much above the water's edge (m) counts as a levee.
LEVEE_RISE_M = 0.5


@dataclass(frozen=True)
class BreachSite:
    """A breach line on a river's bank: ``line`` two lon/lat ends, ``river`` the name it is shown by."""

    river: str | None
    water_id: str
    line: tuple[tuple[float, float], tuple[float, float]]
    bank_point: tuple[float, float]

    def inflow_lonlat(self) -> list[list[float]]:
        """The ends as a scenario file's ``inflows[].lonlat``."""
        return [list(self.line[0]), list(self.line[1])]


def rivers(folder: CityFolder) -> list[str]:
    """The names of the City's water bodies (own or from its hazard layers), each once."""
    water = _water(folder)
    return sorted({n for n in water["shown_name"] if n})


def place_breach(folder: CityFolder, river: str | None = None, near: tuple[float, float] | None = None,
                 width_m: float = BREACH_WIDTH_M) -> BreachSite:
    """The breach on ``river`` (a water body's name, or the end of one: 荒川 matches 荒川水系荒川) at the
    edge nearest ``near`` (lon, lat); TwinInputError, naming the City's rivers, when it cannot tell."""
    if width_m <= 0:
        raise TwinInputError(f"breach width {width_m} m: must be positive")
    water = _water(folder)
    names = sorted({n for n in water["shown_name"] if n})
    if not len(water):
        raise TwinInputError(f"city {folder.id!r} has no water bodies (wtr) to place a river breach on: "
                             "give the breach as a line or a point in the scenario instead")
    local = water.to_crs(folder.local_crs)
    if river is not None:
        chosen = local[[_matches(n, river) for n in local["shown_name"]]]
        if not len(chosen):
            raise TwinInputError(f"city {folder.id!r} has no river {river!r}; its rivers: "
                                 f"{', '.join(names) if names else 'none named'}")
    elif near is not None or len(set(local["shown_name"])) == 1:
        chosen = local
    else:
        raise TwinInputError(f"city {folder.id!r} has several rivers ({', '.join(names)}): "
                             "name one, or give a point near the bank")
    to_map = from_lonlat(folder.local_crs)
    if near is not None:
        target = Point(*to_map.transform(*near))
    else:
        buildings = folder.buildings(folder.local_crs) if folder.has("buildings") else None
        target = buildings.union_all().centroid if buildings is not None and len(buildings) \
            else shapely.union_all(chosen.geometry.to_numpy()).centroid
    k = int(np.argmin(chosen.geometry.distance(target).to_numpy()))
    row = chosen.iloc[k]
    body = row.geometry
    parts = shapely.get_parts(body)
    part = parts[int(np.argmin(shapely.distance(parts, target)))]
    edge = LineString(part.exterior.coords)  # a closed ring: distances along it wrap round
    along = edge.project(target)
    bank = edge.interpolate(along)
    ahead, behind = (edge.interpolate((along + d) % edge.length) for d in (5.0, -5.0))
    tangent = np.array([ahead.x - behind.x, ahead.y - behind.y])
    tangent /= np.linalg.norm(tangent)
    normal = np.array([-tangent[1], tangent[0]])
    if body.contains(Point(bank.x + normal[0], bank.y + normal[1])):
        normal = -normal  # landward
    line = _breach_line(body, np.array([bank.x, bank.y]), tangent, normal, width_m,
                        _setback(folder, np.array([bank.x, bank.y]), normal))
    back = to_lonlat(folder.local_crs)
    a, b = shapely.get_coordinates(line)[[0, -1]]
    return BreachSite(river=row.shown_name, water_id=str(row.gml_id),
                      line=(back.transform(*a), back.transform(*b)), bank_point=back.transform(bank.x, bank.y))


def with_breach(data: dict[str, Any], city: CityGrids, river: str | None = None,
                near: tuple[float, float] | None = None, ask: str = "name a river or give a point") -> dict[str, Any]:
    """The scenario table ``data`` with its first inflow (the breach) moved onto ``place_breach(river,
    near)`` on ``city``. Given neither, ``data`` unchanged, unless it is the built-in river breach and its
    line misses the City's grid: then a TwinInputError listing the City's rivers and saying ``ask``."""
    inflows = data.get("inflows")
    if river is None and near is None:
        if data.get("name") == BUILTIN_BREACH and isinstance(inflows, list) and inflows \
                and not _on_grid(city, inflows[0].get("lonlat")):
            names = rivers(city.city)
            where = f"its rivers: {', '.join(names)}" if names else "it has no named rivers"
            raise TwinInputError(f"the built-in river-breach line fits only the sample city, not city "
                                 f"{city.id!r} ({where}): {ask}")
        return data
    if not isinstance(inflows, list) or not inflows or not isinstance(inflows[0], dict):
        raise TwinInputError(f"scenario {data.get('name')!r} has no inflow to place as a breach on a river")
    site = place_breach(city.city, river, near)
    breach = {k: v for k, v in inflows[0].items() if k != "xy"} | {"lonlat": site.inflow_lonlat()}
    return with_overrides(data, {"inflows": [breach, *inflows[1:]]})


def _on_grid(city: CityGrids, lonlat: Any) -> bool:
    """Whether every position of an inflow's ``lonlat`` (a point or a list of them) is on the grid;
    True for what is not a list of numbers (the scenario's own check names that)."""
    try:
        points = np.atleast_2d(np.asarray(lonlat, dtype=float))
    except (TypeError, ValueError):
        return True
    if points.ndim != 2 or points.shape[1] != 2:
        return True
    xs, ys = city.lonlat_to_map(points[:, 0], points[:, 1])
    rows, cols = city.terrain.shape
    cells = [city.terrain.cell_of(float(x), float(y)) for x, y in zip(np.atleast_1d(xs), np.atleast_1d(ys))]
    return all(0 <= r < rows and 0 <= c < cols for r, c in cells)


def _water(folder: CityFolder) -> gpd.GeoDataFrame:
    if not folder.has("water"):
        return gpd.GeoDataFrame({"gml_id": [], "shown_name": []}, geometry=[], crs="EPSG:6668")
    hazards = folder.hazards() if folder.has("hazards") else None
    return named_water(gpd.read_parquet(folder.require("water")), hazards, folder)


def _matches(name: str | None, wanted: str) -> bool:
    return name is not None and (name == wanted or name.endswith(wanted) or wanted.endswith(name))


def _setback(folder: CityFolder, bank: np.ndarray, normal: np.ndarray) -> float:
    """How far landward of ``bank`` (along ``normal``) the breach goes: the levee's landward toe from
    the terrain (the first point past the crest where the ground stops falling), else ``SETBACK_M``."""
    if not folder.has("terrain"):
        return SETBACK_M
    terrain = folder.terrain()
    step = max(terrain.cell_size, 1.0)
    distances = np.arange(0.0, LEVEE_SEARCH_M + step, step)
    heights = np.full(len(distances), np.nan)
    rows, cols = terrain.shape
    for k, d in enumerate(distances):  # a few dozen samples along one line
        r, c = terrain.cell_of(*(bank + d * normal))
        if 0 <= r < rows and 0 <= c < cols:
            heights[k] = terrain.data[r, c]
    if np.isnan(heights[0]) or np.all(np.isnan(heights[1:])):
        return SETBACK_M
    crest = int(np.nanargmax(heights))
    if heights[crest] - heights[0] < LEVEE_RISE_M:
        return SETBACK_M
    for k in range(crest + 1, len(distances) - 1):
        if not heights[k + 1] < heights[k] - 0.05:  # stopped falling: the toe
            return float(max(distances[k], SETBACK_M))
    return SETBACK_M


def _breach_line(body: shapely.Geometry, bank: np.ndarray, tangent: np.ndarray, normal: np.ndarray,
                 width_m: float, setback: float) -> LineString:
    """A straight line of ``width_m`` along the bank's tangent, ``setback`` landward of ``bank``; halved
    (down to a quarter) where a bend of the river would put its ends in the water."""
    for width in (width_m, width_m / 2, width_m / 4):
        middle = bank + setback * normal
        line = LineString([middle - tangent * width / 2, middle + tangent * width / 2])
        if line.distance(body) >= min(setback, SETBACK_M) * 0.9:
            return line
    raise TwinInputError("the river bends too tightly there to set a breach beside it; give a point elsewhere")
