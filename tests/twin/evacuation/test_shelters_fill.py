"""When shelters fill, people go on to the next one by walking time, and that is counted; shelters
join the streets, not the pockets between buildings that lead nowhere."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from twin.city.grids import load_grids
from twin.city.shelters import city_shelters
from twin.city.walkable import POCKET_M2, streets
from twin.evacuation.city_run import CityEvacuation, run_city_evacuation
from twin.evacuation.placement import snap_exits, walkway

PEOPLE_PER_AGENT = 2


@pytest.fixture
def small_shelters(converted_city, tmp_path):
    """The sample city with its three flood shelters' capacities cut to 40, 300 and 300 people."""
    city = tmp_path / "sample"
    shutil.copytree(converted_city, city, ignore=shutil.ignore_patterns("content", "terrain"))
    collection = json.loads((city / "shelters.geojson").read_text())
    flood = [f for f in collection["features"] if f["properties"].get("hazards", {}).get("flood", True)]
    for feature, capacity in zip(flood, (40, 300, 300)):
        feature["properties"]["capacity"] = capacity
    collection["features"] = flood[:3]
    (city / "shelters.geojson").write_text(json.dumps(collection))
    return city


def test_every_shelter_joins_the_same_streets(small_shelters):
    city = load_grids(small_shelters, 4)
    table = city_shelters(city.city)
    sx, sy = (np.asarray(v) for v in city.lonlat_to_map(table["lon"].to_numpy(), table["lat"].to_numpy()))
    way = walkway(city, city.buildings, sx, sy, 100.0)
    _, rows, cols = snap_exits(way, sx, sy)
    labels, _ = ndimage.label(~way.walls)
    sizes = np.bincount(labels.ravel())
    assert np.all(sizes[labels[rows, cols]] * way.cell ** 2 >= POCKET_M2)  # none in a pocket
    assert len(set(labels[rows, cols])) == 1  # one street network reaches them all
    assert np.array_equal(streets(way.walls, way.cell)[rows, cols], np.ones(len(rows), bool))


def test_people_go_on_to_the_next_shelter_when_one_fills_and_are_counted(small_shelters, tmp_path):
    out = tmp_path / "evacuation"
    summary = run_city_evacuation(small_shelters, CityEvacuation(people_per_agent=PEOPLE_PER_AGENT, duration_s=3600,
                                                                 cell_size=4, time_of_day="night"), out)
    shelters = pd.read_csv(out / "shelters.csv", dtype={"shelter_id": str})
    agents = pd.read_parquet(out / "agents.parquet")
    capacity = shelters["capacity"].to_numpy()
    assert summary["people_represented"] > capacity.sum()  # more people than places
    # every shelter fills up to its capacity, within one agent (an agent of up to 2.x people is let
    # in while a place is left): nobody stops while a reachable shelter has room
    heaviest = agents["people"].max()
    assert np.all(shelters["arrivals"] >= capacity - heaviest) and np.all(shelters["arrivals"] <= capacity + heaviest)
    # those a full shelter sent on are counted (the engine's flag per agent), and per shelter where they got in
    sent_on = agents[agents["redirected"]]
    assert summary["people_redirected"] > 0
    assert summary["people_redirected"] == pytest.approx(sent_on["people"].sum(), abs=0.1)
    assert shelters["redirected_in"].sum() == pytest.approx(sent_on.loc[sent_on["arrival_s"].notna(), "people"].sum(), abs=0.1)
    # and the rest, for whom every shelter was full, are counted as such (nobody was caught by water)
    assert summary["people_stranded"] == 0
    assert summary["people_without_shelter_place"] == pytest.approx(
        summary["people_represented"] - summary["people_arrived"], abs=0.1)
