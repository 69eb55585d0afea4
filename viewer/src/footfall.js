// Area-management dashboard: people counters over the 3D city as columns, and per area the hourly
// profile, daily totals, week-over-week change, busiest hours and a comparison of two periods.
// Uses only /api/footfall aggregates: the public gets k-anonymised area figures (columns per area);
// a signed-in staff session also gets each counter's total (columns per counter).
// Sets body[data-footfall-ready] when drawn; exposes window.footfall (the API answers shown) for tests.
import "./cesium-base.js";
import * as Cesium from "/cesium/index.js";
import { barChart, lineChart } from "./chart.js";
import { fetchJSON as getJSON, getCity, getConfig, listCities } from "./shared/http.js";
import { createScene, loadCity, removeCity, viewCity } from "./scene.js";

const $ = (id) => document.getElementById(id);
const MAX_COLUMN_M = 120;
const COLOURS = { a: "#d9480f", b: "#1f6fb2", column: "#f08c00", hidden: "#9aa5ab", area: "#ffd43b" };
const STRINGS = {
  ja: {
    title: "人流ダッシュボード", city: "都市", area: "エリア", days: "期間（日）", all: "全域",
    profile: "時間帯別（1日平均）", busiest: "混雑する時間帯", daily: "日別合計", compare: "期間の比較",
    compareGo: "比較", total: "合計", peak: "ピーク", change: "増減", csv: "CSV をダウンロード",
    people: "人", hour: "時", withheld: "非公開",
    wow: (w) => `直近7日 ${w.now}（${w.from}〜${w.to}）、前の7日 ${w.before}：${w.change}`,
    privacy: (k) => k ? `公開データ：${k} 人未満の集計値とカウンターが 1 台だけのエリアは表示しません。`
      : "職員向け：カウンターごとの値を表示しています。",
    language: "English", languageLabel: "Switch to English", loading: "読み込み中…", noData: "データがありません",
  },
  en: {
    title: "Footfall dashboard", city: "City", area: "Area", days: "Days", all: "Whole city",
    profile: "Hourly profile (mean per day)", busiest: "Busiest hours", daily: "Daily totals", compare: "Compare two periods",
    compareGo: "Compare", total: "Total", peak: "Peak", change: "Change", csv: "Download CSV",
    people: "people", hour: "h", withheld: "withheld",
    wow: (w) => `Last 7 days ${w.now} (${w.from} – ${w.to}), the 7 before ${w.before}: ${w.change}`,
    privacy: (k) => k ? `Public data: figures under ${k} people and areas with a single counter are withheld.`
      : "Staff view: per-counter figures are shown.",
    language: "日本語", languageLabel: "日本語に切り替える (Switch to Japanese)", loading: "Loading…", noData: "No data",
  },
};
const state = {
  lang: (navigator.languages ?? []).some((l) => l.startsWith("ja")) ? "ja" : "en",
  widget: null, city: null, loaded: null, areas: [], summary: null, comparison: null, counters: null, columns: null, outlines: null,
};
const t = () => STRINGS[state.lang];

const api = (path, params = {}) => {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== "" && v !== undefined));
  return `/api/footfall/${encodeURIComponent(state.city.id)}/${path}${query.size ? `?${query}` : ""}`;
};
const formatCount = (n) => (n === null || n === undefined ? t().withheld : Math.round(n).toLocaleString(state.lang));
const formatChange = (c) => (c === null || c === undefined ? "–" : `${c >= 0 ? "+" : ""}${(c * 100).toFixed(1)}%`);
const area = () => $("area").value || null;
const days = () => Number($("days").value);

function localDate(offsetDays = 0) {
  const now = new Date(Date.now() + 9 * 3600_000 + offsetDays * 86400_000); // JST, as the API counts days
  return now.toISOString().slice(0, 10);
}
const shiftDate = (iso, daysBy) => new Date(Date.parse(`${iso}T00:00:00Z`) + daysBy * 86400_000).toISOString().slice(0, 10);

// ---- the 3D columns -----------------------------------------------------------------------------------

function centroid(geometry) {
  const ring = geometry.type === "Polygon" ? geometry.coordinates[0] : geometry.coordinates[0][0];
  const points = ring.slice(0, -1);
  return [points.reduce((s, p) => s + p[0], 0) / points.length, points.reduce((s, p) => s + p[1], 0) / points.length];
}

