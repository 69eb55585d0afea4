"""The printable report of a scenario job: map picture, key figures and charts as one HTML page.

The figures are ``twin.scenarios.figures``; the map is a pyvista picture of the city with the
scenario's maximum depth in MLIT colours (``twin.pictures.render``), drawn once and kept in the job
folder (``report/map.png``); the charts are inline SVG (``twin.pictures.svg_chart``), so the page
needs nothing but itself and the picture to print.
"""

from __future__ import annotations

import threading
from html import escape
from pathlib import Path
from typing import Any

from twin import depth_classes
from twin.files.atomic import replacing
from twin.pictures.render import RenderOptions, render_city
from twin.pictures.svg_chart import Bar, Line, bar_chart, line_chart
from twin.scenarios.figures import clearance_series, flooded_area_series
from twin.scenarios.results import JobFiles

MAP_SIZE = (1200, 750)
_render_lock = threading.Lock()  # VTK offscreen rendering is not for concurrent threads


def report_map(city_folder: Path, job_folder: Path) -> Path:
    """The job's map picture, rendered on first use and cached in ``report/map.png``."""
    files = JobFiles(job_folder)
    out = files.report_map
    with _render_lock:
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            with replacing(out) as tmp:
                # from above: every wet cell of the flood shows, none behind a building or a hill
                render_city(city_folder, tmp, RenderOptions(colour_by="flood", camera="top", size=MAP_SIZE,
                                                            flood_result=files.result,
                                                            wet_depth_m=files.wet_depth()))
    return out


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f}"


def charts(job_folder: Path, figures: dict[str, Any]) -> dict[str, str]:
    """Inline SVG charts: buildings per depth class, flooded area over time, evacuation clearance."""
    files = JobFiles(job_folder)
    by_class = figures["buildings"]["by_depth_class"]
    out = {"buildings_by_depth_class": bar_chart(
        [Bar(c.key, by_class[c.key], c.colour) for c in depth_classes.CLASSES],
        "建物 buildings", "浸水深別の浸水建物数 Flooded buildings by depth class", fmt=lambda v: f"{v:.0f}")}
    area = flooded_area_series(files)
    if area:
        out["flooded_area"] = line_chart(
            [Line("浸水面積 flooded area (ha)", [(t, a / 1e4) for t, a in area], "#1f77b4")],
            "経過時間 elapsed (min)", "ha", "浸水面積の推移 Flooded area over time",
            x_fmt=_minutes, y_fmt=lambda v: f"{v:.2g}")
    clearance = clearance_series(files)
    if clearance is not None and len(clearance):
        t = clearance["t_s"].to_numpy(float)
        out["clearance"] = line_chart(
            [Line(f"{ja} {en}", list(zip(t, clearance[column].to_numpy(float))), colour)
             for column, ja, en, colour in (("arrived", "避難完了", "arrived", "#2ca02c"),
                                            ("evacuating", "避難中", "evacuating", "#ff7f0e"),
                                            ("stranded", "孤立", "stranded", "#d62728"))],
            "経過時間 elapsed (min)", "人 people", "避難の進捗 Evacuation clearance",
            x_fmt=_minutes, y_fmt=lambda v: f"{v:.0f}")
    return out


_STYLE = """
body{font-family:"Noto Sans CJK JP","Noto Sans JP",sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.5em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{text-align:left;background:#f4f4f4}img.map{width:100%;border:1px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:1em}.note{color:#666;font-size:.9em}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #999;vertical-align:middle;margin-right:.3em}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}.charts svg,img.map{break-inside:avoid}}
"""


def _row(label: str, value: str) -> str:
    return f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>"


