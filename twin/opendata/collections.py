"""What a City publishes as feature collections: its layers (``layers.LAYERS``) and scenario results.

A collection is a layer's table, optionally narrowed to equal column values (one hazard and
scale of ``hazards.parquet``), with its title, description, extent and update time. The
footfall and sensor collections come from the database and are built by the server.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.opendata import licence
from twin.opendata.layers import BUILDINGS, LAYERS, SCENARIO_RESULTS, Layer, layer
from twin.opendata.tables import JoinedTable, ParquetTable, Table


@dataclass(frozen=True)
class Collection:
    """One feature collection of a City."""

    id: str
    title: str
    title_en: str
    description: str
    layer: Layer
    table: Table | None  # None: built from the database when read (footfall, sensors)
    bbox: tuple[float, float, float, float] | None
    updated: datetime
    equals: tuple[tuple[str, str], ...] = ()
    keywords: tuple[str, ...] = ()
    #: Whether selections may be cached by file version (not for tables built from the database).
    cacheable: bool = True
    extra: dict = field(default_factory=dict)
    #: What its data credit (``licence.attribution`` of its City).
    credit: licence.Attribution = licence.PLATEAU


@dataclass(frozen=True)
class ScenarioRun:
    """A finished scenario job of the City: its id, titles, finish time and result folder."""

    id: str
    title: str
    title_en: str
    finished: str | None
    result: Path


def scenario_run(folder: Path) -> ScenarioRun:
    """A flood result folder (``twin flood run`` on a City, or a job's ``result/``) as a ScenarioRun."""
    if not (folder / "buildings.parquet").is_file():
        raise TwinInputError(f"{folder}: not a flood result on a City (no buildings.parquet)")
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    scenario = summary.get("scenario") or {}
    title = scenario.get("title") or scenario.get("name") or folder.name
    ja, en = (title.get("ja"), title.get("en")) if isinstance(title, dict) else (str(title), str(title))
    ident = folder.parent.name if folder.name == "result" else folder.name
    return ScenarioRun(_slug(ident), ja or en or ident, en or ja or ident, None, folder)


def city_collections(city: CityFolder, scenarios: list[ScenarioRun] = ()) -> list[Collection]:  # type: ignore[assignment]
    """The City's layers (those it has) and one collection per finished scenario."""
    found: list[Collection] = []
    bbox = _manifest_bbox(city)
    for entry in LAYERS:
        table = entry.open(city)
        if table is None:
            continue
        extent = _parquet_bbox(table) or bbox
        updated = _mtime(table.path)
        if not entry.split_by:
            found.append(Collection(entry.key, entry.title, entry.title_en, entry.description, entry, table,
                                    extent, updated, keywords=(entry.key,)))
            continue
        for values in _distinct(table, entry.split_by):
            found.append(_split(entry, table, values, extent, updated))
    if scenarios and city.has(BUILDINGS):
        buildings = layer(BUILDINGS).open(city)
        assert buildings is not None
        for run in scenarios:
            found.append(scenario_collection(run, buildings, bbox))
    credit = licence.attribution(city.manifest)
    return [replace(c, credit=credit) for c in found]


def scenario_collection(run: ScenarioRun, buildings: Table, bbox: tuple[float, float, float, float] | None) -> Collection:
    """A finished scenario's per-building results on the City's footprints."""
    results = pd.read_parquet(run.result / "buildings.parquet")
    table = JoinedTable(buildings, results, "gml_id")
    entry = SCENARIO_RESULTS
    return Collection(f"scenario-{run.id}", f"{entry.title}: {run.title}", f"{entry.title_en}: {run.title_en}",
                      entry.description, entry, table, bbox, _finished(run), keywords=("simulation", "flood"),
                      extra={"job": run.id})


def _split(entry: Layer, table: Table, values: tuple[str | None, ...], extent, updated: datetime) -> Collection:
    """One value combination of a split layer: named after its first value (``split_names``), the others
    in brackets (a hazard's scale)."""
    named = dict(zip(entry.split_by, values))
    first, rest = values[0] or "", [v for v in values[1:] if v]
    ja, en = entry.split_names.get(first, (first, first))
    suffix_ja = f"（{'・'.join(rest)}）" if rest else ""
    suffix_en = f" ({', '.join(rest)})" if rest else ""
    ident = "-".join([entry.key, *(_slug(v) for v in values if v)])
    return Collection(ident, f"{ja}{suffix_ja}", f"{en}{suffix_en}", entry.description, entry, table, extent, updated,
                      equals=tuple((k, v) for k, v in named.items() if v is not None),
                      keywords=(entry.key, *(v for v in values if v)))


def _distinct(table: Table, columns: tuple[str, ...]) -> list[tuple[str | None, ...]]:
    """The distinct value combinations of ``columns``, in sorted order (read from those columns only)."""
    seen: set[tuple[str | None, ...]] = set()
    for batch in table.batches(list(columns)):
        frame = batch.frame.reindex(columns=list(columns)).astype("string").drop_duplicates()
        seen.update(tuple(None if pd.isna(v) else str(v) for v in row) for row in frame.to_numpy(object).tolist())
    return sorted(seen, key=lambda t: tuple("" if v is None else v for v in t))


def _slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug or f"x{value.encode('utf-8').hex()[:12]}"


def _manifest_bbox(city: CityFolder) -> tuple[float, float, float, float] | None:
    box = city.manifest.get("bbox")
    return tuple(float(v) for v in box) if isinstance(box, list) and len(box) == 4 else None  # type: ignore[return-value]


def _parquet_bbox(table: Table) -> tuple[float, float, float, float] | None:
    """The bbox GeoParquet writers record in the file's metadata, when there is one."""
    if not isinstance(table, ParquetTable):
        return None
    try:
        geo = json.loads(pq.read_schema(table.path).metadata[b"geo"])
        box = geo["columns"][table.geometry_column].get("bbox")
    except (OSError, KeyError, ValueError):
        return None
    return tuple(float(v) for v in box) if isinstance(box, list) and len(box) == 4 else None  # type: ignore[return-value]


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)


def _finished(run: ScenarioRun) -> datetime:
    if run.finished:
        try:
            return datetime.fromisoformat(run.finished)
        except ValueError:
            pass
    return _mtime(run.result / "buildings.parquet")
