// The forecast timeline (issue 18): the open city's latest nowcast forecast (GET /api/nowcast/…,
// staff only) — its issue time, what its rain and river stage are (observed, a posted forecast,
// persistence or trend: the forecast's own labels), and per output time the buildings under water
// and the roads cut, as a small SVG. Clicking a time colours the buildings by their predicted depth
// then (the MLIT classes of colouring.js, from …/forecasts/{stamp}/depths). Below: whether the forecast
// is published to the public hazard map, with a button to publish or withdraw it, and the time left to
// leave per area (…/forecasts/{stamp}/areas), the least first, then the roads cut and when
// (…/forecasts/{stamp}/roads), the soonest first. Last, the verification (…/verification): each kept
// forecast's predicted river stage against the gauges' later readings, by lead time, and whether it
// predicted each threshold crossing that happened (hit, miss, false alarm).
import { api, canActAsStaff } from "./api.js";
import { node } from "./chart.js";
import { simulatedStyle } from "./colouring.js";
import { renderLegend } from "./legend.js";
import { restyle } from "./scene.js";
import { el } from "./shared/dom.js";
import { sessionHeaders } from "./signin.js";

const SIZE = { width: 300, left: 58, right: 6, row: 34, top: 4, axis: 14 };
const KINDS = [["forecast posted", "予報値 posted forecast"], ["persistence", "持続 persistence"],
  ["trend", "傾向 trend"]];

/** What a forcing label says the horizon uses: a posted forecast, persistence, a trend, or observations only. */
export function forcingKind(label) {
  return (KINDS.find(([words]) => label.includes(words)) ?? [null, "観測 observed"])[1];
}

const minutes = (seconds) => `+${Math.round(seconds / 60)}`;
const utc = (iso) => `${iso.slice(0, 16).replace("T", " ")} UTC`;

/** One row of bars (``values`` per time) scaled to its own maximum, with each value written above its bar. */
function barRow(svg, values, top, colour, format, cls) {
  const slot = (SIZE.width - SIZE.left - SIZE.right) / values.length;
  const high = Math.max(...values, Number.EPSILON);
  values.forEach((value, k) => {
    const h = (value / high) * (SIZE.row - 12);
    svg.append(node("rect", { x: SIZE.left + k * slot + slot * 0.15, y: top + SIZE.row - h, width: slot * 0.7,
      height: h, fill: colour, class: `${cls}-bar` }));
    svg.append(node("text", { x: SIZE.left + (k + 0.5) * slot, y: top + SIZE.row - h - 2, "text-anchor": "middle",
      class: cls, "data-index": k }, format(value)));
  });
}

/** The timeline's SVG: two bar rows over the output times, one clickable column per time. */
function timelineSvg(timeline, onPick) {
  const rows = [["浸水建物 bldgs wet", timeline.map((t) => t.buildings_wet), "#4f8fd6", String, "forecast-buildings"],
    ["道路寸断 roads km", timeline.map((t) => t.roads_cut_km), "#e07b39", (v) => v.toFixed(2), "forecast-roads"]];
  const height = SIZE.top + rows.length * SIZE.row + SIZE.axis;
  const svg = node("svg", { viewBox: `0 0 ${SIZE.width} ${height}`, class: "forecast-svg", role: "img",
    "font-size": 8, "font-family": "sans-serif", width: "100%" });
  svg.append(node("title", {}, "予報タイムライン forecast timeline"));
  rows.forEach(([label, values, colour, format, cls], r) => {
    const top = SIZE.top + r * SIZE.row;
    svg.append(node("text", { x: 0, y: top + SIZE.row - 2, class: "chart-label" }, label));
    barRow(svg, values, top, colour, format, cls);
  });
  const slot = (SIZE.width - SIZE.left - SIZE.right) / timeline.length;
  timeline.forEach((t, k) => {
    const column = node("g", { class: "forecast-tick", "data-index": k, "data-lead": t.lead_s, tabindex: 0,
      role: "button" });
    column.append(node("title", {}, `${utc(t.valid)} (${minutes(t.lead_s)} min): 浸水建物 ${t.buildings_wet}, `
      + `道路寸断 ${t.roads_cut_km} km`));
    column.append(node("rect", { x: SIZE.left + k * slot, y: 0, width: slot, height, class: "forecast-hit" }));
    column.append(node("text", { x: SIZE.left + (k + 0.5) * slot, y: height - 3, "text-anchor": "middle",
      class: "chart-tick" }, minutes(t.lead_s)));
    column.addEventListener("click", () => onPick(k));
    column.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") onPick(k); });
    svg.append(column);
  });
  return svg;
}

