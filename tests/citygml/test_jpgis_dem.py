"""GSI 基盤地図情報 DEM (JPGIS 2.x GML): the three real samples, mosaics, zips, and damaged files.

Expected values were read by hand from the sample files: the value of grid point (row, col)
is on line 49 + (row·cols + col − start) of each file (the tupleList opens on line 48).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from citygml.errors import CityGMLError
from citygml.jpgis_dem import DemError, is_gsi_dem, read_dem, read_dem_file
from citygml.meshcode import mesh_bbox
from tests.conftest import PLATEAU

GSI = Path(os.environ.get("TWIN_GSI_SAMPLES", PLATEAU.parent / "gsi"))
DEM5A = GSI / "FG-GML-5238-74-00-DEM5A-20161001.xml"
DEM5B = GSI / "FG-GML-3624-30-76-DEM5B-20170202.xml"
DEM10B = GSI / "FG-GML-3926-76-DEM10B-20161001.xml"
needs_samples = pytest.mark.skipif(not DEM5A.is_file(), reason=f"GSI DEM samples not found at {GSI} (set TWIN_GSI_SAMPLES)")
ARCSEC = 1 / 3600


def dem_xml(mesh: str, values: list[str] | np.ndarray, cols: int, rows: int, start: tuple[int, int] = (0, 0),
            envelope: tuple[float, float, float, float] | None = None, bom: bool = False) -> bytes:
    """A JPGIS DEM file laid out as GSI writes them (namespaces, order, labels)."""
    west, south, east, north = envelope or mesh_bbox(mesh)
    lines = "\n".join(v if "," in v else f"地表面,{float(v):.2f}" for v in map(str, values))
    text = f"""<?xml version="1.0" encoding="UTF-8"?>
