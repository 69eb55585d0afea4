"""A layer's rows read in batches, and the selection of one page of them.

The City's tables are GeoParquet (lon/lat, WKB geometry). A page is chosen without loading a
table: the rows are streamed in batches of ``BATCH_ROWS`` with only the columns a filter needs,
geometries are parsed only for rows still in question, and a per-file index of feature
bounding boxes (32 bytes a row, built once per file version) answers ``bbox`` before any
geometry is parsed. Then only the batches holding the page's rows are read in full.

Memory per request: one batch, one byte per row for the selection mask and the bounds index;
never the whole table.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from twin.errors import TwinInputError
from twin.lonlat import LONLAT

BATCH_ROWS = 8192
#: EPSG codes of lon/lat CRSs the tables may be written in (JGD2011, WGS 84, JGD2000).
_LONLAT_EPSG = frozenset({6668, 4326, 4612})


@dataclass
class Batch:
    """Rows ``start … start + len(frame)`` of a table: the asked-for columns, and the raw geometry."""

    start: int
    frame: pd.DataFrame
    wkb: np.ndarray  # object array of WKB bytes (None where a row has no geometry)

    def geometries(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Shapely geometries of the batch (or of positions ``rows`` in it)."""
        return shapely.from_wkb(self.wkb if rows is None else self.wkb[rows])


class Table:
    """Rows with lon/lat geometry, read in batches."""

    path: Path
    num_rows: int
    columns: list[str]  # every column but the geometry
    types: dict[str, str]  # JSON Schema type of each scalar column (string, number, integer, boolean)

    def batches(self, columns: Sequence[str], first_row: int = 0, size: int | None = None) -> Iterator[Batch]:
        """Batches of ``columns`` in table order, from the batch holding ``first_row`` on (it may start
        before it), of about ``size`` rows (default ``BATCH_ROWS``)."""
        raise NotImplementedError

    def bounds(self) -> np.ndarray:
        """(num_rows, 4) minx, miny, maxx, maxy of each row's geometry (NaN where it has none)."""
        parts = [shapely.bounds(batch.geometries()) for batch in self.batches([])]
        return np.concatenate(parts) if parts else np.empty((0, 4))


def as_frame(batch: Batch, rows: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """The batch (or its positions ``rows``) as a GeoDataFrame with parsed geometry."""
    frame = batch.frame if rows is None else batch.frame.iloc[rows]
    return gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=batch.geometries(rows), crs=LONLAT)


