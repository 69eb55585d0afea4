"""Manning's n of the ground by PLATEAU land-use class (``Common_landUseType``): the City's default roughness.

Natural and farm land take the "normal" values of Chow (1959), *Open-Channel Hydraulics*,
Table 5-6 (flood plains; minor natural streams for water surfaces). Built-up land takes the
urban figures of REFERENCES.md ("about 0.013–0.02 on asphalt, 0.03–0.05 elsewhere"): roads and
car parks 0.015 (the flood scenarios' road default), building plots 0.040 (the middle of
0.03–0.05: yards, fences and paving between buildings, which the grid blocks as walls on their
own). Classes that say nothing about the surface (不明, 可住地, 非可住地, 空地) have no value:
the scenario's default applies there. These are planning defaults: a scenario's
``[manning] default`` overrides them.
"""

from __future__ import annotations

#: Chow (1959) Table 5-6, normal values.
_FIELD_CROPS = 0.040  # cultivated areas, mature field crops
_ROW_CROPS = 0.035  # cultivated areas, mature row crops
_LIGHT_TREES = 0.060  # light brush and trees, in summer
_STREAM = 0.030  # minor natural stream, clean, straight, full stage
_HIGH_GRASS = 0.035  # pasture, no brush, high grass
_SHORT_GRASS = 0.030  # pasture, no brush, short grass
#: REFERENCES.md, urban.
_PAVED = 0.015
_PLOTS = 0.040

#: ``Common_landUseType`` code → Manning's n (s/m^(1/3)).
LAND_USE_MANNING: dict[str, float] = {
    "201": _FIELD_CROPS,  # 田
    "202": _ROW_CROPS,  # 畑
    "203": _LIGHT_TREES,  # 山林
    "204": _STREAM,  # 水面
    "205": _HIGH_GRASS,  # その他自然地
    "211": _PLOTS,  # 住宅用地
    "212": _PLOTS,  # 商業用地
    "213": _PLOTS,  # 工業用地
    "214": _PLOTS,  # 公益施設用地
    "215": _PAVED,  # 道路用地
    "216": _PLOTS,  # 交通施設用地
    "217": _SHORT_GRASS,  # 公共空地 (parks, squares, sports grounds)
    "218": _PLOTS,  # その他公的施設用地
    "219": _PLOTS,  # 農林漁業施設用地
    "220": _SHORT_GRASS,  # ゴルフ場
    "221": _PLOTS,  # 太陽光発電
    "222": _PAVED,  # 平面駐車場
    "223": _PLOTS,  # その他の都市的土地利用
    "224": _HIGH_GRASS,  # 低未利用土地 (vacant lots)
    "260": _FIELD_CROPS,  # 農地
    "261": _PLOTS,  # 宅地
    "262": _PAVED,  # 道路・鉄軌道敷
}


def manning_of_land_use(code: str | None) -> float | None:
    """Manning's n of a land-use class code; None for a class that does not say (or an unknown code)."""
    return LAND_USE_MANNING.get(code or "")