function drawColumns(items) {
  const { scene } = state.widget;
  if (state.columns) scene.primitives.remove(state.columns);
  const base = state.city.center?.[2] ?? 0;
  const largest = Math.max(1, ...items.map((i) => i.value ?? 0));
  const instances = items.map((item) => {
    const length = item.value === null ? 4 : 6 + (MAX_COLUMN_M * item.value) / largest;
    const frame = Cesium.Transforms.eastNorthUpToFixedFrame(Cesium.Cartesian3.fromDegrees(item.lon, item.lat, base));
    return new Cesium.GeometryInstance({
      geometry: new Cesium.CylinderGeometry({ length, topRadius: 5, bottomRadius: 5,
        vertexFormat: Cesium.PerInstanceColorAppearance.VERTEX_FORMAT }),
      modelMatrix: Cesium.Matrix4.multiplyByTranslation(frame, new Cesium.Cartesian3(0, 0, length / 2), new Cesium.Matrix4()),
      attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(
        Cesium.Color.fromCssColorString(item.value === null ? COLOURS.hidden : COLOURS.column)) },
    });
  });
  state.columns = instances.length ? scene.primitives.add(new Cesium.Primitive({
    geometryInstances: instances, asynchronous: false,
    appearance: new Cesium.PerInstanceColorAppearance({ translucent: false, closed: true }) })) : null;
  document.body.dataset.columns = String(instances.length);
  scene.requestRender();
}

function drawOutlines() {
  const { scene } = state.widget;
  if (state.outlines) scene.primitives.remove(state.outlines);
  const base = (state.city.center?.[2] ?? 0) + 1;
  const instances = state.areas.flatMap((feature) => {
    const polygons = feature.geometry.type === "Polygon" ? [feature.geometry.coordinates] : feature.geometry.coordinates;
    return polygons.map((rings) => new Cesium.GeometryInstance({
      geometry: new Cesium.PolygonOutlineGeometry({ height: base,
        polygonHierarchy: new Cesium.PolygonHierarchy(Cesium.Cartesian3.fromDegreesArray(rings[0].flat())) }),
      attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(Cesium.Color.fromCssColorString(COLOURS.area)) },
    }));
  });
  state.outlines = instances.length ? scene.primitives.add(new Cesium.Primitive({
    geometryInstances: instances, asynchronous: false,
    appearance: new Cesium.PerInstanceColorAppearance({ flat: true, translucent: false }) })) : null;
  scene.requestRender();
}

async function refreshColumns() {
  state.counters = await getJSON(api("counters", { days: days() }));
  if (state.counters.detail) {
    drawColumns(state.counters.counters.map((c) => ({ lon: c.lon, lat: c.lat, value: c.count })));
    return;
  }
  const totals = await Promise.all(state.areas.map(async (feature) => {
    const summary = await getJSON(api("summary", { area: feature.properties.id, days: days() }));
    const shown = summary.daily.filter((d) => d.count !== null);
    const [lon, lat] = centroid(feature.geometry);
    return { lon, lat, value: summary.suppressed || !shown.length ? null : shown.reduce((s, d) => s + d.count, 0) };
  }));
  drawColumns(totals);
}

// ---- the panels ---------------------------------------------------------------------------------------

function drawSummary() {
  const s = t();
  const summary = state.summary;
  $("privacy").textContent = s.privacy(summary.k);
  const profile = summary.profile.filter((p) => p.mean !== null).map((p) => [p.hour, p.mean]);
  lineChart($("profile-chart"), { series: [{ name: s.profile, points: profile, colour: COLOURS.b }],
    xLabel: s.hour, yLabel: s.people, xFormat: (x) => `${Math.round(x)}`, yFormat: (y) => Math.round(y).toString() });
  $("busiest").textContent = summary.busiest.length
    ? summary.busiest.map((b) => `${b.hour}:00 (${formatCount(b.mean)})`).join(", ") : s.noData;
  barChart($("daily-chart"), { yLabel: s.people, yFormat: (v) => Math.round(v).toString(),
    bars: summary.daily.map((d) => ({ label: d.date.slice(8), value: d.count ?? 0,
      colour: d.count === null ? COLOURS.hidden : COLOURS.column })) });
  const w = summary.weekOverWeek;
  $("wow").textContent = w ? s.wow({ now: formatCount(w.thisWeek.count), before: formatCount(w.lastWeek.count),
    from: w.thisWeek.from, to: w.thisWeek.to, change: formatChange(w.change) }) : "";
  $("csv").href = api("hourly.csv", { area: area(), days: days() });
}

