"""A river breach placed on a river of the City: on the sample city, where the hand-placed built-in
breach sits at the levee's landward toe; at a point the operator gives; on the bank named; on real Bunkyo rivers; and a
clear refusal where the City has no such river."""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer

from citygml.samplecity.terrain import river_water_level
from tests.twin.fixtures_city import converted_real_city, converted_sample_city
from twin.city.layout import CityFolder
from twin.errors import TwinInputError
from twin.flood.breach_site import SETBACK_M, place_breach, rivers
from twin.flood.scenario import builtin_data


def _local(folder: CityFolder, points) -> shapely.LineString:
    to_map = Transformer.from_crs("EPSG:6668", folder.local_crs, always_xy=True)
    return shapely.LineString([to_map.transform(*p) for p in points])


@pytest.fixture(scope="module")
def sample() -> CityFolder:
    return CityFolder.open(converted_sample_city())


def test_on_the_sample_city_the_breach_lands_where_the_hand_placed_one_is(sample):
    site = place_breach(sample)
    assert site.river == "新河岸川" and rivers(sample) == ["新河岸川"]
    hand = builtin_data("river-breach")["inflows"][0]["lonlat"]
    placed, reference = _local(sample, site.line), _local(sample, hand)
    # 100 m of bank, moved some 40 m landward: longer on the outside of the river's bend
    assert placed.length == pytest.approx(100, abs=10)
    # the built-in breach was placed by hand at the landward toe of the levee, 110 m long: both ends
    # within 20 m of it (two 2 m cells of toe detection plus the difference in length)
    assert reference.hausdorff_distance(placed) < 20
    river = gpd.read_parquet(sample.require("water")).to_crs(sample.local_crs).geometry.iloc[0]
    assert placed.distance(river) > SETBACK_M  # on land, past the levee's crest
    terrain = sample.terrain()
    crest = max(terrain.data[terrain.cell_of(*p)] for p in shapely.get_coordinates(
        shapely.shortest_line(shapely.Point(shapely.get_coordinates(placed).mean(axis=0)), river).segmentize(2.0)))
    middle = terrain.data[terrain.cell_of(*shapely.get_coordinates(placed).mean(axis=0))]
    assert crest - middle > 0.5  # a levee stands between the breach and the water


def test_a_point_picks_the_bank_and_a_name_picks_the_river(sample):
    river = gpd.read_parquet(sample.require("water")).to_crs(sample.local_crs).geometry.iloc[0]
    to_lonlat = Transformer.from_crs(sample.local_crs, "EPSG:6668", always_xy=True)
    across = shapely.LineString([(river.centroid.x, river.bounds[1] - 10), (river.centroid.x, river.bounds[3] + 10)])
    north = shapely.Point(river.centroid.x, shapely.get_coordinates(across.intersection(river))[:, 1].max() + 40)
    site = place_breach(sample, "荒川水系新河岸川", near=to_lonlat.transform(north.x, north.y))
    placed = _local(sample, site.line)
    bank = shapely.get_coordinates(shapely.shortest_line(placed.centroid, river))[1]
    assert placed.centroid.y > bank[1] and placed.distance(river) >= SETBACK_M * 0.9  # the north bank
    assert placed.distance(north) < 100  # the bank by the point (its levee's toe), not the town's side
    with pytest.raises(TwinInputError, match="has no river '荒川'.*新河岸川"):
        place_breach(sample, "荒川")
    with pytest.raises(TwinInputError, match="must be positive"):
        place_breach(sample, width_m=0)


def test_real_bunkyo_rivers_take_a_breach_and_several_rivers_need_a_choice(tmp_path):
    folder = CityFolder.open(converted_real_city("13105_bunkyo"))
    names = rivers(folder)
    water = gpd.read_parquet(folder.require("water"))
    assert names == sorted({n for n in water["name"] if isinstance(n, str) and n})
    if len(names) > 1:
        with pytest.raises(TwinInputError, match="several rivers"):
            place_breach(folder)
    site = place_breach(folder, names[0])
    chosen = water[water["name"] == names[0]].to_crs(folder.local_crs).union_all()
    placed = _local(folder, site.line)
    assert placed.distance(chosen) >= SETBACK_M * 0.9 and placed.distance(chosen) < 100
    assert np.isfinite(shapely.get_coordinates(placed)).all()


def test_a_city_without_water_bodies_is_told_so(tmp_path):
    home = tmp_path / "koshigaya"
    shutil.copytree(converted_real_city("11222_koshigaya"), home)
    with pytest.raises(TwinInputError, match="no water bodies"):
        place_breach(CityFolder.open(home))


def test_a_bank_named_by_the_flow_or_the_side_it_faces_takes_the_breach(sample):
    """The sample's 新河岸川 flows east (its surface falls 0.5 m/km eastward: ``river_water_level``), so
    looking downstream its right bank is the south one, where the built-in breach was placed by hand."""
    assert river_water_level(np.array([0.0]))[0] > river_water_level(np.array([1000.0]))[0]
    river = gpd.read_parquet(sample.require("water")).to_crs(sample.local_crs).geometry.iloc[0]
    to_lonlat = Transformer.from_crs(sample.local_crs, "EPSG:6668", always_xy=True)
    across = shapely.LineString([(river.centroid.x, river.bounds[1] - 10), (river.centroid.x, river.bounds[3] + 10)])
    north = to_lonlat.transform(river.centroid.x, shapely.get_coordinates(across.intersection(river))[:, 1].max() + 40)

    def side(site) -> float:
        """Northing of the breach's middle minus that of the nearest water's edge (m): > 0 north of the river."""
        placed = _local(sample, site.line)
        bank = shapely.get_coordinates(shapely.shortest_line(placed.centroid, river))[1]
        return placed.centroid.y - bank[1]

    right, left = place_breach(sample, bank="right"), place_breach(sample, bank="left")
    assert side(right) < -SETBACK_M * 0.9 and side(left) > SETBACK_M * 0.9
    # the right bank by the town is where the hand-placed built-in breach is (as the first test: 20 m)
    assert _local(sample, right.line).hausdorff_distance(
        _local(sample, builtin_data("river-breach")["inflows"][0]["lonlat"])) < 20
    # a compass side names the same banks of this east-flowing river
    assert place_breach(sample, bank="south").line == right.line and place_breach(sample, bank="north").line == left.line
    # the bank wins over the side of a point: a point north of the river with the right bank gives the
    # south bank across from it (within the channel's width and the setback along the river, not 1 km away)
    across_from_point = place_breach(sample, near=north, bank="right")
    assert side(across_from_point) < 0 and side(place_breach(sample, near=north)) > 0
    assert _local(sample, across_from_point.line).centroid.distance(_local(sample, [north, north]).centroid) < 250
    with pytest.raises(TwinInputError, match="bank 'upstream': one of left, right, north"):
        place_breach(sample, bank="upstream")


def test_where_the_terrain_cannot_tell_the_flow_a_side_is_asked_for():
    folder = CityFolder.open(converted_real_city("13105_bunkyo"))  # no DEM: its terrain is estimated
    name = rivers(folder)[0]
    with pytest.raises(TwinInputError, match=f"cannot tell which way {name} flows.*north, south, east or west"):
        place_breach(folder, name, bank="left")
    water = gpd.read_parquet(folder.require("water"))
    chosen = water[water["name"] == name].to_crs(folder.local_crs).union_all()
    placed = _local(folder, place_breach(folder, name, bank="north").line)
    nearest = shapely.get_coordinates(shapely.shortest_line(placed.centroid, chosen))[1]
    assert placed.centroid.y > nearest[1]  # north of the water it was put beside
