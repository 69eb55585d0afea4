"""The footprint block is built and gzipped once per City, not per request; a City whose manifest
changes (converted again, a part added) is served fresh footprints."""

from __future__ import annotations

import gzip
import json
import os
import shutil

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient

from tests.twin.fixtures_city import CITY_ID, converted_sample_city
from twin.hazardmap.footprints import Footprints
from twin.server import Settings, create_app
from twin.server import hazard_maps as hazard_maps_module

URL = f"/api/cities/{CITY_ID}/footprints"


@pytest.fixture
def home(tmp_path):
    """A data folder with its own copy of the sample city (this test changes it)."""
    shutil.copytree(converted_sample_city(), tmp_path / "data" / CITY_ID, symlinks=True)
    return tmp_path / "data"


@pytest.fixture
def calls(monkeypatch) -> dict[str, int]:
    """How often the footprints are built and compressed (the real functions, counted)."""
    counted = {"built": 0, "gzipped": 0}
    of_table, compress = Footprints.of_table, gzip.compress

    def built(*args, **kwargs):
        counted["built"] += 1
        return of_table(*args, **kwargs)

    def gzipped(data, *args, **kwargs):
        if b'"steps"' in bytes(data[:1_000_000]):  # the footprint block, not another body
            counted["gzipped"] += 1
        return compress(data, *args, **kwargs)

    monkeypatch.setattr(hazard_maps_module.Footprints, "of_table", staticmethod(built))
    monkeypatch.setattr(hazard_maps_module.gzip, "compress", gzipped)
    return counted


def test_footprints_are_compressed_once_and_fresh_for_a_changed_city(home, calls):
    table = gpd.read_parquet(home / CITY_ID / "buildings.parquet")
    with TestClient(create_app(Settings(data_dir=home))) as client:
        first = client.get(URL, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
        again = [client.get(URL, headers={"Accept-Encoding": "gzip"}) for _ in range(3)]
        plain = client.get(URL, headers={"Accept-Encoding": "identity"})
        assert calls == {"built": 1, "gzipped": 1}
        assert all(r.content == first.content for r in again)
        assert plain.headers.get("content-encoding") is None and plain.json() == first.json()
        assert first.json()["count"] == len(table)

        # The City changes: one building fewer, its manifest rewritten (as a new conversion does).
        table.iloc[1:].to_parquet(home / CITY_ID / "buildings.parquet")
        manifest_path = home / CITY_ID / "city.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["counts"]["buildings"] = len(table) - 1
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        stamp = manifest_path.stat().st_mtime_ns + 1_000_000_000  # a new mtime even on a coarse clock
        os.utime(manifest_path, ns=(stamp, stamp))

        fresh = client.get(URL, headers={"Accept-Encoding": "gzip"})
        assert calls == {"built": 2, "gzipped": 2}
        assert fresh.json()["count"] == len(table) - 1
        client.get(URL, headers={"Accept-Encoding": "gzip"})
        assert calls == {"built": 2, "gzipped": 2}
