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