<Dataset xsi:schemaLocation="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema FGD_GMLSchema.xsd"
\txmlns:gml="http://www.opengis.net/gml/3.2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
\txmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema" gml:id="Dataset1">
\t<gml:description>基盤地図情報メタデータ ID=fmdid:15-3101</gml:description>
\t<DEM gml:id="DEM001">
\t\t<fid>fgoid:10-00100-15-60101-{mesh}</fid>
\t\t<devDate gml:id="DEM001-2"><gml:timePosition>2016-10-01</gml:timePosition></devDate>
\t\t<type>5mメッシュ（標高）</type>
\t\t<mesh>{mesh}</mesh>
\t\t<coverage gml:id="DEM001-3">
\t\t\t<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
\t\t\t\t<gml:lowerCorner>{south:.9f} {west:.9f}</gml:lowerCorner>
\t\t\t\t<gml:upperCorner>{north:.9f} {east:.9f}</gml:upperCorner>
\t\t\t</gml:Envelope></gml:boundedBy>
\t\t\t<gml:gridDomain><gml:Grid dimension="2" gml:id="DEM001-4"><gml:limits><gml:GridEnvelope>
\t\t\t\t<gml:low>0 0</gml:low><gml:high>{cols - 1} {rows - 1}</gml:high>
\t\t\t</gml:GridEnvelope></gml:limits><gml:axisLabels>x y</gml:axisLabels></gml:Grid></gml:gridDomain>
\t\t\t<gml:rangeSet><gml:DataBlock><gml:rangeParameters><gml:QuantityList uom="DEM構成点"/></gml:rangeParameters>
<gml:tupleList>
{lines}
</gml:tupleList>
\t\t\t</gml:DataBlock></gml:rangeSet>
\t\t\t<gml:coverageFunction><gml:GridFunction>
\t\t\t\t<gml:sequenceRule order="+x-y">Linear</gml:sequenceRule><gml:startPoint>{start[0]} {start[1]}</gml:startPoint>
\t\t\t</gml:GridFunction></gml:coverageFunction>
\t\t</coverage>
\t</DEM>
</Dataset>
"""
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


# -- the real samples -----------------------------------------------------------------------


@needs_samples
def test_dem5a_sample_grid_extent_values_and_inland_water():
    tile = read_dem_file(DEM5A)
    info = tile.info
    assert (info.mesh, info.product, info.label, info.datum, info.date) == (
        "52387400", "DEM5A", "5mメッシュ（標高）", "JGD2011", "2016-10-01")
    assert tile.heights.shape == info.shape == (150, 225)  # GridEnvelope high 224 149
    # envelope 35.25 138.5 – 35.258333333 138.5125, snapped to the mesh's exact arc-seconds
    assert info.bounds == pytest.approx((138.5, 35.25, 138.5125, 35.25 + 30 * ARCSEC), abs=1e-12)
    h = tile.heights
    assert h[0, 0] == pytest.approx(145.30)  # line 49
    assert h[0, 224] == pytest.approx(561.74)  # line 273
    assert h[1, 0] == pytest.approx(145.00)  # line 274
    assert np.isnan(h[1, 1])  # line 275: 内水面,-9999.
    assert h[75, 112] == pytest.approx(356.73)  # line 17036
    assert h[149, 224] == pytest.approx(261.59)  # line 33798, the last
    assert info.nodata_cells == 302 and info.valid_cells == 33448  # 302 lines 内水面,-9999.
    assert np.nanmin(h) == pytest.approx(120.0) and np.nanmax(h) == pytest.approx(608.39)


@needs_samples
def test_dem5b_sample_with_byte_order_mark_starts_partway_and_stops_early():
    assert DEM5B.read_bytes()[:3] == b"\xef\xbb\xbf"
    tile = read_dem_file(DEM5B)
    h = tile.heights
    assert tile.info.product == "DEM5B" and tile.info.mesh == "36243076"
    assert np.isnan(h[0, :57]).all()  # startPoint 57 0
    assert h[0, 57] == pytest.approx(0.12) and h[0, 58] == pytest.approx(0.50)  # lines 49, 50
    assert np.isnan(h[1, 0])  # line 217: データなし,-9999. (point 225 − 57 = 168 of the list)
    assert h[88, 224] == pytest.approx(0.02)  # line 20016, the last of 19,968 values
    assert np.isnan(h[89:]).all()  # the list ends at point 57 + 19,968 = 20,025 = row 89
    # 8,132 データなし in the list + 57 before the start + 13,725 after its end
    assert tile.info.nodata_cells == 8132 + 57 + 13725 and tile.info.valid_cells == 11836


@needs_samples
def test_dem10b_sample_mostly_sea_from_a_start_point():
    tile = read_dem_file(DEM10B)
    h = tile.heights
    assert tile.info.product == "DEM10B" and tile.info.mesh == "392676"
    assert h.shape == (750, 1125) and (tile.dx, tile.dy) == (40, 40)  # 0.4″ in hundredths
    assert tile.info.bounds == pytest.approx((126.75, 26.5 + 5 / 60, 126.875, 26.5 + 10 / 60), abs=1e-12)
    assert np.isnan(h[639, 742]) and h[639, 743] == pytest.approx(1.20) and h[639, 744] == pytest.approx(3.60)
    assert h[640, 738] == pytest.approx(0.50)  # line 1169: point 639·1125 + 743 + 1120
    assert h[672, 691] == pytest.approx(0.10)  # line 37122, the last value
    assert tile.info.valid_cells == 297  # その他; the other 36,777 lines are データなし


@needs_samples
def test_one_sample_as_a_grid_has_the_mesh_transform_and_samples_cell_centres():
    grid = read_dem(DEM5A)
    assert grid.crs == "EPSG:6668" and grid.warnings == [] and grid.heights.dtype == np.float32
    assert grid.bounds == pytest.approx((138.5, 35.25, 138.5125, 35.25 + 30 * ARCSEC), abs=1e-12)
    assert grid.resolution == pytest.approx((0.2 * ARCSEC, 0.2 * ARCSEC), rel=1e-12)
    # the centre of cell (75, 112): west + 112.5·0.2″, north − 75.5·0.2″
    lon = 138.5 + 112.5 * 0.2 * ARCSEC
    lat = 35.25 + 30 * ARCSEC - 75.5 * 0.2 * ARCSEC
    assert grid.height_at(lon, lat) == pytest.approx(356.73)
    assert np.isnan(grid.height_at(138.4, 35.2))  # outside
    assert grid.nodata_share == pytest.approx(302 / 33750)


@needs_samples
def test_bbox_keeps_the_cells_that_meet_it():
    full = read_dem(DEM5A)
    west, north = 138.5 + 10.05 * 0.2 * ARCSEC, 35.25 + 30 * ARCSEC - 20.5 * 0.2 * ARCSEC
    part = read_dem(DEM5A, bbox=(west, north - 5 * 0.2 * ARCSEC, west + 7 * 0.2 * ARCSEC, north))
    # cells 10..17 (east edge inside col 17) and rows 20..25
    np.testing.assert_array_equal(part.heights, full.heights[20:26, 10:18])
    with pytest.raises(DemError):
        read_dem(DEM5A, bbox=(100.0, 10.0, 100.1, 10.1))


@needs_samples
def test_samples_far_apart_are_refused_before_the_mosaic_is_allocated():
    with pytest.raises(DemError, match="over the limit"):
        read_dem([DEM5A, DEM5B, DEM10B])


@needs_samples
def test_gsi_download_zip_and_zip_of_zips(tmp_path):
    inner = tmp_path / "FG-GML-5238-74-DEM5A.zip"
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(DEM5A, DEM5A.name)
    outer = tmp_path / "PackDLMap.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.write(inner, inner.name)
    grid = read_dem(outer)
    np.testing.assert_array_equal(grid.heights, read_dem_file(DEM5A).heights)
    assert grid.sources[0].source == f"{outer}:{inner.name}:{DEM5A.name}"


# -- mosaics of made files ------------------------------------------------------------------


def test_mosaic_places_meshes_side_by_side_and_finer_data_wins(tmp_path):
    # Two neighbouring 3rd-order meshes at 5″ (9 × 6 points) over their 2nd-order mesh at 10″.
    west_mesh, east_mesh, coarse_mesh = "53394600", "53394601", "533946"
    fine_w = np.add.outer(100 * np.arange(6), np.arange(9)).astype(float)  # 100·row + col
    fine_e = fine_w + 5000
    coarse = np.full((30, 45), 7.0)
    coarse[0, 0] = 8.0
    (tmp_path / "FG-GML-5339-46-00-DEM5A-20161001.xml").write_bytes(dem_xml(west_mesh, fine_w.ravel(), 9, 6))
    (tmp_path / "FG-GML-5339-46-01-DEM5A-20161001.xml").write_bytes(dem_xml(east_mesh, fine_e.ravel(), 9, 6))
    (tmp_path / "notes.xml").write_text("<notes/>")  # not named like a DEM: not read from a folder
    (tmp_path / "FG-GML-5339-46-DEM10B.xml").write_bytes(dem_xml(coarse_mesh, coarse.ravel(), 45, 30))
    grid = read_dem(tmp_path)
    assert grid.bounds == pytest.approx(mesh_bbox(coarse_mesh), abs=1e-12)
    assert grid.heights.shape == (60, 90)  # the 2nd-order mesh at the finer 5″
    # 3rd-order mesh 53394600 is the south-west corner: rows 54..59, cols 0..8
    np.testing.assert_array_equal(grid.heights[54:, :9], fine_w)
    np.testing.assert_array_equal(grid.heights[54:, 9:18], fine_e)
    assert grid.heights[0, 0] == grid.heights[1, 1] == 8.0 and grid.heights[0, 2] == 7.0  # 10″ cells repeated 2 × 2
    assert (grid.heights[:54] == 7.0).sum() == 54 * 90 - 4
    assert sorted(s.product for s in grid.sources) == ["DEM10B", "DEM5A", "DEM5A"] and grid.warnings == []


def test_nodata_in_a_fine_mesh_does_not_hide_the_coarse_one(tmp_path):
    values = ["データなし,-9999."] * 54
    values[0] = "地表面,3.25"
    (tmp_path / "FG-GML-5339-46-00-DEM5B-20161001.xml").write_bytes(dem_xml("53394600", values, 9, 6))
    (tmp_path / "FG-GML-5339-46-DEM10B-20161001.xml").write_bytes(dem_xml("533946", np.full(45 * 30, 7.0), 45, 30))
    grid = read_dem(tmp_path)
    assert grid.heights[54, 0] == 3.25 and grid.heights[54, 1] == 7.0 and grid.heights[59, 8] == 7.0


# -- damaged input --------------------------------------------------------------------------


def test_wrong_mesh_code_for_the_envelope_names_both(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(dem_xml("53394600", np.ones(54), 9, 6, envelope=mesh_bbox("53394611")))
    with pytest.raises(DemError, match=r"mesh code 53394600 covers 35\.666667–35\.675000 N.* but the envelope says") as err:
        read_dem_file(bad)
    assert str(bad) in str(err.value)
    good = tmp_path / "good.xml"
    good.write_bytes(dem_xml("53394601", np.ones(54), 9, 6))
    grid = read_dem([bad, good])
    assert len(grid.sources) == 1 and len(grid.warnings) == 1 and grid.warnings[0].source == str(bad)


def test_nodata_everywhere_is_a_warning_and_alone_an_error(tmp_path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(dem_xml("53394600", ["海水面,-9999."] * 54, 9, 6))
    with pytest.raises(DemError, match="no usable GSI DEM mesh.*holds no data"):
        read_dem(empty)
    good = tmp_path / "good.xml"
    good.write_bytes(dem_xml("53394601", np.ones(54), 9, 6))
    grid = read_dem([empty, good])
    assert [w.source for w in grid.warnings] == [str(empty)] and "no data" in grid.warnings[0].message


def test_truncated_xml_and_wrong_files_are_named(tmp_path):
    truncated = tmp_path / "cut.xml"
    truncated.write_bytes(dem_xml("53394600", np.ones(54), 9, 6)[:1500])
    other = tmp_path / "other.xml"
    other.write_bytes(b"<?xml version='1.0'?><CityModel/>")
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 not xml")
    for path, message in ((truncated, "broken XML: Premature end"), (other, "not a GSI"), (garbage, "broken XML")):
        with pytest.raises(DemError, match=message) as err:
            read_dem_file(path)
        assert isinstance(err.value, CityGMLError) and err.value.source == str(path)
    with pytest.raises(DemError, match="no usable"):
        read_dem([truncated, other, garbage, tmp_path / "missing.xml"])


def test_values_that_overrun_the_grid_or_lines_without_numbers(tmp_path):
    path = tmp_path / "long.xml"
    path.write_bytes(dem_xml("53394600", np.ones(55), 9, 6))
    with pytest.raises(DemError, match="overrun"):
        read_dem_file(path)
    path.write_bytes(dem_xml("53394600", ["地表面,1.0", "地表面,"] + ["地表面,2"] * 52, 9, 6))
    with pytest.raises(DemError, match="without a number"):
        read_dem_file(path)


def test_corrupt_zip_member_is_a_warning_and_the_rest_is_read(tmp_path):
    archive = tmp_path / "FG-GML-5339-46-DEM5A.zip"
    good = dem_xml("53394600", np.full(54, 4.0), 9, 6)
    damaged = dem_xml("53394601", np.full(54, 5.0), 9, 6)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("FG-GML-5339-46-00-DEM5A-20161001.xml", good)
        z.writestr("FG-GML-5339-46-01-DEM5A-20161001.xml", damaged)
    data = bytearray(archive.read_bytes())
    at = data.find("地表面,5.00".encode())
    data[at + len("地表面,".encode())] = ord("6")  # the stored bytes no longer match the CRC-32
    archive.write_bytes(bytes(data))
    grid = read_dem(archive)
    assert [s.mesh for s in grid.sources] == ["53394600"]
    assert len(grid.warnings) == 1
    assert grid.warnings[0].source == f"{archive}:FG-GML-5339-46-01-DEM5A-20161001.xml"
    assert "CRC" in grid.warnings[0].message
    not_zip = tmp_path / "broken.zip"
    not_zip.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DemError, match="not a readable zip"):
        read_dem(not_zip)


def test_product_from_the_type_when_the_name_does_not_say(tmp_path):
    path = tmp_path / "mesh.xml"
    path.write_bytes(dem_xml("53394600", np.ones(54), 9, 6))
    assert read_dem_file(path).info.product == "DEM5"  # <type>5mメッシュ（標高）</type>


@needs_samples
def test_gsi_dem_inputs_are_recognised_among_others(tmp_path, koshigaya):
    inner = tmp_path / "FG-GML-5238-74-DEM5A.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.write(DEM5A, DEM5A.name)
    outer = tmp_path / "PackDLMap.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.write(inner, inner.name)
    assert is_gsi_dem(DEM5A) and is_gsi_dem(DEM5B) and is_gsi_dem(inner) and is_gsi_dem(outer) and is_gsi_dem(GSI)
    assert not is_gsi_dem(koshigaya) and not is_gsi_dem(next(koshigaya.rglob("*.gml")))
    assert not is_gsi_dem(tmp_path / "missing.zip")


def test_byte_order_mark_and_stream_input():
    data = dem_xml("53394600", np.arange(54), 9, 6, bom=True)
    tile = read_dem_file(io.BytesIO(data), "memory.xml")
    assert tile.heights[0, 0] == 0.0 and tile.heights[5, 8] == 53.0 and tile.info.source == "memory.xml"


def test_old_datum_is_a_warning_and_an_unknown_one_an_error(tmp_path):
    old = tmp_path / "jgd2000.xml"
    old.write_bytes(dem_xml("53394600", np.ones(54), 9, 6).replace(b"jgd2011.bl", b"jgd2000.bl"))
    grid = read_dem(old)
    assert grid.sources[0].datum == "JGD2000" and "JGD2000, used as JGD2011" in grid.warnings[0].message
    odd = tmp_path / "tokyo.xml"
    odd.write_bytes(dem_xml("53394600", np.ones(54), 9, 6).replace(b"fguuid:jgd2011.bl", b"EPSG:4301"))
    with pytest.raises(DemError, match="unsupported srsName 'EPSG:4301'"):
        read_dem_file(odd)
