"""Mesh codes ↔ latitude/longitude (JIS X 0410), checked against real PLATEAU file names."""

import pytest

from citygml.meshcode import mesh_bbox, mesh_code, mesh_level


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (35.892776, 139.838209, "53396677"),  # centre of the Koshigaya sample's envelope
        (35.25962954418222, 139.73892268006682, "52397519"),  # Yokosuka sample building
        (35.108124999998736, 138.888125, "52385721"),  # Numazu fld sample's envelope corner
    ],
)
def test_real_sample_coordinates_fall_in_their_file_mesh(lat, lon, code):
    assert mesh_code(lat, lon, 3) == code
    assert mesh_code(lat, lon, 2) == code[:6]
    assert mesh_code(lat, lon, 1) == code[:4]


def test_bbox_of_each_level_is_exact():
    assert mesh_bbox("5339") == (139.0, 35.333333333333336, 140.0, 36.0)
    assert mesh_bbox("533966") == (139.75, 35.833333333333336, 139.875, 35.916666666666664)
    west, south, east, north = mesh_bbox("53396677")
    assert (west, east) == (139.8375, 139.85)
    assert south == pytest.approx(35.891666666666666, abs=1e-12)
    assert north == pytest.approx(35.9, abs=1e-12)


@pytest.mark.parametrize("code", ["5339", "533973", "53397318", "64413325", "52385721"])
def test_corners_and_centre_map_back(code):
    west, south, east, north = mesh_bbox(code)
    level = mesh_level(code)
    assert mesh_code(south, west, level) == code  # the south-west corner belongs to the mesh
    assert mesh_code((south + north) / 2, (west + east) / 2, level) == code
    assert mesh_code(north, east, level) != code  # the north-east corner belongs to the next one


def test_nested_levels_share_prefixes():
    lat, lon = 35.93, 139.48
    assert mesh_code(lat, lon, 3).startswith(mesh_code(lat, lon, 2))
    assert mesh_code(lat, lon, 2).startswith(mesh_code(lat, lon, 1))


@pytest.mark.parametrize("bad", ["", "533", "53397", "5339731", "53398818", "abcd"])
def test_malformed_codes_are_rejected(bad):
    with pytest.raises(ValueError):
        mesh_bbox(bad)


def test_level_must_be_one_to_three():
    with pytest.raises(ValueError):
        mesh_code(35.9, 139.5, 4)
