"""Codelist entries for the sample city's bridges and land use, beside ``codelist_data``'s.

Codes and labels as PLATEAU publishes them (標準製品仕様書 3.x, codelists 3.2):
Bridge_class.xml (table 4-529), Bridge_function.xml (table 4-530), Common_landUseType.xml
(table 4-303). ``codelists`` merges them into ``codelist_data``'s lists, entries already
there winning, so either module can take a list over without a clash.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from citygml.samplecity import codelist_data

EXTRA: dict[str, list[tuple[str, str]]] = {
    "Bridge_class": [("01", "桁橋"), ("02", "トラス橋"), ("03", "アーチ橋"), ("04", "ラーメン橋"),
                     ("05", "吊橋"), ("06", "斜張橋")],
    "Bridge_function": [("01", "道路橋"), ("02", "鉄道橋"), ("03", "水路橋"), ("04", "ケーブル橋"),
                        ("05", "橋側歩道橋"), ("06", "運河橋"), ("07", "横断歩道橋"), ("08", "ペデストリアンデッキ")],
    "Common_landUseType": [
        ("201", "田（水田）"), ("202", "畑（畑、樹園地、採草地、養鶏（牛・豚）場）"), ("203", "山林（樹林地）"),
        ("204", "水面（河川水面、湖沼、ため池、用水路、濠、運河水面）"),
        ("205", "その他自然地（原野・牧野、荒れ地（耕作放棄地等自然的状況のもの）、低湿地、河川敷・河原、海浜、湖岸）"),
        ("211", "住宅用地（住宅、共同住宅、店舗等併用住宅、店舗等併用共同住宅、作業所併用住宅）"),
        ("212", "商業用地（業務施設、商業施設、宿泊施設、商業系複合施設）"), ("213", "工業用地（工場）"),
        ("219", "農林漁業施設用地（農林漁業用施設）"), ("214", "公益施設用地（官公庁施設、文教厚生施設、供給処理施設）"),
        ("215", "道路用地（道路、駅前広場、私有地内に存在する沿道用途の「私道」または、"
                "私有地の一部分であるものの公共の通行に供されている土地の部分）"),
        ("216", "交通施設用地（運輸倉庫施設）"), ("217", "公共空地（公園・緑地、広場、運動場、墓園）"),
        ("218", "その他公的施設用地（防衛施設用地）"), ("220", "その他①（ゴルフ場）"),
        ("221", "その他②（太陽光発電のシステムを直接整備している土地）"), ("222", "その他③（平面駐車場）"),
        ("223", "その他④（その他①～③以外の用途に供されている都市的土地利用（建物跡地、資材置場、改変工事中の土地）、"
                "法面（道路、造成地等の主利用に含まれない法面））"),
        ("224", "低未利用土地（用途に供されていない空地、空家・空き店舗・空施設の存する土地等）"), ("231", "不明"),
        ("251", "可住地"), ("252", "非可住地"), ("260", "農地（田、畑の区分がない）"),
        ("261", "宅地（住宅用地、商業用地等の区分が無い）"), ("262", "道路・鉄軌道敷（道路と交通施設用地が混在）"),
        ("263", "空地（その他①～④の区分が無い）"),
    ],
}


def codelists(iur: str) -> dict[str, list[tuple[str, str]]]:
    """Every codelist the dataset refers to: ``codelist_data``'s, with these added."""
    merged = dict(codelist_data.codelists(iur))
    for name, entries in EXTRA.items():
        have = merged.get(name, [])
        known = {code for code, _ in have}
        merged[name] = have + [(code, text) for code, text in entries if code not in known]
    return merged


def label(iur: str, name: str, code: str) -> str:
    """The label of ``code`` in codelist ``name``."""
    return _tables(iur)[name][code]


@cache
def _tables(iur: str) -> dict[str, dict[str, str]]:
    return {name: dict(entries) for name, entries in codelists(iur).items()}


def write_codelists(folder: Path, iur: str) -> list[Path]:
    """Write every codelist as PLATEAU does (one gml:Dictionary per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entries in sorted(codelists(iur).items()):
        path = folder / f"{name}.xml"
        path.write_text(codelist_data.dictionary_xml(name, entries), encoding="utf-8")
        written.append(path)
    return written
