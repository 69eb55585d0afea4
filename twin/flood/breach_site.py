"""Where a river breach goes on a City: on the bank of one of its rivers, not at the sample city's
coordinates.

The rivers are the City's water bodies (``wtr``) by the names ``twin.city.rivers`` gives them. The
operator names a river, or a point (a click), or both, and may name the bank; the breach is a line of
``width_m`` along the river's edge nearest that point (the town's side when no point is given: the edge
nearest the buildings' centre), on the chosen bank if one is named, set landward so that the inflow
enters the ground beside the channel rather than the channel itself: at the landward toe of the levee
when the City's terrain shows one (the ground rises from the water's edge to a crest within
``LEVEE_SEARCH_M`` and falls behind it; the sample's 荒川 breach sits there), else ``SETBACK_M`` off the
water.

A bank is named by the flow, as Japanese river offices do (左岸 left, 右岸 right: looking downstream),
or by the compass side it faces. A water body carries no flow direction, so the flow is read from the
City's measured terrain: downstream is the end whose water's edge lies lower, by at least
``FLOW_DROP_M``; where the terrain cannot tell, the operator is asked for a compass side instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.polygon import orient

from twin.city.grids import CityGrids
from twin.city.layout import ESTIMATED_SOURCES, CityFolder
from twin.city.rivers import named_water
from twin.errors import TwinInputError
from twin.files.rasters import read_grid
from twin.flood.scenario import with_overrides
from twin.lonlat import LONLAT, from_lonlat, to_lonlat

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
#: The banks an operator may name: by the flow (looking downstream) or by the side they face.
BANKS = ("left", "right", "north", "south", "east", "west")
_COMPASS = {"north": (0.0, 1.0), "south": (0.0, -1.0), "east": (1.0, 0.0), "west": (-1.0, 0.0)}
#: How much lower (m) one end of a water body's edge must lie than the other to call it downstream:
#: well above the decimetre noise of a DEM on a water's edge; a lowland river falls 0.1-1 m per km
#: (the sample's 新河岸川 0.5 m/km over its 4 km), so a tile a few km long shows it.
FLOW_DROP_M = 0.3
#: The share of a water body's length, at each end, whose edge heights make that end's height.
END_SHARE = 0.15
#: A stretch of edge belongs to a bank when its outward normal is within 60° of the bank's direction.
FACING_COS = 0.5


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
                 width_m: float = BREACH_WIDTH_M, bank: str | None = None) -> BreachSite:
    """The breach on ``river`` (a water body's name, or the end of one: 荒川 matches 荒川水系荒川) at the
    edge nearest ``near`` (lon, lat), on ``bank`` (one of ``BANKS``) if given; TwinInputError, naming the
    City's rivers, when it cannot tell."""
    if width_m <= 0:
        raise TwinInputError(f"breach width {width_m} m: must be positive")
    if bank is not None and bank not in BANKS:
        raise TwinInputError(f"bank {bank!r}: one of {', '.join(BANKS)}")
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
    if bank is not None:
        target = _on_bank(part, _facing(folder, part, bank, row.shown_name or str(row.gml_id)), target, bank)
    along = edge.project(target)
    on_edge = edge.interpolate(along)
    ahead, behind = (edge.interpolate((along + d) % edge.length) for d in (5.0, -5.0))
    tangent = np.array([ahead.x - behind.x, ahead.y - behind.y])
    tangent /= np.linalg.norm(tangent)
    normal = np.array([-tangent[1], tangent[0]])
    if body.contains(Point(on_edge.x + normal[0], on_edge.y + normal[1])):
        normal = -normal  # landward
    line = _breach_line(body, np.array([on_edge.x, on_edge.y]), tangent, normal, width_m,
                        _setback(folder, np.array([on_edge.x, on_edge.y]), normal))
    back = to_lonlat(folder.local_crs)
    a, b = shapely.get_coordinates(line)[[0, -1]]
    return BreachSite(river=row.shown_name, water_id=str(row.gml_id),
                      line=(back.transform(*a), back.transform(*b)), bank_point=back.transform(on_edge.x, on_edge.y))


def with_breach(data: dict[str, Any], city: CityGrids, river: str | None = None,
                near: tuple[float, float] | None = None, ask: str = "name a river or give a point",
                bank: str | None = None) -> dict[str, Any]:
    """The scenario table ``data`` with its first inflow (the breach) moved onto ``place_breach(river,
    near, bank=bank)`` on ``city``. Given none, ``data`` unchanged, unless it is the built-in river breach
    and its line misses the City's grid: then a TwinInputError listing the City's rivers and saying ``ask``."""
    inflows = data.get("inflows")
    if river is None and near is None and bank is None:
        if data.get("name") == BUILTIN_BREACH and isinstance(inflows, list) and inflows \
                and not _on_grid(city, inflows[0].get("lonlat")):
            names = rivers(city.city)
            where = f"its rivers: {', '.join(names)}" if names else "it has no named rivers"
            raise TwinInputError(f"the built-in river-breach line fits only the sample city, not city "
                                 f"{city.id!r} ({where}): {ask}")
        return data
    if not isinstance(inflows, list) or not inflows or not isinstance(inflows[0], dict):
        raise TwinInputError(f"scenario {data.get('name')!r} has no inflow to place as a breach on a river")
    site = place_breach(city.city, river, near, bank=bank)
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
        return gpd.GeoDataFrame({"gml_id": [], "shown_name": []}, geometry=[], crs=LONLAT)
    hazards = folder.hazards() if folder.has("hazards") else None
    return named_water(gpd.read_parquet(folder.require("water")), hazards, folder)


def _matches(name: str | None, wanted: str) -> bool:
    return name is not None and (name == wanted or name.endswith(wanted) or wanted.endswith(name))


def _facing(folder: CityFolder, part: shapely.Polygon, bank: str, name: str) -> np.ndarray:
    """The unit vector (east, north) that ``bank`` of the water body ``part`` faces, away from the water."""
    if bank in _COMPASS:
        return np.array(_COMPASS[bank])
    flow = _downstream(folder, part, name)
    left = np.array([-flow[1], flow[0]])  # a quarter turn anticlockwise of the flow: the left hand
    return left if bank == "left" else -left


def _downstream(folder: CityFolder, part: shapely.Polygon, name: str) -> np.ndarray:
    """The unit vector along the long axis of ``part`` towards its lower end on the measured terrain."""
    edge = shapely.get_coordinates(part.exterior.segmentize(5.0))
    centred = edge - edge.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]  # the principal axis of the outline
    along = centred @ axis
    span = float(along.max() - along.min())
    heights = _measured_heights(folder, edge)
    ends = [heights[along <= along.min() + END_SHARE * span], heights[along >= along.max() - END_SHARE * span]]
    by_side = "choose the bank by the side it faces (north, south, east or west) instead"
    if any(not np.isfinite(h).any() for h in ends):
        raise TwinInputError(f"cannot tell which way {name} flows: the City has no measured terrain at both "
                             f"of its ends; {by_side}")
    drop = float(np.nanmedian(ends[0]) - np.nanmedian(ends[1]))
    if abs(drop) < FLOW_DROP_M:
        raise TwinInputError(f"cannot tell which way {name} flows: its ends lie {abs(drop):.2f} m apart on the "
                             f"terrain (under {FLOW_DROP_M} m); {by_side}")
    return axis if drop > 0 else -axis