def _number(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def ensemble_html(summary: dict[str, Any], picture_url: str | None) -> str:
    """A short section on an ensemble around the scenario (``twin.ensembles.run``'s summary.json)."""
    varied = ", ".join(f"{name} {v['low']:g}–{v['high']:g}" + (" ×" if v["unit"] == "1" else f" {v['unit']}")
                       for name, v in summary["varied"].items())  # _row escapes it
    b, f = summary["buildings"], summary["member_figures"]

    def spread(key: str, fmt: str, figures: dict[str, Any] = f) -> str:
        q = figures.get(key)
        return "–" if q is None else " / ".join(fmt.format(q[p]) for p in ("p10", "p50", "p90"))

    rows = [
        _row("メンバー Members used", f"{summary['members_used']} / {summary['members_requested']}"
             + (f" ({len(summary['failed'])} failed)" if summary["failed"] else "")),
        _row("変化させた入力 Varied", varied),
        _row("浸水した建物（いずれか / 半数以上 / 全メンバー） Buildings wetted (any / half or more / all members)",
             f"{b['wetted_in_any']:,} / {b['wetted_in_half_or_more']:,} / {b['wetted_in_all']:,} of {b['count']:,}"),
        _row("最大浸水深 p10 / p50 / p90 Maximum depth", spread("max_depth_m", "{:.2f} m")),
        _row("浸水面積 p10 / p50 / p90 Flooded area", spread("flooded_area_m2", "{:,.0f} m²")),
    ]
    evacuation = summary.get("evacuation")
    if evacuation:
        rows += [_row("避難完了 p10 / p50 / p90 Arrived at a shelter", spread("arrived", "{:,.0f}", evacuation)),
                 _row("孤立 p10 / p50 / p90 Stranded", spread("stranded", "{:,.0f}", evacuation)),
                 _row("避難完了時間 p10 / p50 / p90 Clearance time",
                      spread("evacuation_time_s", "{:,.0f} s", evacuation))]
    picture = (f"<p class=\"note\"><a href=\"{escape(picture_url)}\">0.5 m 以上の浸水確率の地図 map of "
               "P(depth ≥ 0.5 m)</a></p>") if picture_url else ""
    return ("<h2>アンサンブル Ensemble</h2>"
            f"<p class=\"note\">Latin hypercube, seed {summary['seed']}; percentiles are members' own values "
            "(inverted CDF).</p><table>" + "".join(rows) + "</table>" + picture)


def report_html(figures: dict[str, Any], map_url: str | None, svg: dict[str, str], attribution: str,
                ensemble: str = "") -> str:
    """The report page (UTF-8 HTML, printable), from ``scenario_figures`` and ``charts``, with an
    ``ensemble_html`` section when the scenario has one."""
    scenario = figures["scenario"]
    title = scenario.get("title") or {}
    name = f"{title.get('ja', scenario['name'])} · {title.get('en', scenario['name'])}"
    flood, buildings, evacuation = figures["flood"], figures["buildings"], figures["evacuation"]
    key = [
        _row("最大浸水深 Maximum depth", f"{flood['max_depth_m']:.2f} m"),
        _row("浸水面積 Flooded area", f"{flood['flooded_area_m2'] / 1e4:,.2f} ha"),
        _row("浸水建物 Flooded buildings", f"{buildings['flooded']:,} / {buildings['count']:,}"),
    ]
    if evacuation is not None:
        key += [
            _row("影響を受ける人 People in flooded buildings", _number(evacuation["people_affected"])),
            _row("避難者 Evacuees", _number(evacuation["agents"])),
            _row("避難完了 Arrived at a shelter", _number(evacuation["arrived"])),
            _row("孤立 Stranded", _number(evacuation["stranded"])),
            _row("避難完了時間 Evacuation clearance time",
                 _number(evacuation["evacuation_time_s"], "{:.0f} s") + (
                     f" ({evacuation['evacuation_time_s'] / 60:.1f} min)"
                     if evacuation["evacuation_time_s"] is not None else "")),
            _row("収容超過の避難所 Shelters over capacity",
                 f"{len(evacuation['shelters_overflowing'])} / {evacuation['shelters']}"),
        ]
    classes = "".join(
        f"<tr><th><span class=\"swatch\" style=\"background:{c.colour}\"></span>"
        f"{escape(c.label_ja)} {escape(c.label_en)}</th><td>{buildings['by_depth_class'][c.key]:,}</td>"
        f"<td>{flood['flooded_area_by_class_m2'][c.key] / 1e4:,.2f}</td></tr>" for c in depth_classes.CLASSES)
    parts = [
        "<!doctype html><html lang=\"ja\"><head><meta charset=\"utf-8\">",
        f"<title>{escape(name)} — machi-twin report</title><style>{_STYLE}</style></head><body>",
        f"<h1>浸水シナリオ報告 Scenario report: {escape(name)}</h1>",
        (f"<p class=\"note\">都市 City {escape(figures['city'])} · ジョブ job {escape(figures['job'])} · "
         f"継続時間 duration {_number(scenario.get('duration_s'), '{:.0f}')} s · "
         f"浸水の判定 flooded from {flood['wet_depth_m']:g} m</p>"),
    ]
    if flood.get("scheme_reason"):  # "full: …why" (sim.flood.SchemeChoice.reason)
        parts.append(f"<p class=\"note\">計算手法 scheme: {escape(flood['scheme_reason'])}</p>")
    estimated = (figures.get("terrain") or {}).get("estimated_share")
    if estimated:
        parts.append(f"<p class=\"note\">地形の {estimated:.0%} は建物の地盤高からの推定です（標高データなし） · "
                     f"{estimated:.0%} of the terrain is estimated from the buildings' ground heights, not measured "
                     "(no DEM there): depths there are indicative only.</p>")
    if map_url:
        parts.append(f"<img class=\"map\" src=\"{escape(map_url)}\" alt=\"最大浸水深の地図 map of the maximum depth\">")
    parts += ["<h2>主要な数値 Key figures</h2><table>", *key, "</table>",
              ("<h2>浸水深別 By depth class (MLIT)</h2><table><tr><th>浸水深 depth</th><th>建物 buildings</th>"
               f"<th>面積 area (ha)</th></tr>{classes}</table>")]
    if evacuation is not None and evacuation["shelters_overflowing"]:
        rows = "".join(f"<tr><th>{escape(str(s['name']))}</th><td>{s['capacity']:,}</td><td>{s['arrivals']:,}</td>"
                       f"<td>{s['overflow']:,}</td></tr>" for s in evacuation["shelters_overflowing"])
        parts.append("<h2>収容超過の避難所 Shelters over capacity</h2><table><tr><th>避難所 shelter</th>"
                     f"<th>定員 capacity</th><th>到着 arrivals</th><th>超過 overflow</th></tr>{rows}</table>")
    elif evacuation is None:
        parts.append("<p class=\"note\">このシナリオには避難計算がありません · no evacuation was run "
                     "for this scenario.</p>")
    parts.append(ensemble)
    parts.append("<h2>グラフ Charts</h2><div class=\"charts\">" + "".join(svg.values()) + "</div>")
    parts.append(f"<p class=\"note\">{escape(attribution)}</p></body></html>")
    return "".join(parts)