function drawComparison() {
  const s = t();
  const c = state.comparison;
  const points = (side) => side.byHour.map((v, h) => [h, v]).filter(([, v]) => v !== null);
  lineChart($("compare-chart"), { xLabel: s.hour, yLabel: s.people, xFormat: (x) => `${Math.round(x)}`,
    yFormat: (y) => Math.round(y).toString(),
    series: [{ name: `A ${c.a.start}`, points: points(c.a), colour: COLOURS.a },
      { name: `B ${c.b.start}`, points: points(c.b), colour: COLOURS.b }] });
  for (const key of ["a", "b"]) {
    $(`compare-${key}-date`).textContent = c[key].start;
    $(`compare-${key}-total`).textContent = formatCount(c[key].total);
    $(`compare-${key}-total`).dataset.value = c[key].total ?? "";
    $(`compare-${key}-peak`).textContent = c[key].peakHour === null ? "–" : `${c[key].peakHour}:00`;
  }
  $("compare-change").textContent = formatChange(c.change);
  $("compare-change").dataset.value = c.change ?? "";
}

async function refreshSummary() {
  state.summary = await getJSON(api("summary", { area: area(), days: days() }));
  drawSummary();
}

async function refreshComparison() {
  state.comparison = await getJSON(api("compare", { area: area(), a: $("date-a").value, b: $("date-b").value }));
  drawComparison();
}

function applyLanguage() {
  const s = t();
  document.documentElement.lang = state.lang;
  for (const node of document.querySelectorAll("[data-i18n]")) {
    const text = s[node.dataset.i18n];
    if (typeof text === "string") node.textContent = text;
  }
  $("lang").textContent = s.language;
  $("lang").setAttribute("aria-label", s.languageLabel); // holds the visible text (WCAG 2.5.3 label in name)
  const all = $("area").querySelector("option[value='']");
  if (all) all.textContent = s.all;
  for (const option of $("area").querySelectorAll("option[data-ja]")) option.textContent = option.dataset[state.lang];
  if (state.summary) drawSummary();
  if (state.comparison) drawComparison();
}

async function refresh() {
  document.body.dataset.footfallReady = "false";
  $("status").textContent = t().loading;
  await Promise.all([refreshSummary(), refreshComparison(), refreshColumns()]);
  window.footfall = { summary: state.summary, comparison: state.comparison, counters: state.counters };
  $("status").textContent = "";
  document.body.dataset.footfallReady = "true";
}

async function chooseCity(id) {
  state.city = await getCity(id);
  removeCity(state.widget, state.loaded);
  state.loaded = await loadCity(state.widget, state.city, new Cesium.Cesium3DTileStyle({ color: "color('#dfe5e8')" }));
  viewCity(state.widget, state.loaded, state.city);
  state.areas = (await getJSON(api("areas"))).features;
  $("area").replaceChildren(new Option(t().all, ""), ...state.areas.map(({ properties: p }) => {
    const option = new Option(state.lang === "ja" ? p.name : p.name_en, p.id);
    Object.assign(option.dataset, { ja: p.name, en: p.name_en });
    return option;
  }));
  drawOutlines();
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (params.get("lang") in STRINGS) state.lang = params.get("lang");
  const config = await getConfig();
  $("attribution").textContent = config.attribution;
  state.widget = createScene($("globe"), { imageryUrl: config.imagery_url, imageryCredit: config.imagery_credit });
  const cities = await listCities();
  if (!cities.length) {
    $("status").textContent = t().noData;
    return;
  }
  const ids = cities.map((c) => c.id ?? c);
  $("city").replaceChildren(...ids.map((id) => new Option(id, id)));
  $("city").value = ids.includes(params.get("city")) ? params.get("city") : ids[0];
  if (params.get("days")) $("days").value = params.get("days");
  $("date-a").value = params.get("a") ?? localDate(-1);
  $("date-b").value = params.get("b") ?? shiftDate($("date-a").value, -7); // the same weekday a week before
  await chooseCity($("city").value);
  if (params.get("area")) $("area").value = params.get("area");
  applyLanguage();
  await refresh();
  $("city").addEventListener("change", async () => { await chooseCity($("city").value); await refresh(); });
  $("area").addEventListener("change", refresh);
  $("days").addEventListener("change", refresh);
  $("compare-form").addEventListener("submit", (event) => { event.preventDefault(); refreshComparison(); });
  $("lang").addEventListener("click", () => { state.lang = state.lang === "ja" ? "en" : "ja"; applyLanguage(); });
}

main().catch((error) => {
  console.error(error);
  $("status").textContent = String(error.message ?? error);
});
