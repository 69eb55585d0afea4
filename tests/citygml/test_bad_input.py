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


# -- damaged zips: the good members and a warning naming the bad one ------------------------


def _city_zip(path: Path, compression: int) -> dict[str, str]:
    """A zip of three bldg files (one building each); returns member name → building id."""
    members = {f"13100_city/udx/bldg/5339450{i}_bldg_6697_op.gml": f"b{i}" for i in range(3)}
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, gml_id in members.items():
            z.writestr(name, city_model(building(gml_id)))
    return members


def _flip_byte_inside(path: Path, member: str) -> None:
    """Change one byte of a member's stored data: its CRC no longer matches."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    data = bytearray(path.read_bytes())
    header = 30 + len(info.filename.encode()) + len(info.extra)  # local file header length
    data[info.header_offset + header + info.compress_size // 2] ^= 0x20
    path.write_bytes(bytes(data))


def _truncate_member(path: Path, member: str) -> None:
    """Make the central directory say the member's compressed data is half as long as it is."""
    with zipfile.ZipFile(path) as z:
        info, entry = z.getinfo(member), z.start_dir
    data = bytearray(path.read_bytes())
    while True:  # central directory entries: 46 bytes, then name, extra field and comment
        sizes = [int.from_bytes(data[entry + k: entry + k + 2], "little") for k in (28, 30, 32)]
        if data[entry + 46: entry + 46 + sizes[0]] == info.filename.encode():
            break
        entry += 46 + sum(sizes)
    data[entry + 20: entry + 24] = (info.compress_size // 2).to_bytes(4, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("compression", "damage"), [
    (zipfile.ZIP_STORED, _flip_byte_inside), (zipfile.ZIP_DEFLATED, _flip_byte_inside),
    (zipfile.ZIP_DEFLATED, _truncate_member),
])
def test_zip_with_one_damaged_member_gives_the_others_and_names_it(tmp_path, compression, damage):
    archive = tmp_path / "city.zip"
    members = _city_zip(archive, compression)
    bad = list(members)[1]
    damage(archive, bad)
    found, warnings = read(archive)
    assert [f.gml_id for f in found] == ["b0", "b2"]
    damaged = [w for w in warnings if "damaged zip member" in w]
    assert len(damaged) == 1 and bad.removeprefix("13100_city/") in damaged[0]


def test_damaged_member_is_a_clear_error_for_a_single_file_reader(tmp_path):
    archive = tmp_path / "city.zip"
    members = _city_zip(archive, zipfile.ZIP_STORED)
    bad = list(members)[0]
    _flip_byte_inside(archive, bad)
    with open_dataset(archive) as dataset:
        file = dataset.files[0]
        with pytest.raises(CityGMLError, match="damaged zip member") as info:
            list(dataset.reader(file))
    assert bad in str(info.value)


# -- repeated warnings are counted, not repeated -----------------------------------------------


IMPLICIT = ("<bldg:lod1ImplicitRepresentation><core:ImplicitGeometry><core:transformationMatrix>1 0 0 0 0 1 0 0 0 0 1 0 "
            "0 0 0 1</core:transformationMatrix></core:ImplicitGeometry></bldg:lod1ImplicitRepresentation>")


def test_identical_warnings_are_one_warning_with_a_count_and_first_places(tmp_path):
    members = "".join(building(f"b{i}", body=IMPLICIT, lat=35 + i * 1e-3) for i in range(1310))
    path = write(tmp_path, city_model(members))
    found, warnings = read(path)
    assert len(found) == 1310
    assert len(warnings) == 1
    # One per building, where its implicit geometry starts: the first three are listed.
    lines = [i for i, text in enumerate(path.read_text().splitlines(), start=1) if "<bldg:lod1ImplicitRepresentation>" in text]
    assert warnings[0].endswith(f"lod1ImplicitRepresentation: implicit geometry (a shared shape placed by a matrix) is not read "
                                f"(1310 times, first at lines {lines[0]}, {lines[1]}, {lines[2]})")
    with open_dataset(path) as dataset:
        list(dataset.features())
        (info,) = dataset.file_infos
    assert info.log.total == 1310 and len(info.warnings) == 1 and info.warnings[0].count == 1310


def test_repeated_xml_errors_are_counted_and_the_parsers_cap_said(tmp_path):
    members = "".join(building(f"b{i}", body="<foo:bar>1</foo:bar>", lat=35 + i * 1e-3) for i in range(150))
    found, warnings = read(write(tmp_path, city_model(members)))
    assert len(found) == 150
    undefined = [w for w in warnings if "Namespace prefix foo" in w]
    # libxml2 keeps the first 100 errors of a document; the reader counts those and says so.
    assert len(undefined) == 1 and "(100 times, first at lines" in undefined[0]
    assert any("first 100" in w for w in warnings)


def test_summary_of_a_zip_with_a_damaged_member_counts_the_rest_and_names_it(tmp_path):
    from citygml.summary import summarize

    archive = tmp_path / "city.zip"
    members = _city_zip(archive, zipfile.ZIP_DEFLATED)
    bad = list(members)[2]
    _flip_byte_inside(archive, bad)
    with open_dataset(archive) as dataset:
        summary = summarize(dataset)
    assert summary.features == {"bldg": 2}
    assert len(summary.errors) == 1 and bad in summary.errors[0] and "damaged zip member" in summary.errors[0]