def _measured_heights(folder: CityFolder, points: np.ndarray) -> np.ndarray:
    """The City's terrain at map ``points``, NaN off the grid and where a cell's height is estimated."""
    if not folder.has("terrain"):
        return np.full(len(points), np.nan)
    terrain = folder.terrain()
    data = terrain.data.astype(float)
    if folder.has("terrain_sources"):
        sources = read_grid(folder.require("terrain_sources"), np.float32).data
        data = np.where(np.isin(sources, list(ESTIMATED_SOURCES)), np.nan, data)
    cols, rows = ~terrain.transform @ (points[:, 0], points[:, 1])
    rows, cols = np.floor(rows).astype(int), np.floor(cols).astype(int)
    inside = (rows >= 0) & (rows < data.shape[0]) & (cols >= 0) & (cols < data.shape[1])
    out = np.full(len(points), np.nan)
    out[inside] = data[rows[inside], cols[inside]]
    return out


def _on_bank(part: shapely.Polygon, facing: np.ndarray, target: Point, bank: str) -> Point:
    """The point of ``part``'s edge nearest ``target`` among the stretches that face ``facing``."""
    ring = shapely.get_coordinates(orient(part, 1.0).exterior.segmentize(2.0))  # anticlockwise
    step = np.diff(ring, axis=0)
    length = np.hypot(step[:, 0], step[:, 1])
    keep = length > 0
    step, middle = step[keep] / length[keep, None], ((ring[:-1] + ring[1:]) / 2)[keep]
    outward = np.column_stack([step[:, 1], -step[:, 0]])  # right of an anticlockwise ring: out of the water
    on_bank = middle[outward @ facing >= FACING_COS]
    if not len(on_bank):
        raise TwinInputError(f"the river has no {bank} bank here (no stretch of its edge faces that way); "
                             "choose another bank or give a point")
    k = int(np.argmin(np.hypot(*(on_bank - [target.x, target.y]).T)))
    return Point(on_bank[k])


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