/** Seconds as signed minutes: "12 分 min", "−3 分 min" (too late). */
const leftText = (seconds) => (seconds === null ? "–" : `${Math.round(seconds / 60)} 分 min`.replace("-", "−"));

/** The areas' table, the least time left first (the server's order), at most ``rows`` of them. */
function areasTable(body, rows = 12) {
  const head = el("tr", {}, ...["区域 area", "残り left", "手遅れ late", "警戒深/棟 at alert/bldgs"]
    .map((text) => el("th", { textContent: text })));
  const lines = body.areas.slice(0, rows).map((a) => el("tr", { className: a.too_late > 0 ? "too-late" : "" },
    el("td", { textContent: a.id === a.name ? a.id : `${a.name} ${a.name_en === a.name ? "" : a.name_en}`.trim(),
      title: a.worst_building ? `最も厳しい建物 worst building: ${a.worst_building}` : "" }),
    el("td", { className: "forecast-left", textContent: leftText(a.min_time_to_leave_s) }),
    el("td", { textContent: String(a.too_late) }),
    el("td", { textContent: `${a.at_alert_depth} / ${a.buildings}${a.no_shelter ? ` (避難所なし no shelter ${a.no_shelter})` : ""}` })));
  return el("table", { className: "forecast-areas" }, el("caption", { textContent:
    `区域ごとの避難に残る時間 time left to leave per area (${body.areas_from})` }), head, ...lines);
}

/** The roads the forecast cuts, the soonest first (the server's order), at most ``rows`` of them. */
function roadsList(body, rows = 12) {
  const items = body.features.slice(0, rows).map(({ properties: r }) => el("li", {
    textContent: [utc(r.cut_at), r.name ?? r.function_label, r.gml_id, `${r.max_depth_m.toFixed(2)} m`]
      .filter(Boolean).join(" · ") }));
  const more = body.features.length > rows ? [el("li", { textContent: `… ${body.features.length - rows}` })] : [];
  return el("div", { className: "forecast-roads" },
    el("p", { textContent: `通行止め予測 Roads cut (0.3 m): ${body.features.length}` }),
    el("ul", {}, ...items, ...more));
}

const THRESHOLD_NAMES = { standby: "水防団待機水位 standby", caution: "氾濫注意水位 caution",
  evacuation: "避難判断水位 evacuation", danger: "氾濫危険水位 danger" };
const OUTCOMES = { hit: "的中 hit", miss: "見逃し miss", "false alarm": "空振り false alarm",
  "correct negative": "正しく否定 correct negative", pending: "未確定 pending" };
const metres = (value) => (value === null || value === undefined ? "–" : value.toFixed(3));
const yesNo = (value) => (value === undefined ? "–" : value ? "はい yes" : "いいえ no");

/** A gauge of a forecast is scored once a reading covers one of its valid times or a threshold is decided. */
const isScored = (gauge) => gauge.errors.length > 0
  || Object.values(gauge.thresholds).some((c) => c.outcome !== "pending");

/** A table of ``rows`` (arrays of cells, the first a row header) under ``headers``, with ``caption``. */
function scoreTable(className, caption, headers, rows) {
  const head = el("tr", {}, ...headers.map((text) => el("th", { scope: "col", textContent: text })));
  const body = rows.map(([first, ...rest]) => el("tr", {}, el("th", { scope: "row", textContent: first }),
    ...rest.map((text) => el("td", { textContent: text }))));
  return el("table", { className }, el("caption", { textContent: caption }), el("thead", {}, head),
    el("tbody", {}, ...body));
}

