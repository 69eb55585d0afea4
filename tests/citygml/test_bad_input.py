"""Bad input: readable parts are kept with warnings; unreadable input is one clear error."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from citygml import CityGMLError, open_dataset
from citygml.reader import FeatureReader
from tests.citygml.gml_text import building, city_model, ring


def read(path: Path):
    with open_dataset(path) as dataset:
        found = list(dataset.features())
        warnings = [str(w) for w in dataset.warnings] + [str(w) for i in dataset.file_infos for w in i.warnings]
    return found, warnings


def write(tmp_path: Path, text: str | bytes, name: str = "53394500_bldg_6697_op.gml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def reader_for(path: Path) -> FeatureReader:
    return FeatureReader(lambda: path.open("rb"), str(path), "bldg")


def test_truncated_file_keeps_complete_buildings(tmp_path):
    text = city_model("".join(building(f"b{i}") for i in range(5)))
    cut = text[: text.index('gml:id="b4"') + 200]
    found, warnings = read(write(tmp_path, cut))
    assert [f.gml_id for f in found] == ["b0", "b1", "b2", "b3"]
    assert any("incomplete" in w or "Premature end" in w for w in warnings)


def test_malformed_xml_midway_keeps_what_came_before(tmp_path):
    broken = "\n  <core:cityObjectMember>\n<bldg:Building gml:id='x'><oops\n</core:cityObjectMember>"
    text = city_model(building("a") + broken + building("c"))
    found, warnings = read(write(tmp_path, text))
    assert found[0].gml_id == "a"
    assert "x" not in [f.gml_id for f in found]
    assert any(":17: XML error" in w for w in warnings)  # the line of the broken tag


def test_not_citygml_is_an_error_with_file_and_line(tmp_path):
    path = write(tmp_path, "<?xml version='1.0'?>\n<html><body>hello</body></html>")
    with pytest.raises(CityGMLError) as info:
        list(reader_for(path))
    assert str(info.value).startswith(f"{path}:2: not a CityGML file")


def test_empty_file_is_an_error(tmp_path):
    path = write(tmp_path, b"")
    with pytest.raises(CityGMLError, match="not a CityGML file"):
        list(reader_for(path))


def test_undefined_namespace_prefix_still_reads_the_file(tmp_path):
    text = city_model(building("a", body="<foo:bar>1</foo:bar>") + building("b"))
    found, warnings = read(write(tmp_path, text))
    assert [f.gml_id for f in found] == ["a", "b"]
    assert any("foo" in w for w in warnings)


def test_unknown_namespace_elements_become_attributes(tmp_path):
    body = '<x:custom xmlns:x="urn:example:unknown"><x:inner>42</x:inner></x:custom>'
    found, warnings = read(write(tmp_path, city_model(building("a", body=body))))
    assert found[0].attributes["custom/inner"] == "42"
    assert warnings == []


def test_ring_with_too_few_points_is_skipped_and_building_kept(tmp_path):
    bad = """<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface>
      <gml:surfaceMember><gml:Polygon gml:id="tiny"><gml:exterior><gml:LinearRing>
      <gml:posList>35 139 1 35.1 139 1 35 139 1</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember>
      </gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>"""
    found, warnings = read(write(tmp_path, city_model(building("a", body=bad))))
    assert len(found) == 1 and found[0].geometry(1, "Solid") is None
    assert any("tiny" in w and "needs 3" in w for w in warnings)


def test_odd_coordinate_count_is_reported(tmp_path):
    bad = "<bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface><gml:surfaceMember><gml:Polygon gml:id='odd'><gml:exterior><gml:LinearRing><gml:posList>35 139 1 35.1 139</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></gml:surfaceMember></gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>"
    found, warnings = read(write(tmp_path, city_model(building("a", body=bad))))
    assert len(found) == 1
    assert any("odd" in w and "3D points" in w for w in warnings)


def test_broken_xlink_is_a_warning(tmp_path):
    body = '<bldg:lod2Solid><gml:Solid><gml:exterior><gml:CompositeSurface><gml:surfaceMember xlink:href="#nowhere"/></gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod2Solid>'
    found, warnings = read(write(tmp_path, city_model(building("a", body=body))))
    assert found[0].geometry(2, "Solid") is None
    assert any("broken xlink" in w and "#nowhere" in w for w in warnings)


def test_one_broken_building_among_hundreds(tmp_path):
    members = [building(f"b{i}", lat=35 + i * 1e-3) for i in range(300)]
    members[150] = members[150].replace(ring(35 + 150 * 1e-3), "35 139 x y z")
    found, warnings = read(write(tmp_path, city_model("".join(members))))
    assert len(found) == 300  # the building stays; its unreadable polygon does not
    assert found[150].geometries == []
    assert len(warnings) == 1 and "b150" in warnings[0]


def test_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    prolog = f'\n<!DOCTYPE core:CityModel [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    body = "<gen:stringAttribute name='leak'><gen:value>&xxe;</gen:value></gen:stringAttribute>"
    found, _ = read(write(tmp_path, city_model(building("a", body=body), prolog=prolog)))
    assert "TOP-SECRET" not in repr(found[0].attributes)


def test_billion_laughs_is_not_expanded(tmp_path):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    prolog = f"\n<!DOCTYPE core:CityModel [{entities}]>"
    body = "<gen:stringAttribute name='bomb'><gen:value>&lol9;</gen:value></gen:stringAttribute>"
    start = time.perf_counter()
    found, warnings = read(write(tmp_path, city_model(building("a", body=body), prolog=prolog)))
    assert time.perf_counter() - start < 2.0
    # libxml2 refuses the document outright (entity amplification limit) or leaves it unexpanded.
    assert "lollol" not in repr(found)
    assert found or any("entity" in w for w in warnings)


def test_zip_with_path_tricks_reads_only_safe_members(tmp_path):
    good = city_model(building("good"))
    archive = tmp_path / "city.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("13100_city/udx/bldg/53394500_bldg_6697_op.gml", good)
        z.writestr("13100_city/udx/bldg/../../../../evil_bldg_6697.gml", good)
        z.writestr("/13100_city/udx/bldg/abs_bldg_6697.gml", good)
    found, warnings = read(archive)
    assert [f.gml_id for f in found] == ["good"]
    assert sum("unsafe zip member" in w for w in warnings) == 2


def test_zip_bomb_member_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    payload = city_model(building("a") + "<!--" + " " * 50_000_000 + "-->")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("udx/bldg/53394500_bldg_6697_op.gml", payload)
    found, warnings = read(archive)
    assert found == [] and any("zip bomb" in w for w in warnings)


def test_zip_is_read_in_place_with_codelists(tmp_path, koshigaya):
    archive = tmp_path / "koshigaya.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in koshigaya.rglob("*"):
            if path.is_file():
                z.write(path, f"{koshigaya.name}/{path.relative_to(koshigaya).as_posix()}")
    found, warnings = read(archive)
    assert len(found) == 5 and found[0].usage.label == "住宅"
    assert not list(tmp_path.glob("**/*.gml"))  # nothing unpacked


def test_citygml3_file_does_not_crash(tmp_path):
    text = """<?xml version="1.0"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/3.0" xmlns:gml="http://www.opengis.net/gml/3.2"
  xmlns:bldg="http://www.opengis.net/citygml/building/3.0">
  <core:cityObjectMember><bldg:Building gml:id="b3">
    <core:lod1Solid><gml:Solid><gml:exterior><gml:Shell><gml:surfaceMember><gml:Polygon gml:id="p3">
      <gml:exterior><gml:LinearRing><gml:posList>35 139 1 35.001 139 1 35.001 139.001 1 35 139 1</gml:posList></gml:LinearRing></gml:exterior>
    </gml:Polygon></gml:surfaceMember></gml:Shell></gml:exterior></gml:Solid></core:lod1Solid>
  </bldg:Building></core:cityObjectMember>
</core:CityModel>"""
    found, warnings = read(write(tmp_path, text))
    assert found[0].gml_id == "b3" and found[0].lods == (1,)
    assert any("srsName" in w for w in warnings)
