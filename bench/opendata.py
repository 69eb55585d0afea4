"""Open-data benchmark: pages of a large GeoParquet layer and a streamed GeoPackage export; prints one JSON object.

Writes a synthetic buildings table (``--rows`` footprints, 4 m squares scattered over 10 × 10 km
with a height and a usage), then times what the OGC API – Features routes and ``twin export`` do
with it, through ``twin.opendata`` directly (no HTTP):

- ``first_page`` / ``deep_page``: 1,000 features at offset 0 and at the end (no filter);
- ``bbox_cold`` / ``bbox_warm``: a 1 km² box, before and after the bounds index exists;
- ``cql_attributes``: ``height > 30 AND usage = '住宅'``; ``cql_spatial``: S_INTERSECTS with a 1 km² polygon;
- ``page_through``: every feature in pages of 10,000, as GDAL's ``ogr2ogr`` follows ``next`` links;
- ``gpkg_export``: the whole layer into a GeoPackage, batch by batch.

Memory: the process's peak resident size (``ru_maxrss``) after each step, beside the size of the
whole table decoded in Arrow and as shapely geometries, which nothing here holds at once.

Usage: python bench/opendata.py [--rows 1000000] [--row-group-size 65536 (the City's; 0: one group)]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import shapely

from twin.city.layout import TABLE_ROW_GROUP
from twin.opendata.collections import Collection
from twin.opendata.cql import Queryable, parse_filter
from twin.opendata.exports import write_gpkg
from twin.opendata.layers import Layer
from twin.opendata.tables import ParquetTable, Selector, Where

LAYER = Layer("buildings", "buildings", "建築物", "Buildings", "synthetic", id_column="gml_id")
QUERYABLES = {"height": Queryable("height", "number"), "usage": Queryable("usage", "string"),
              "geometry": Queryable("geometry", "geometry")}


def peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def synthetic(path: Path, rows: int, row_group_size: int | None) -> None:
    rng = np.random.default_rng(1)
    lon = 139.60 + rng.random(rows) * 0.11  # about 10 km at 35.6° N
    lat = 35.60 + rng.random(rows) * 0.09
    side = 4 / 111_000
    frame = gpd.GeoDataFrame({"gml_id": [f"bldg_{i:07d}" for i in range(rows)], "height": rng.random(rows) * 60,
                              "usage": rng.choice(["住宅", "共同住宅", "商業施設", "業務施設"], rows)},
                             geometry=shapely.box(lon, lat, lon + side, lat + side), crs="EPSG:6668")
    frame.to_parquet(path, row_group_size=row_group_size or None)


def timed(step, runs: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = step()
        best = min(best, time.perf_counter() - start)
    return round(best, 3), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--row-group-size", type=int, default=TABLE_ROW_GROUP,
                        help="Rows per Parquet row group (default: the City's tables'; 0: pyarrow's, one group "
                             "up to 1 Mi rows)")
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the child that writes the table
    args = parser.parse_args()
    if args.write:
        synthetic(args.write, args.rows, args.row_group_size)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-opendata-"))
    path = work / "buildings.parquet"
    # Written by a child process, so that this one's peak memory is only what reading takes.
    child = [sys.executable, __file__, "--rows", str(args.rows), "--write", str(path)]
    child += ["--row-group-size", str(args.row_group_size)]
    subprocess.run(child, check=True)
    report: dict = {"rows": args.rows, "row_groups": pq.ParquetFile(path).num_row_groups,
                    "file_mb": round(path.stat().st_size / 2**20, 1),
                    "loadavg_before": os.getloadavg(), "cpus": os.cpu_count(), "peak_rss_mb": {"start": peak_mb()}}
    table, selector = ParquetTable(path), Selector()
    box = (139.65, 35.64, 139.661, 35.649)
    polygon = f"POLYGON(({box[0]} {box[1]}, {box[2]} {box[1]}, {box[2]} {box[3]}, {box[0]} {box[3]}, {box[0]} {box[1]}))"
    attributes = parse_filter("height > 30 AND usage = '住宅'", QUERYABLES)
    spatial = parse_filter(f"S_INTERSECTS(geometry, {polygon})", QUERYABLES)
    seconds: dict[str, float] = {}
    matched: dict[str, int] = {}

    def page(name: str, where: Where, offset: int = 0, runs: int = 3) -> None:
        seconds[name], result = timed(lambda: selector.page(table, where, offset, 1000), runs)
        matched[name] = result.matched  # type: ignore[attr-defined]
        report["peak_rss_mb"][name] = peak_mb()

    page("first_page", Where())
    page("deep_page", Where(), args.rows - 1000)
    page("bbox_cold", Where(bbox=box), runs=1)
    page("bbox_warm", Where(bbox=box, key="box"))
    page("cql_attributes", Where(test=attributes.test, columns=attributes.columns, key=""))
    page("cql_spatial", Where(test=spatial.test, columns=spatial.columns, spatial=True, within=spatial.envelope,
                              key=""), runs=1)

    def through() -> int:
        count, offset = 0, 0
        while offset < args.rows:
            count += len(selector.page(table, Where(), offset, 10_000).rows)
            offset += 10_000
        return count

    seconds["page_through"], count = timed(through)
    report["peak_rss_mb"]["page_through"] = peak_mb()
    collection = Collection("buildings", "建築物", "Buildings", "synthetic", LAYER, table, None,
                            datetime.now(UTC))
    seconds["gpkg_export"], _ = timed(lambda: write_gpkg([collection], work / "out.gpkg"))
    report["peak_rss_mb"]["gpkg_export"] = peak_mb()
    whole = pq.read_table(path)
    report["whole_table_arrow_mb"] = round(whole.nbytes / 2**20, 1)
    report.update(seconds=seconds, matched=matched, paged_features=count,
                  page_through_features_per_s=round(count / seconds["page_through"]),
                  gpkg_mb=round((work / "out.gpkg").stat().st_size / 2**20, 1), loadavg_after=os.getloadavg())
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
