"""A City's grids: floods refuse terrain estimated from buildings unless allowed (then they say how much);
a City without buildings still loads; water, bridge decks and roughness come with the grids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citygml.samplecity import generate
from twin.city.grids import ESTIMATED_SHARE_TOLERATED, load_grids, require_measured_terrain
from twin.convert.pipeline import convert
from twin.errors import TwinInputError
from twin.scenarios.report import report_html


@pytest.fixture(scope="module")
def estimated_city(tmp_path_factory) -> Path:
    """A 60-building sample without its DEM: its terrain is estimated from the buildings."""
    root = tmp_path_factory.mktemp("grids")
    generate(root / "full", buildings=60, seed=4)
    shutil.copytree(root / "full", root / "bare", ignore=lambda folder, names: [n for n in names if n in ("dem", "fld")])
    convert([root / "bare"], root / "data" / "town")
    return root / "data" / "town"


def test_estimated_terrain_is_refused_unless_allowed(estimated_city, converted_city):
    grids = load_grids(estimated_city)
    assert grids.estimated_share == pytest.approx(1.0)
    with pytest.raises(TwinInputError, match=r"city 'town': 100% of the flood's terrain is estimated"):
        require_measured_terrain(grids, allow_estimated=False)
    assert require_measured_terrain(grids, allow_estimated=True) == pytest.approx(1.0)
    measured = load_grids(converted_city)
    assert measured.estimated_share <= ESTIMATED_SHARE_TOLERATED
    assert require_measured_terrain(measured, allow_estimated=False) == measured.estimated_share


def test_cli_flood_refuses_in_one_line_and_runs_when_allowed(estimated_city, tmp_path, twin):
    args = ["flood", "run", "--city", str(estimated_city), "--scenario", "cloudburst-100mm", "--cell-size", "8",
            "--duration", "60", "-o", str(tmp_path / "flood")]
    refused = twin(*args)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("twin: error:") and "--allow-estimated-terrain" in line
    assert not (tmp_path / "flood").exists()
    done = twin(*args, "--allow-estimated-terrain", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "flood" / "summary.json").read_text())
    assert summary["terrain"]["estimated_share"] == pytest.approx(1.0)
    assert [s["kind"] for s in summary["terrain"]["sources"]] == ["estimated"]


def test_scenario_jobs_refuse_estimated_terrain(estimated_city, twin):
    done = twin("scenario", "run", "--data-dir", str(estimated_city.parent), "--city", "town",
                "--scenario", "cloudburst-100mm", "--cell-size", "8", "--duration", "60")
    assert done.returncode == 2 and "estimated" in done.stderr and "--allow-estimated-terrain" in done.stderr
    assert not any((estimated_city.parent / "scenarios").glob("*/job.json"))


def test_the_report_says_how_much_terrain_was_estimated():
    figures = {"scenario": {"name": "x", "title": {"ja": "x", "en": "x"}, "duration_s": 60}, "city": "town",
               "job": "j1", "evacuation": None, "terrain": {"estimated_share": 0.37, "sources": []},
               "flood": {"max_depth_m": 0.2, "flooded_area_m2": 1e4, "wet_depth_m": 0.1,
                         "flooded_area_by_class_m2": {k: 0.0 for k in _class_keys()}},
               "buildings": {"flooded": 0, "count": 3, "by_depth_class": {k: 0 for k in _class_keys()}}}
    page = report_html(figures, None, {}, "出典")
    assert "37% of the terrain is estimated" in page
    figures["terrain"]["estimated_share"] = 0.0
    assert "estimated" not in report_html(figures, None, {}, "出典")


def _class_keys() -> list[str]:
    from twin import depth_classes

    return [c.key for c in depth_classes.CLASSES]


def test_grids_carry_water_bridges_and_roughness(converted_city):
    grids = load_grids(converted_city)
    assert grids.water is not None and grids.water.max() == 1.0
    assert grids.bridges is not None and grids.bridges.max() == 1.0
    assert grids.roughness is not None and np.isfinite(grids.roughness).mean() > 0.5
    coarse = load_grids(converted_city, 8.0)
    assert coarse.roughness.shape == coarse.terrain.shape == coarse.water.shape
    # A block mean of 0/1 masks stays a fraction; of roughness, a mean of the values present.
    assert 0 <= coarse.water.min() and coarse.water.max() <= 1
    finite = coarse.roughness[np.isfinite(coarse.roughness)]
    assert finite.min() >= 0.015 - 1e-6 and finite.max() <= 0.060 + 1e-6  # float32 storage of n


def test_a_city_without_buildings_loads_for_a_flood(tmp_path):
    """A DEM-only download makes a City whose grids load (no buildings to block the water)."""
    generate(tmp_path / "src", buildings=20, seed=1, gsi_dem=True)
    convert([tmp_path / "src" / "gsi"], tmp_path / "dem")
    grids = load_grids(tmp_path / "dem")
    assert len(grids.buildings) == 0 and grids.blocked.max() == 0
    assert grids.estimated_share is not None