/** Per gauge over every forecast: the mean absolute stage error by lead time, and the crossings counted. */
function gaugeSummary(id, summary) {
  const counts = Object.entries(summary.outcomes).map(([name, c]) => `${THRESHOLD_NAMES[name] ?? name}: `
    + Object.entries(c).map(([outcome, n]) => `${OUTCOMES[outcome] ?? outcome} ${n}`).join(", "));
  const table = scoreTable("forecast-verification-leads",
    `水位計 gauge ${id}: 先行時間ごとの平均絶対誤差 mean abs stage error by lead time`,
    ["先行 lead (分 min)", "平均絶対誤差 mean abs error (m)", "予報数 forecasts"],
    summary.by_lead.map((b) => [minutes(b.lead_s), metres(b.mean_abs_error_m), String(b.forecasts)]));
  table.dataset.gauge = id;
  return el("div", {}, table, el("p", { className: "forecast-verification-outcomes", textContent:
    `閾値の超過 threshold crossings: ${counts.join(" · ") || "閾値なし no thresholds"}` }));
}

/** One scored forecast at one gauge: predicted, observed and error per lead time, then each threshold's outcome. */
function forecastScores(forecast, id, gauge) {
  const errors = scoreTable("forecast-verification-errors",
    `発表 issued ${utc(forecast.issued)} · 水位計 gauge ${id} · 平均絶対誤差 mean abs error ${metres(gauge.mean_abs_error_m)} m`,
    ["先行 lead (分 min)", "予測 predicted (m)", "観測 observed (m)", "誤差 error (m)"],
    gauge.errors.map((e) => [minutes(e.lead_s), metres(e.predicted_m), metres(e.observed_m), metres(e.error_m)]));
  const crossings = scoreTable("forecast-verification-thresholds", "閾値の超過 threshold crossings",
    ["閾値 threshold (m)", "予測 predicted", "観測 observed", "結果 outcome"],
    Object.entries(gauge.thresholds).map(([name, c]) => [`${THRESHOLD_NAMES[name] ?? name} ${c.threshold_m}`,
      yesNo(c.predicted), yesNo(c.observed), OUTCOMES[c.outcome] ?? c.outcome]));
  const item = el("div", { className: "forecast-verification-item" }, errors, crossings);
  item.dataset.issued = forecast.issued;
  item.dataset.gauge = id;
  return item;
}

/**
 * The verification (…/verification): per gauge the mean absolute error by lead time over all forecasts
 * and the crossings counted, then per scored forecast (the newest first, at most ``rows``) its scores.
 */
function verificationSection(body, rows = 6) {
  const scored = body.forecasts.flatMap((f) => Object.entries(f.gauges).filter(([, g]) => isScored(g))
    .map(([id, g]) => [f, id, g])).reverse();
  const heading = el("h3", { textContent: "検証 Verification" });
  if (scored.length === 0) {
    return [el("div", { className: "forecast-verification" }, heading, el("p", { textContent:
      "採点済みの予報なし: 予報の後の水位観測を待っています · no forecast scored yet: awaiting the gauges' later readings" })), 0];
  }
  const details = el("details", {}, el("summary", { textContent: `予報ごと per forecast (${scored.length})` }),
    ...scored.slice(0, rows).map(([f, id, g]) => forecastScores(f, id, g)));
  const section = el("div", { className: "forecast-verification" }, heading,
    ...Object.entries(body.gauges).map(([id, summary]) => gaugeSummary(id, summary)), details);
  return [section, scored.length];
}

/**
 * Build the panel in ``element`` over ``widget``; ``legend`` is the console's legend box, ``buildings()`` the open
 * city's tileset, ``currentCity()`` its manifest.
 */
