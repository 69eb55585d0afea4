// Compare two finished scenarios side by side (GET /api/scenarios/compare): their key figures and
// the change B − A, and the max-depth difference map draped over the city (reds: deeper in B,
// blues: shallower). Links to each scenario's printable report.
import * as Cesium from "/cesium/index.js";
import { el } from "./shared/dom.js";
import { fetchJSON } from "./shared/http.js";

const ROWS = [
  ["flooded_area_m2", "浸水面積", "flooded area ha", (v) => (v / 1e4).toFixed(2)],
  ["max_depth_m", "最大浸水深", "max depth m", (v) => v.toFixed(2)],
  ["buildings_flooded", "浸水建物", "flooded buildings", (v) => String(v)],
  ["people_stranded", "孤立者", "people stranded", (v) => String(v)],
  ["shelters_overflowing", "収容超過の避難所", "shelters over capacity", (v) => String(v)],
];
const signed = (text) => (text.startsWith("-") ? text : `+${text}`);

/** The figures table: one row per headline figure, columns A, B and B − A. */
export function figuresTable(headline) {
  const cell = (value, format, sign = false) => el("td", {
    textContent: value === null || value === undefined ? "–" : sign ? signed(format(value)) : format(value) });
  const rows = ROWS.map(([key, ja, en, format]) => {
    const row = el("tr", {}, el("th", {}, `${ja} `, el("span", { className: "en" }, en)),
      cell(headline.a[key], format), cell(headline.b[key], format), cell(headline.b_minus_a[key], format, true));
    row.dataset.key = key;
    return row;
  });
  const classes = Object.keys(headline.a.buildings_by_depth_class).map((label) => {
    const row = el("tr", {}, el("th", { textContent: `建物 buildings ${label}` }),
      cell(headline.a.buildings_by_depth_class[label], String), cell(headline.b.buildings_by_depth_class[label], String),
      cell(headline.b_minus_a.buildings_by_depth_class[label], String, true));
    row.dataset.key = `class:${label}`;
    return row;
  });
  return el("table", { className: "compare-table" },
    el("tr", {}, el("th"), el("th", { textContent: "A" }), el("th", { textContent: "B" }), el("th", { textContent: "B − A" })),
    ...rows, ...classes);
}

/** Build the panel in ``element``; ``currentCity()`` gives the open city's manifest. */
export function initComparePanel(element, widget, currentCity) {
  const ui = {
    a: el("select", { id: "compare-a" }), b: el("select", { id: "compare-b" }),
    go: el("button", { id: "compare-run", type: "button", textContent: "比較 Compare" }),
    map: el("input", { id: "compare-map", type: "checkbox", checked: true }),
    reports: el("p", { className: "compare-reports" }),
    out: el("div", { id: "compare-figures" }),
    message: el("p", { className: "flood-message" }),
  };
  element.replaceChildren(
    el("h3", { textContent: "シナリオ比較 Compare scenarios" }),
    el("label", {}, "A ", ui.a), el("label", {}, "B ", ui.b),
    el("div", { className: "flood-row" }, ui.go, el("label", {}, ui.map, " 差分図 difference map")),
    ui.reports, ui.out, ui.message);
  let primitive = null;
  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
    if (isError) console.warn(`compare: ${text}`);
  };

  async function refresh() {
    const city = currentCity();
    const { jobs } = await fetchJSON("/api/scenarios");
    const done = jobs.filter((j) => j.status === "done" && (!city || j.city === city.id));
    const options = () => done.map((j) => new Option(`${j.scenario.title?.ja ?? j.scenario.name} · ${j.created}`, j.id));
    ui.a.replaceChildren(...options());
    ui.b.replaceChildren(...options());
    if (done.length > 1) { ui.a.value = done[1].id; ui.b.value = done[0].id; }
    ui.go.disabled = done.length < 2;
    return done;
  }

  function clearMap() {
    if (primitive) widget.scene.primitives.remove(primitive);
    primitive = null;
    widget.scene.requestRender();
  }

  async function drawMap(map) {
    clearMap();
    const image = new Image();
    image.src = map.url;
    await image.decode();
    primitive = widget.scene.primitives.add(new Cesium.GroundPrimitive({
      geometryInstances: new Cesium.GeometryInstance({
        geometry: new Cesium.RectangleGeometry({ rectangle: Cesium.Rectangle.fromDegrees(...map.rectangle) }),
      }),
      appearance: new Cesium.MaterialAppearance({
        material: Cesium.Material.fromType("Image", { image, color: new Cesium.Color(1, 1, 1, 0.9) }),
        translucent: true, flat: true }),
      classificationType: Cesium.ClassificationType.BOTH,
      asynchronous: false,
    }));
    primitive.show = ui.map.checked;
    widget.scene.requestRender();
  }

  async function compare(a, b) {
    const body = await fetchJSON(`/api/scenarios/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    ui.out.replaceChildren(figuresTable(body.headline),
      el("p", { className: "flood-message", textContent:
        `B で深く deeper in B ${(body.difference.deeper_area_m2 / 1e4).toFixed(2)} ha (max +${body.difference.max_increase_m} m) · `
        + `浅く shallower ${(body.difference.shallower_area_m2 / 1e4).toFixed(2)} ha (max −${body.difference.max_decrease_m} m)` }));
    ui.reports.replaceChildren("報告書 Reports: ",
      el("a", { href: `/api/scenarios/${a}/report`, target: "_blank", rel: "noopener", textContent: "A" }), " · ",
      el("a", { href: `/api/scenarios/${b}/report`, target: "_blank", rel: "noopener", textContent: "B" }));
    await drawMap(body.map);
    element.dataset.compared = `${a},${b}`;
    return body;
  }

  ui.go.addEventListener("click", () => {
    say("");
    compare(ui.a.value, ui.b.value).catch((e) => say(e.message, true));
  });
  ui.map.addEventListener("change", () => {
    if (primitive) primitive.show = ui.map.checked;
    widget.scene.requestRender();
  });
  const ready = refresh().catch((e) => say(e.message, true));
  return { ready, refresh, compare, clearMap };
}
