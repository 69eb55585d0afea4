"""Codelist content the sample city writes to ``codelists/``: real PLATEAU codes and labels."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from citygml.samplecity.hazards import ARAKAWA, INLAND_NAME, SHINGASHI

RANKS = [("1", "0.5m未満"), ("2", "0.5m以上3m未満"), ("3", "3m以上5m未満"),
         ("4", "5m以上10m未満"), ("5", "10m以上20m未満"), ("6", "20m以上")]
ADMIN_TYPES = [("1", "国"), ("2", "都道府県")]
SCALE_CODES = [("1", "L1（計画規模）"), ("2", "L2（想定最大規模）")]
SCALE_TEXT = [("L1", "L1（計画規模）"), ("L2", "L2（想定最大規模）")]
RIVERS = [(ARAKAWA.code, ARAKAWA.name), (SHINGASHI.code, SHINGASHI.name)]
INLAND = [("1", INLAND_NAME)]

COMMON: dict[str, list[tuple[str, str]]] = {
    "Building_usage": [
        ("401", "業務施設"), ("402", "商業施設"), ("403", "宿泊施設"), ("404", "商業系複合施設"),
        ("411", "住宅"), ("412", "共同住宅"), ("413", "店舗等併用住宅"), ("414", "店舗等併用共同住宅"),
        ("415", "作業所併用住宅"), ("421", "官公庁施設"), ("422", "文教厚生施設"), ("431", "運輸倉庫施設"),
        ("441", "工場"), ("451", "農林漁業用施設"), ("452", "供給処理施設"), ("453", "防衛施設"),
        ("454", "その他"), ("461", "不明"),
    ],
    "Building_class": [("3001", "普通建物"), ("3002", "堅ろう建物"), ("3003", "普通無壁舎"),
                       ("3004", "堅ろう無壁舎"), ("3000", "分類しない建物"), ("9999", "不明")],
    "Common_localPublicAuthorities": [("11", "埼玉県"), ("11201", "埼玉県川越市")],
    "TransportationComplex_class": [("1020", "徒歩道等"), ("1040", "道路"), ("1060", "鉄道"),
                                    ("1070", "水路"), ("1080", "地下鉄"), ("1090", "その他")],
    "Road_function": [("1", "高速自動車国道"), ("2", "一般国道"), ("3", "都道府県道"), ("4", "市町村道"),
                      ("9000", "未調査"), ("9020", "不明")],
    "Road_usage": [("1", "緊急輸送道路（第一次緊急輸送道路）"), ("2", "緊急輸送道路（第二次緊急輸送道路）"),
                   ("3", "緊急輸送道路（第三次緊急輸送道路）"), ("4", "緊急輸送道路（未指定）"),
                   ("5", "避難路／避難道路"), ("9", "不明")],
    "WaterBody_class": [("1030", "river / stream（河川/小川）"), ("1140", "flooded land（浸水域）"),
                        ("9999", "unknown（不明）")],
    "WaterBody_function": [("1", "洪水浸水想定区域"), ("2", "津波浸水想定"), ("3", "高潮浸水想定区域"),
                           ("4", "内水浸水想定区域"), ("5", "ため池ハザードマップ")],
}

#: Codelists whose names depend on the i-UR generation (1.4 keeps risks in generic attributes).
BY_GENERATION: dict[str, dict[str, list[tuple[str, str]]]] = {
    "3.1": {
        "RiverFloodingRiskAttribute_description": RIVERS,
        "RiverFloodingRiskAttribute_rank": RANKS,
        "RiverFloodingRiskAttribute_adminType": ADMIN_TYPES,
        "RiverFloodingRiskAttribute_scale": SCALE_CODES,
        "InlandFloodingRiskAttribute_description": INLAND,
        "InlandFloodingRiskAttribute_rank": RANKS,
    },
    "2.0": {
        "BuildingRiverFloodingRiskAttribute_description": RIVERS,
        "BuildingRiverFloodingRiskAttribute_rank": RANKS,
        "BuildingRiverFloodingRiskAttribute_adminType": ADMIN_TYPES,
        "BuildingRiverFloodingRiskAttribute_scale": SCALE_CODES,
        "BuildingInlandFloodingRiskAttribute_description": INLAND,
        "BuildingInlandFloodingRiskAttribute_rank": RANKS,
        "WaterBodyRiverFloodingRiskAttribute_description": RIVERS,
        "WaterBodyRiverFloodingRiskAttribute_rankOrg": RANKS,
        "WaterBodyRiverFloodingRiskAttribute_adminType": ADMIN_TYPES,
        "WaterBodyRiverFloodingRiskAttribute_scale": SCALE_TEXT,
    },
    "1.4": {},
}


def codelists(iur: str) -> dict[str, list[tuple[str, str]]]:
    """Every codelist the dataset of this i-UR generation refers to."""
    return {**COMMON, **BY_GENERATION[iur]}


def label(iur: str, name: str, code: str) -> str:
    """The label of ``code`` in codelist ``name``."""
    return dict(codelists(iur)[name])[code]


def dictionary_xml(name: str, entries: list[tuple[str, str]]) -> str:
    """A codelist as PLATEAU writes it: gml:Dictionary of gml:Definition (description, name)."""
    items = "".join(
        f'\t<gml:dictionaryEntry>\n\t\t<gml:Definition gml:id="id{k}">\n'
        f"\t\t\t<gml:description>{escape(text)}</gml:description>\n"
        f"\t\t\t<gml:name>{escape(code)}</gml:name>\n\t\t</gml:Definition>\n\t</gml:dictionaryEntry>\n"
        for k, (code, text) in enumerate(entries, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gml:Dictionary xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:gml="http://www.opengis.net/gml" xsi:schemaLocation="http://www.opengis.net/gml '
        'http://schemas.opengis.net/gml/3.1.1/profiles/SimpleDictionary/1.0.0/gmlSimpleDictionaryProfile.xsd" '
        f'gml:id="cl_{name}">\n\t<gml:name>{name}</gml:name>\n{items}</gml:Dictionary>\n'
    )


def write_codelists(folder: Path, iur: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, entries in sorted(codelists(iur).items()):
        path = folder / f"{name}.xml"
        path.write_text(dictionary_xml(name, entries), encoding="utf-8")
        written.append(path)
    return written
