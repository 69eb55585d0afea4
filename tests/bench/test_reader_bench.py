"""bench/reader.py runs end to end and reports sane numbers (speed is reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "reader.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = tmp_path_factory.mktemp("bench-reader")
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--buildings", "200", "--data", str(data)],
        capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0 and "no citygml.samplecity.generate" in done.stderr:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


pytestmark = pytest.mark.slow


def test_report_has_every_section(report: dict) -> None:
    assert {"ours", "plateaukit", "ratio_speed", "memory_flat", "targets", "lxml_floor", "input"} <= report.keys()
    assert {"buildings_per_s", "memory_flat", "ratio_speed"} <= report["targets"].keys()
    assert all(isinstance(t["met"], bool) for t in report["targets"].values())


def test_our_reader_reads_every_building_with_positive_rates(report: dict) -> None:
    ours = report["ours"]
    assert ours["buildings"] == report["input"]["buildings_requested"] > 0
    assert ours["first_building_geometries"] > 0
    assert ours["buildings_per_s"] > 0 and ours["mb_per_s"] > 0
    assert ours["rss_peak_mb"] >= ours["rss_after_import_mb"] > 0
    assert ours["bytes"] == report["input"]["bldg_bytes"] > 0


def test_memory_section_compares_a_file_four_times_as_large(report: dict) -> None:
    memory = report["memory_flat"]
    assert memory["buildings_large"] == 4 * memory["buildings_small"]
    assert memory["file_large_mb"] == pytest.approx(4 * memory["file_small_mb"], rel=0.05, abs=0.2)
    assert memory["rss_small_mb"] > 0 and memory["rss_large_mb"] > 0
    assert memory["ratio"] == pytest.approx(memory["rss_large_mb"] / memory["rss_small_mb"], abs=0.01)


def test_plateaukit_is_measured_on_the_same_buildings_or_skipped_with_a_reason(report: dict) -> None:
    peer = report["plateaukit"]
    if "skipped" in peer:
        assert peer["skipped"] and report["ratio_speed"] is None
        return
    assert peer["buildings"] == report["ours"]["buildings"]
    assert peer["buildings_per_s"] > 0 and peer["rss_peak_mb"] > 0
    assert report["ratio_speed"] == pytest.approx(report["ours"]["buildings_per_s"] / peer["buildings_per_s"], rel=0.02, abs=0.01)
