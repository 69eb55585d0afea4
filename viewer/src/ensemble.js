// Ensembles (GET /api/ensembles): the odds across a finished ensemble's members, on the city.
// A probability layer — P(max depth ≥ 0.5 m), the server's probability.png draped on its lon/lat
// rectangle — and the buildings coloured by their probability of being wetted (the one wet depth).
// Bins and colours are the server's (twin/pictures/lonlat_png.py: ColorBrewer PuBu, 5 classes).
import * as Cesium from "/cesium/index.js";
import { el } from "./shared/dom.js";
import { fetchJSON } from "./shared/http.js";
import { restyle } from "./scene.js";

export const BINS = [[0.2, "#f1eef6"], [0.4, "#bdc9e1"], [0.6, "#74a9cf"], [0.8, "#2b8cbe"], [1.0, "#045a8d"]];
const NEVER = "#d9d9d4";
const colours = BINS.map(([upper, hex]) => [upper, Cesium.Color.fromCssColorString(hex)]);
const never = Cesium.Color.fromCssColorString(NEVER);

/** Colour of probability ``p`` (0–1): its PuBu bin, grey when no member wetted it (or unknown). */
export function probabilityColour(p) {
  if (!(p > 0)) return never;
  return (colours.find(([upper]) => p <= upper) ?? colours[colours.length - 1])[1];
}

/** A 3D Tiles style colouring each building by ``probabilities`` (gml_id → P(wetted)). */
export function wettedStyle(probabilities) {
  const style = new Cesium.Cesium3DTileStyle();
  style.color = { evaluateColor: (feature, result) =>
    Cesium.Color.clone(probabilityColour(probabilities.get(feature.getProperty("gml_id"))), result) };
  return style;
}

function legend() {
  const ranges = BINS.map(([upper, hex], k) => el("li", {}, el("span", { className: "swatch", style: `background:${hex}` }),
    `${k === 0 ? "0" : BINS[k - 1][0]}–${upper}`));
  return el("ul", { className: "ensemble-legend" }, ...ranges,
    el("li", {}, el("span", { className: "swatch", style: `background:${NEVER}` }), "0 / 浸水なし never wetted"));
}

/** Build the panel in ``element``; ``buildings()`` is the open city's tileset, ``currentCity()`` its manifest. */
export function initEnsemblePanel(element, widget, buildings, currentCity) {
  const ui = {
    job: el("select", { id: "ensemble-job" }),
    layer: el("input", { id: "ensemble-layer", type: "checkbox", checked: true }),
    colour: el("input", { id: "ensemble-colour", type: "checkbox" }),
    figures: el("p", { className: "flood-message" }),
    message: el("p", { className: "flood-message" }),
  };
  element.replaceChildren(
    el("h3", { textContent: "アンサンブル Ensemble" }), ui.job,
    el("label", {}, ui.layer, " 0.5 m 以上の確率 P(depth ≥ 0.5 m)"),
    el("label", {}, ui.colour, " 建物を浸水確率で着色 colour buildings by P(wetted)"),
    legend(), ui.figures, ui.message);
  let primitive = null;
  let previousStyle = null;
  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
    if (isError) console.warn(`ensemble: ${text}`);
  };

  function clearLayer() {
    if (primitive) widget.scene.primitives.remove(primitive);
    primitive = null;
    widget.scene.requestRender();
  }

  async function drawLayer(job, summary) {
    clearLayer();
    const image = new Image();
    image.src = job.links.probability;
    await image.decode();
    primitive = widget.scene.primitives.add(new Cesium.GroundPrimitive({
      geometryInstances: new Cesium.GeometryInstance({ geometry: new Cesium.RectangleGeometry({
        rectangle: Cesium.Rectangle.fromDegrees(...summary.picture.rectangle) }) }),
      appearance: new Cesium.MaterialAppearance({
        material: Cesium.Material.fromType("Image", { image, color: new Cesium.Color(1, 1, 1, 0.9) }),
        translucent: true, flat: true }),
      classificationType: Cesium.ClassificationType.BOTH,
      asynchronous: false,
    }));
    primitive.show = ui.layer.checked;
    widget.scene.requestRender();
  }

  async function colourBuildings(job) {
    const tileset = buildings();
    if (!tileset) return;
    if (!ui.colour.checked) {
      if (previousStyle) restyle(widget, tileset, previousStyle);
      previousStyle = null;
      delete element.dataset.coloured;
      return;
    }
    const { buildings: rows } = await fetchJSON(job.links.buildings);
    previousStyle ??= tileset.style;
    restyle(widget, tileset, wettedStyle(new Map(rows.map((b) => [b.gml_id, b.p_wetted]))));
    element.dataset.coloured = job.id;
  }

  /** Show ensemble ``id`` (a finished one): its layer, its figures, and the colouring when ticked. */
  async function show(id) {
    const job = await fetchJSON(`/api/ensembles/${encodeURIComponent(id)}`);
    const summary = await fetchJSON(job.links.summary);
    const b = summary.buildings;
    ui.figures.textContent = `${summary.members_used}/${summary.members_requested} メンバー members · `
      + `浸水建物 buildings wetted: いずれか any ${b.wetted_in_any}, 半数以上 half+ ${b.wetted_in_half_or_more}, `
      + `全て all ${b.wetted_in_all} / ${b.count}`;
    await drawLayer(job, summary);
    await colourBuildings(job);
    element.dataset.ensemble = id;
    return summary;
  }

  async function refresh() {
    const city = currentCity();
    const { jobs } = await fetchJSON("/api/ensembles");
    const done = jobs.filter((j) => j.status === "done" && (!city || j.city === city.id));
    element.hidden = done.length === 0;
    ui.job.replaceChildren(...done.map((j) => new Option(
      `${j.scenario} · ${Object.keys(j.varied).join(", ")} · ${j.members} · ${j.created}`, j.id)));
    if (done.length) await show(done[0].id);
    return done;
  }

  const current = () => ui.job.value && fetchJSON(`/api/ensembles/${encodeURIComponent(ui.job.value)}`);
  ui.job.addEventListener("change", () => show(ui.job.value).catch((e) => say(e.message, true)));
  ui.layer.addEventListener("change", () => {
    if (primitive) primitive.show = ui.layer.checked;
    widget.scene.requestRender();
  });
  ui.colour.addEventListener("change", () => current()?.then(colourBuildings).catch((e) => say(e.message, true)));
  const ready = refresh().catch((e) => say(e.message, true));
  return { ready, refresh, show, clearLayer };
}