class ParquetTable(Table):
    """A GeoParquet file, streamed with pyarrow."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            file = pq.ParquetFile(path)
            geo = json.loads((file.schema_arrow.metadata or {})[b"geo"])
        except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
            raise TwinInputError(f"{path}: not a GeoParquet file ({exc})") from None
        self.geometry_column = geo["primary_column"]
        spec = geo["columns"][self.geometry_column]
        if spec.get("encoding", "WKB") != "WKB":
            raise TwinInputError(f"{path}: geometry encoding {spec['encoding']!r}; expected WKB")
        epsg = _epsg(spec.get("crs"))
        if epsg is not None and epsg not in _LONLAT_EPSG:
            raise TwinInputError(f"{path}: geometry in EPSG:{epsg}; the City's tables are lon/lat")
        self.num_rows = file.metadata.num_rows
        self.columns = [name for name in file.schema_arrow.names if name != self.geometry_column]
        self.types = {f.name: t for f in file.schema_arrow if f.name in self.columns
                      and (t := _arrow_type(f.type)) is not None}
        file.close()

    def batches(self, columns: Sequence[str], first_row: int = 0, size: int | None = None) -> Iterator[Batch]:
        """Each call reads the file anew (safe from several threads at once); row groups that end
        before ``first_row`` are skipped unread."""
        wanted = [c for c in columns if c in self.columns] + [self.geometry_column]
        with pq.ParquetFile(self.path) as file:
            yield from self._batches(file, wanted, first_row, size or BATCH_ROWS)

    def _batches(self, file: pq.ParquetFile, wanted: list[str], first_row: int, size: int) -> Iterator[Batch]:
        counts = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
        ends = np.cumsum(counts)
        groups = [g for g in range(len(counts)) if ends[g] > first_row]
        if not groups:
            return
        start = int(ends[groups[0]] - counts[groups[0]])
        for record in file.iter_batches(batch_size=size, columns=wanted, row_groups=groups):
            wkb = record.column(self.geometry_column).to_numpy(zero_copy_only=False)
            frame = record.drop_columns([self.geometry_column]).to_pandas()
            yield Batch(start, frame, wkb)
            start += record.num_rows


class FrameTable(Table):
    """A small table already in memory (a GeoJSON list of shelters): one batch."""

    def __init__(self, path: Path, frame: gpd.GeoDataFrame) -> None:
        self.path = path
        self._frame = frame.reset_index(drop=True)
        self.num_rows = len(frame)
        self.columns = [c for c in frame.columns if c != frame.geometry.name]
        self.types = pandas_types(frame[self.columns])

    def batches(self, columns: Sequence[str], first_row: int = 0, size: int | None = None) -> Iterator[Batch]:
        if self.num_rows:
            wkb = shapely.to_wkb(self._frame.geometry.to_numpy())
            yield Batch(0, pd.DataFrame(self._frame[[c for c in columns if c in self.columns]]), wkb)


class JoinedTable(Table):
    """Rows of ``right`` (a plain table keyed by ``key``) with the geometry of ``left``'s row of the same key.

    A scenario's per-building results carry no geometry; they are published on the City's
    footprints. ``right`` is small per row (numbers) and is held in memory, indexed by key.
    """

    def __init__(self, left: Table, right: pd.DataFrame, key: str) -> None:
        self.path = left.path
        self._left = left
        self._key = key
        self._right = right.drop_duplicates(key).set_index(key)
        self.num_rows = left.num_rows
        self.columns = [key, *self._right.columns]
        self.types = {key: "string", **pandas_types(self._right)}

    def batches(self, columns: Sequence[str], first_row: int = 0, size: int | None = None) -> Iterator[Batch]:
        wanted = [c for c in columns if c in self._right.columns]
        for batch in self._left.batches([self._key], first_row, size):
            keys = batch.frame[self._key]
            joined = self._right.reindex(keys)[wanted].reset_index(drop=True)
            joined.insert(0, self._key, keys.to_numpy())
            yield Batch(batch.start, joined[[c for c in columns if c in self.columns]], batch.wkb)


def _arrow_type(kind: pa.DataType) -> str | None:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "number"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return "string"
    return None


def pandas_types(frame: pd.DataFrame) -> dict[str, str]:
    """JSON Schema types of a frame's scalar columns (lists and objects have none)."""
    found = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            found[str(name)] = "boolean"
        elif pd.api.types.is_integer_dtype(dtype):
            found[str(name)] = "integer"
        elif pd.api.types.is_float_dtype(dtype):
            found[str(name)] = "number"
        elif pd.api.types.infer_dtype(frame[name], skipna=True) in ("string", "empty"):
            found[str(name)] = "string"
    return found


def _epsg(crs: object) -> int | None:
    if crs is None:
        return None  # GeoParquet: a missing crs means OGC:CRS84
    if isinstance(crs, dict):
        ident = crs.get("id") or {}
        return int(ident["code"]) if ident.get("authority") == "EPSG" and "code" in ident else None
    return None


# -- selecting a page ------------------------------------------------------------------------


BatchTest = Callable[[gpd.GeoDataFrame], np.ndarray]


@dataclass(frozen=True)
class Where:
    """What rows a request wants: a lon/lat box, equal column values, and a filter over a frame.

    ``test`` gets a GeoDataFrame of the candidate rows with ``columns`` (and geometry when
    ``spatial``) and returns a boolean array; ``key`` names the whole selection for caching.
    """

    bbox: tuple[float, float, float, float] | None = None
    equals: tuple[tuple[str, str], ...] = ()
    test: BatchTest | None = None
    #: A box every selected row's bounding box meets (a spatial filter's envelope): rows outside it
    #: are dropped from the bounds index before any geometry is parsed.
    within: tuple[float, float, float, float] | None = None
    columns: tuple[str, ...] = ()
    spatial: bool = False
    key: str = ""

    @property
    def everything(self) -> bool:
        return self.bbox is None and not self.equals and self.test is None


@dataclass(frozen=True)
class Page:
    """One page of a selection: how many rows matched in all, and the page's rows."""

    matched: int
    rows: gpd.GeoDataFrame


@dataclass
class _Versioned:
    stamp: tuple[int, int]
    bounds: np.ndarray | None = None
    masks: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)