export function initForecastPanel(element, widget, legend, buildings, currentCity) {
  const ui = { head: el("p", { className: "forecast-issued" }), forcing: el("ul", { className: "forecast-forcing" }),
    chart: el("div"), picked: el("p", { className: "forecast-picked" }), publish: el("p", { className: "forecast-publish" }),
    areas: el("div"), verification: el("div") };
  let depths = null; // the shown forecast's …/depths answer ({lead_s, buildings: [{gml_id, depth_m}]}), on the first pick

  async function pick(forecast, stamp, k) {
    const city = currentCity();
    depths ??= await api(`/api/nowcast/${encodeURIComponent(city.id)}/forecasts/${stamp}/depths`);
    const tileset = buildings();
    if (tileset) restyle(widget, tileset, simulatedStyle(new Map(depths.buildings.map((b) => [b.gml_id, b.depth_m[k]]))));
    renderLegend(legend, "forecast");
    const t = forecast.timeline[k];
    ui.picked.textContent = `建物の色: ${utc(t.valid)} (${minutes(t.lead_s)} 分 min) の予測浸水深 · `
      + "buildings coloured by predicted depth then (MLIT classes)";
    for (const column of ui.chart.querySelectorAll(".forecast-tick")) column.classList.toggle("picked", column.dataset.index === String(k));
    element.dataset.lead = String(t.lead_s);
  }

  function show(forecast, stamp) {
    depths = null;
    ui.head.textContent = `発表 issued ${utc(forecast.issued)} · ${forecast.horizon_s / 3600} 時間 h · ${forecast.scheme}`;
    ui.forcing.replaceChildren(...Object.entries(forecast.forcing).map(([what, label]) =>
      el("li", { title: label }, el("b", { textContent: `${what}: ` }), forcingKind(label))));
    ui.chart.replaceChildren(timelineSvg(forecast.timeline, (k) => pick(forecast, stamp, k).catch((e) => say(e.message))));
    ui.picked.textContent = "時刻をクリックで建物を着色 · click a time to colour the buildings by its depth";
    element.dataset.issued = forecast.issued;
  }

  function say(text) {
    ui.head.textContent = text;
    for (const part of [ui.forcing, ui.chart, ui.publish, ui.areas, ui.verification]) part.replaceChildren();
    ui.picked.textContent = "";
  }

  /** Whether ``stamp`` is on the public map, and the button that publishes or withdraws it. */
  function showPublished(base, stamp, published) {
    const mine = published?.stamp === decodeURIComponent(stamp);
    const expired = (published && Date.parse(published.valid_to) < Date.now());
    const status = !published ? "公開していません · not on the public map"
      : mine ? `公開中 on the public map${expired ? " (期限切れ expired)" : ""} · ${published.by} ${utc(published.at)}`
        : `公開中は別の予報 another forecast is public: ${utc(published.issued)}`;
    const button = el("button", { type: "button", className: "forecast-publish-button",
      textContent: mine ? "公開を取り下げ Withdraw" : "ハザードマップに公開 Publish to the public map" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`${base}/forecasts/${stamp}/publish`, { method: mine ? "DELETE" : "POST", headers: sessionHeaders() });
        const { published: now } = await api(base);
        showPublished(base, stamp, now);
      } catch (e) {
        ui.publish.textContent = `公開できません · cannot publish: ${e.message}`;
      }
    });
    ui.publish.replaceChildren(el("span", { textContent: `${status} ` }), button);
    element.dataset.published = mine ? "this" : published ? "other" : "none";
  }

  async function load() {
    const city = currentCity();
    element.hidden = !canActAsStaff() || !city;
    delete element.dataset.issued;
    delete element.dataset.lead;
    delete element.dataset.scored;
    if (element.hidden) return;
    element.replaceChildren(el("h2", { textContent: "予報 Forecast" }), ui.head, ui.forcing, ui.chart, ui.picked,
      ui.publish, ui.areas, ui.verification);
    const base = `/api/nowcast/${encodeURIComponent(city.id)}`;
    const { forecasts, published } = await api(base); // the issue times first: asking for `latest` of none would log a 404
    if (forecasts.length === 0) {
      say("予報はまだありません · no forecast yet");
      return;
    }
    const stamp = encodeURIComponent(forecasts[forecasts.length - 1]);
    show(await api(`${base}/forecasts/${stamp}`), stamp);
    showPublished(base, stamp, published);
    ui.areas.replaceChildren();
    try {
      ui.areas.append(areasTable(await api(`${base}/forecasts/${stamp}/areas`)));
    } catch (e) {
      ui.areas.append(el("p", { textContent: `区域ごとの集計なし · no areas: ${e.message}` }));
    }
    try {
      ui.areas.append(roadsList(await api(`${base}/forecasts/${stamp}/roads`)));
    } catch (e) {
      ui.areas.append(el("p", { textContent: `通行止め予測なし · no roads cut kept: ${e.message}` }));
    }
    try {
      const [section, scored] = verificationSection(await api(`${base}/verification`));
      ui.verification.replaceChildren(section);
      element.dataset.scored = String(scored);
    } catch (e) {
      ui.verification.replaceChildren(el("p", { textContent: `検証を読めません · cannot read the verification: ${e.message}` }));
    }
  }

  /** Show the open city's latest forecast (staff only; a note when there is none); never rejects. */
  const refresh = () => load().catch((e) => say(`予報を読めません · cannot read the forecast: ${e.message}`));
  return { ready: refresh(), refresh };
}
