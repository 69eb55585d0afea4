"""Japanese and English names of building fields and common PLATEAU attributes, for display."""

from __future__ import annotations

#: field or attribute name → (日本語, English)
LABELS: dict[str, tuple[str, str]] = {
    "gml_id": ("地物ID", "Feature ID"),
    "building_id": ("建物ID", "Building ID"),
    "usage_code": ("用途コード", "Usage code"),
    "usage_label": ("用途", "Usage"),
    "class_code": ("分類コード", "Class code"),
    "class_label": ("分類", "Class"),
    "height": ("計測高さ (m)", "Measured height (m)"),
    "storeys": ("地上階数", "Storeys above ground"),
    "year": ("建築年", "Year of construction"),
    "lods": ("LOD", "LODs"),
    "max_flood_depth": ("最大浸水深 (m)", "Max. flood depth (m)"),
    "max_flood_rank": ("最大浸水ランク", "Max. flood depth rank"),
    "flood_risks": ("洪水浸水リスク", "Flood risks"),
    "ground_height": ("地盤高 (m)", "Ground height (m)"),
    "centroid_lon": ("経度", "Longitude"),
    "centroid_lat": ("緯度", "Latitude"),
    "kind": ("種別", "Kind"),
    "source": ("指定河川・出典", "River / source"),
    "scale": ("規模", "Scale"),
    "rank": ("浸水ランク", "Depth rank"),
    "rank_label": ("浸水ランク", "Depth rank"),
    "depth_m": ("浸水深 (m)", "Depth (m)"),
    "duration_h": ("浸水継続時間 (h)", "Duration (h)"),
    "measuredHeight": ("計測高さ", "Measured height"),
    "storeysAboveGround": ("地上階数", "Storeys above ground"),
    "storeysBelowGround": ("地下階数", "Storeys below ground"),
    "usage": ("用途", "Usage"),
    "class": ("分類", "Class"),
    "yearOfConstruction": ("建築年", "Year of construction"),
    "roofType": ("屋根形状", "Roof type"),
    "buildingIDAttribute/buildingID": ("建物ID", "Building ID"),
    "buildingIDAttribute/prefecture": ("都道府県", "Prefecture"),
    "buildingIDAttribute/city": ("市区町村", "Municipality"),
    "buildingDetailAttribute/buildingStructureType": ("構造種別", "Structure"),
    "buildingDetailAttribute/fireproofStructureType": ("耐火構造種別", "Fireproof structure"),
    "buildingDetailAttribute/totalFloorArea": ("延床面積 (m²)", "Total floor area (m²)"),
    "buildingDetailAttribute/buildingFootprintArea": ("建築面積 (m²)", "Footprint area (m²)"),
    "buildingDetailAttribute/detailedUsage": ("詳細用途", "Detailed usage"),
    "buildingDetailAttribute/surveyYear": ("調査年", "Survey year"),
    "buildingDetailAttribute/landUseType": ("土地利用区分", "Land use"),
    "buildingDetailAttribute/urbanPlanType": ("都市計画区域", "Urban planning area"),
    "buildingDetailAttribute/areaClassificationType": ("区域区分", "Area classification"),
    "buildingDetailAttribute/districtsAndZonesType": ("地域地区", "Zoning"),
    "address": ("住所", "Address"),
    "name": ("名称", "Name"),
}


def labels_for(names: list[str]) -> dict[str, dict[str, str]]:
    """``{name: {"ja", "en"}}`` for the names that have labels."""
    return {n: {"ja": LABELS[n][0], "en": LABELS[n][1]} for n in names if n in LABELS}


#: Display names of coded values in Japanese and English, by the field or attribute they belong to:
#: PLATEAU's Building_usage and Building_class code lists (i-UR 2.0–3.x; the code list gives only the
#: Japanese, REFERENCES.md "PLATEAU CityGML"), and the flood-risk kinds and scales of buildings.parquet.
VALUE_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "usage": {"401": ("業務施設", "Offices"), "402": ("商業施設", "Commerce"), "403": ("宿泊施設", "Accommodation"),
              "404": ("商業系複合施設", "Mixed commercial"), "411": ("住宅", "Houses"), "412": ("共同住宅", "Apartments"),
              "413": ("店舗等併用住宅", "Houses with shops"), "414": ("店舗等併用共同住宅", "Apartments with shops"),
              "415": ("作業所併用住宅", "Houses with workshops"), "421": ("官公庁施設", "Government offices"),
              "422": ("文教厚生施設", "Education and welfare"), "431": ("運輸倉庫施設", "Transport and storage"),
              "441": ("工場", "Factories"), "461": ("その他", "Other")},
    "class": {"3000": ("分類しない建物", "Not classified"), "3001": ("普通建物", "Ordinary (not fire-resistant)"),
              "3002": ("堅ろう建物", "Fire-resistant"), "3003": ("普通無壁舎", "Ordinary, without walls"),
              "3004": ("堅ろう無壁舎", "Fire-resistant, without walls"), "9999": ("不明", "Unknown")},
    "kind": {"river": ("洪水（河川）", "River flood"), "tsunami": ("津波", "Tsunami"), "high_tide": ("高潮", "Storm surge"),
             "inland": ("内水", "Inland flood"), "reservoir": ("ため池", "Reservoir flood"),
             "landslide": ("土砂災害", "Landslide")},
    "scale": {"L1": ("計画規模 (L1)", "Planned scale (L1)"), "L2": ("想定最大規模 (L2)", "Maximum assumed (L2)")},
}
#: Fields whose value is named by another field's code: usage_label by usage_code, class_label by class_code.
NAMED_BY = {"usage_label": ("usage", "usage_code"), "class_label": ("class", "class_code")}


def value_names() -> dict[str, dict[str, dict[str, str]]]:
    """``VALUE_NAMES`` as ``{field: {value: {"ja", "en"}}}`` for clients."""
    return {field: {value: {"ja": ja, "en": en} for value, (ja, en) in names.items()}
            for field, names in VALUE_NAMES.items()}