class Selector:
    """Pages of tables, with each file's bounds index and its latest selections cached.

    The cache holds, per file version (size and modification time), the bounds index and the
    masks of the last ``keep`` selections, so that following ``next`` links does not filter the
    table again for every page.
    """

    def __init__(self, keep: int = 8, files: int = 32) -> None:
        self._keep = keep
        self._files = files
        self._cache: OrderedDict[Path, _Versioned] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, table: Table, where: Where, offset: int, limit: int,
             columns: Sequence[str] | None = None, cache: bool = True) -> Page:
        """Rows ``offset … offset + limit`` (in table order) of those ``where`` selects.

        ``cache=False`` for tables built per request (from the database): nothing is kept.
        """
        if where.everything:
            hits = np.arange(offset, min(offset + limit, table.num_rows))
            matched = table.num_rows
        else:
            boxed = where.bbox is not None or where.within is not None
            mask = self._mask(table, where) if cache else _exact(
                table, where, _candidates(table.bounds(), where) if boxed else np.ones(table.num_rows, bool))
            found = np.flatnonzero(mask)
            matched, hits = len(found), found[offset:offset + limit]
        return Page(matched, take(table, hits, table.columns if columns is None else columns))

    def _mask(self, table: Table, where: Where) -> np.ndarray:
        entry = self._entry(table)
        with self._lock:
            cached = entry.masks.get(where.key) if where.key else None
            bounds = entry.bounds
        if cached is not None:
            return cached
        if bounds is None and (where.bbox is not None or where.within is not None):
            bounds = table.bounds()
            with self._lock:
                entry.bounds = bounds
        mask = _exact(table, where, _candidates(bounds, where) if bounds is not None else np.ones(table.num_rows, bool))
        if where.key:
            with self._lock:
                entry.masks[where.key] = mask
                while len(entry.masks) > self._keep:
                    entry.masks.popitem(last=False)
        return mask

    def _entry(self, table: Table) -> _Versioned:
        """The cache of the file holding ``table``'s geometry, emptied when the file changes.

        A joined table shares its geometry file's bounds; ``Where.key`` names the collection,
        so selections of different collections on one file never mix.
        """
        stat = table.path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            entry = self._cache.get(table.path)
            if entry is None or entry.stamp != stamp:
                entry = self._cache[table.path] = _Versioned(stamp)
            self._cache.move_to_end(table.path)
            while len(self._cache) > self._files:
                self._cache.popitem(last=False)
            return entry


def _candidates(bounds: np.ndarray, where: Where) -> np.ndarray:
    """Rows whose bounding box meets ``where.bbox`` and ``where.within`` (all rows without either)."""
    keep = np.ones(len(bounds), bool)
    for box in (where.bbox, where.within):
        if box is not None:
            west, south, east, north = box
            keep &= (bounds[:, 0] <= east) & (bounds[:, 2] >= west) & (bounds[:, 1] <= north) & (bounds[:, 3] >= south)
    return keep


def _exact(table: Table, where: Where, candidates: np.ndarray) -> np.ndarray:
    """The selection mask: candidates that pass the equalities, the exact box test and the filter."""
    needs_rows = where.equals or where.test is not None or where.bbox is not None
    if not needs_rows:
        return candidates
    columns = list(dict.fromkeys([c for c, _ in where.equals] + list(where.columns)))
    box = shapely.box(*where.bbox) if where.bbox is not None else None
    mask = candidates.copy()
    for batch in table.batches(columns):
        rows = slice(batch.start, batch.start + len(batch.frame))
        keep = mask[rows].copy()
        for column, value in where.equals:
            keep &= (batch.frame[column].astype("string") == value).fillna(False).to_numpy(bool)
        positions = np.flatnonzero(keep)
        if len(positions) and (box is not None or where.test is not None):
            geometries = batch.geometries(positions) if (box is not None or where.spatial) else np.empty(0, object)
            if box is not None:
                inside = shapely.intersects(geometries, box)
                positions, geometries = positions[inside], geometries[inside]
                keep[:] = False
                keep[positions] = True
            if where.test is not None and len(positions):
                frame = batch.frame.iloc[positions].reset_index(drop=True)
                frame = gpd.GeoDataFrame(frame, geometry=geometries if where.spatial else None, crs=LONLAT) \
                    if where.spatial else frame
                passed = np.asarray(where.test(frame), dtype=bool)
                keep[:] = False
                keep[positions[passed]] = True
        mask[rows] = keep
    return mask


def take(table: Table, hits: np.ndarray, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Rows ``hits`` (ascending row numbers) of ``table``: only the batches holding them are parsed."""
    if len(hits) == 0:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=LONLAT)
    frames = []
    last = hits[-1]
    for batch in table.batches(columns, first_row=int(hits[0])):
        end = batch.start + len(batch.frame)
        inside = hits[(hits >= batch.start) & (hits < end)] - batch.start
        if len(inside):
            frames.append(as_frame(batch, inside))
        if end > last:
            break
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=LONLAT)
