"""Pages of a GeoParquet table: the same rows shapely and pandas select, read batch by batch.

A synthetic table of 5,000 small squares is written here with geopandas; batches are made
small (256 rows) so that every selection spans many of them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from twin.opendata import tables
from twin.opendata.tables import JoinedTable, ParquetTable, Selector, Where

ROWS = 5_000


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(tables, "BATCH_ROWS", 256)


def squares(seed: int = 3) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    x, y = 139.0 + rng.random(ROWS) * 0.1, 35.0 + rng.random(ROWS) * 0.1
    return gpd.GeoDataFrame({"gml_id": [f"b{i:05d}" for i in range(ROWS)], "height": rng.random(ROWS) * 40,
                             "usage": rng.choice(["住宅", "商業施設", "工場"], ROWS)},
                            geometry=shapely.box(x, y, x + 0.0005, y + 0.0005), crs="EPSG:6668")


@pytest.fixture
def table_path(tmp_path):
    path = tmp_path / "squares.parquet"
    squares().to_parquet(path)
    return path


def test_bbox_pages_are_the_rows_shapely_selects_in_table_order(small_batches, table_path):
    frame = gpd.read_parquet(table_path)
    box = (139.02, 35.03, 139.05, 35.07)
    expected = frame[frame.intersects(shapely.box(*box))]["gml_id"].tolist()
    assert 100 < len(expected) < ROWS
    selector, table = Selector(), ParquetTable(table_path)
    got, offset = [], 0
    while True:
        page = selector.page(table, Where(bbox=box, key="squares|box"), offset, 37)
        assert page.matched == len(expected)
        got += page.rows["gml_id"].tolist()
        offset += 37
        if offset >= page.matched:
            break
    assert got == expected


def test_a_filter_and_equal_values_select_what_pandas_selects(small_batches, table_path):
    frame = gpd.read_parquet(table_path)
    wanted = frame[(frame["usage"] == "住宅") & (frame["height"] > 30)]["gml_id"].tolist()

    def taller(batch):
        return (batch["height"] > 30).to_numpy()

    where = Where(equals=(("usage", "住宅"),), test=taller, columns=("height",), key="squares|tall")
    page = Selector().page(ParquetTable(table_path), where, 0, ROWS)
    assert page.rows["gml_id"].tolist() == wanted and page.matched == len(wanted)


def test_a_page_reads_no_batch_beyond_its_last_row(small_batches, table_path):
    table = ParquetTable(table_path)
    read = []
    original = table.batches

    def counted(columns, *args, **kwargs):
        for batch in original(columns, *args, **kwargs):
            read.append(batch.start)
            yield batch

    table.batches = counted  # type: ignore[method-assign]
    page = Selector().page(table, Where(), 300, 10)
    assert page.rows["gml_id"].tolist() == [f"b{i:05d}" for i in range(300, 310)]
    assert read == [0, 256]  # rows 300–309 are in the second batch: the other 18 are never read
    assert page.matched == ROWS


def test_a_changed_file_is_selected_anew(small_batches, table_path):
    selector = Selector()
    where = Where(bbox=(139.0, 35.0, 139.1, 35.1), key="squares|all")
    assert selector.page(ParquetTable(table_path), where, 0, 1).matched == ROWS
    squares().iloc[:10].to_parquet(table_path)
    assert selector.page(ParquetTable(table_path), where, 0, 1).matched == 10


def test_joined_rows_take_their_values_by_key_not_by_position(small_batches, table_path):
    frame = gpd.read_parquet(table_path)
    results = pd.DataFrame({"gml_id": frame["gml_id"][::-1].to_numpy(), "depth": np.arange(ROWS, dtype=float)})
    joined = JoinedTable(ParquetTable(table_path), results, "gml_id")
    page = Selector().page(joined, Where(), 1000, 3)
    # b01000 is row 3999 of the reversed results table
    assert page.rows["gml_id"].tolist() == ["b01000", "b01001", "b01002"]
    assert page.rows["depth"].tolist() == [3999.0, 3998.0, 3997.0]
    assert shapely.equals(page.rows.geometry.iloc[0], frame.geometry.iloc[1000])


def test_row_groups_before_a_page_are_not_read(small_batches, tmp_path):
    """In a file of many row groups, a deep page starts reading at the group holding its first row."""
    path = tmp_path / "grouped.parquet"
    squares().to_parquet(path, row_group_size=500)
    table = ParquetTable(path)
    starts = [batch.start for batch in table.batches(["gml_id"], first_row=3210)]
    assert starts[0] == 3000 and starts[-1] < ROWS
    page = Selector().page(table, Where(), 3210, 5)
    assert page.rows["gml_id"].tolist() == [f"b{i:05d}" for i in range(3210, 3215)]


def test_a_spatial_filters_envelope_narrows_the_candidates_without_changing_the_answer(small_batches, table_path):
    from twin.opendata.cql import Queryable, parse_filter

    frame = gpd.read_parquet(table_path)
    polygon = shapely.Polygon([(139.02, 35.02), (139.06, 35.03), (139.04, 35.07)])
    parsed = parse_filter(f"S_INTERSECTS(geometry, {polygon.wkt}) AND height > 10",
                          {"geometry": Queryable("geometry", "geometry"), "height": Queryable("height", "number")})
    assert parsed.envelope == pytest.approx(polygon.bounds)
    expected = frame[frame.intersects(polygon) & (frame["height"] > 10)]["gml_id"].tolist()
    where = Where(test=parsed.test, columns=parsed.columns, spatial=True, within=parsed.envelope, key="tri")
    assert Selector().page(ParquetTable(table_path), where, 0, ROWS).rows["gml_id"].tolist() == expected


def test_the_converter_writes_city_tables_in_row_groups_pages_can_skip(tmp_path):
    from twin.city.layout import FILES, TABLE_ROW_GROUP
    from twin.convert.city_build import write_tables

    rows = TABLE_ROW_GROUP + 10
    roads = gpd.GeoDataFrame({"gml_id": [f"tran_{i}" for i in range(rows)]},
                             geometry=shapely.points(np.full(rows, 139.0), np.full(rows, 35.0)), crs="EPSG:6668")
    assert write_tables(tmp_path, {"roads": roads}, None, None) == ["roads"]
    metadata = pq.ParquetFile(tmp_path / FILES["roads"]).metadata
    assert [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)] == [TABLE_ROW_GROUP, 10]
