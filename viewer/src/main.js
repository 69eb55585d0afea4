// Operations console: choose a city, colour its buildings, click one to read its attributes.
// Exposes window.twinViewer for tests and scripts; sets body[data-tileset-loaded] when ready.
import "./cesium-base.js";
import * as Cesium from "/cesium/index.js";
import { getBuilding, getCity, getConfig, listCities } from "./api.js";
import { simulatedStyle, styleFor } from "./colouring.js";
import { initComparePanel } from "./compare.js";
import { initEnsemblePanel } from "./ensemble.js";
import { initEvacuationPanel } from "./evacuation.js";
import { initFloodPanel } from "./flood.js";
import { initForecastPanel } from "./forecast.js";
import { initLayersPanel, simulatedDepths } from "./layers.js";
import { renderLegend } from "./legend.js";
import { initLivePanel } from "./live.js";
import { hidePanel, showBuilding, showMessage } from "./panel.js";
import { createScene, featureAt, highlightColour, loadCity, onLeftClick, pagePosition, removeCity, restyle, viewCity } from "./scene.js";
import { initSignIn } from "./signin.js";
import { initTemplatesPanel } from "./templates.js";

const $ = (id) => document.getElementById(id);
const state = { widget: null, city: null, loaded: null, mode: $("colour-by").value, selected: null };

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
  if (isError) console.error(message);
}

function clearSelection() {
  if (state.selected) state.selected.feature.color = state.selected.colour;
  state.selected = null;
  state.widget?.scene.requestRender();
  hidePanel($("panel"));
}

async function select(feature) {
  clearSelection();
  if (!feature) return null;
  const gmlId = feature.getProperty("gml_id");
  state.selected = { feature, colour: Cesium.Color.clone(feature.color) };
  feature.color = highlightColour;
  state.widget.scene.requestRender();
  try {
    showBuilding($("panel"), await getBuilding(state.city.id, gmlId), clearSelection);
  } catch (error) {
    showMessage($("panel"), `${gmlId}: ${error.message}`);
  }
  return gmlId;
}

/** Colour the buildings by ``mode``; "simulated" uses the scenario open in the flood panel. */
async function colourBy(mode) {
  let style = styleFor(mode);
  if (mode === "simulated") {
    const jobId = $("flood").dataset.job;
    if (!jobId) throw new Error("シナリオ結果を開いてください · open a scenario result first (flood panel)");
    style = simulatedStyle(await simulatedDepths(jobId));
  }
  state.mode = mode;
  $("colour-by").value = mode;
  if (state.loaded) restyle(state.widget, state.loaded.buildings, style);
  renderLegend($("legend"), mode);
}

async function openCity(widget, id) {
  clearSelection();
  removeCity(widget, state.loaded);
  state.loaded = null;
  document.body.dataset.tilesetLoaded = "false";
  setStatus("読み込み中… loading");
  state.city = await getCity(id);
  window.twinViewer.layers?.cityChanged(); // the new city is known: its layers are looked up
  window.twinViewer.forecast?.refresh();
  const loaded = await loadCity(widget, state.city, styleFor(state.mode));
  state.loaded = loaded;
  window.twinViewer.tileset = loaded.buildings;
  viewCity(widget, loaded, state.city); // before the next frame: the first traversal is already of this view
  await loaded.ready; // raised inside the animation frame that drew the first view's buildings …
  await new Promise((resolve) => setTimeout(resolve)); // … a task after that frame's commit: on screen
  document.body.dataset.tilesetLoaded = "true";
  performance.mark("first-render"); // bench/viewer.py: navigation → the first view's buildings on screen
  setStatus(`${state.city.name} · ${state.city.counts?.buildings ?? "?"} 棟 buildings`);
}

async function start() {
  const config = await getConfig();
  $("attribution").textContent = config.attribution;
  const widget = createScene($("globe"), { imageryUrl: config.imagery_url, imageryCredit: config.imagery_credit,
    creditContainer: $("credits") });
  state.widget = widget;
  let resolveReady;
  window.twinViewer = {
    viewer: widget,
    tileset: null,
    /** The city's terrain tileset once it has arrived (it loads after the buildings' first view), or null. */
    terrain: () => state.loaded?.terrain ?? null,
    ready: new Promise((resolve) => { resolveReady = resolve; }),
    /** gml_id of the building at page position (x, y) in CSS pixels, or null. */
    pickAt: (x, y) => featureAt(widget, x, y)?.getProperty("gml_id") ?? null,
    /** Page position of lon/lat/orthometric height, e.g. a building's roof centre; null if off screen. */
    pagePosition: (lon, lat, height) => pagePosition(widget, lon, lat, height + (state.city?.ellipsoidal_offset ?? 0)),
    colourBy,
  };
  onLeftClick(widget, (feature) => select(feature));
  $("colour-by").addEventListener("change", (event) => colourBy(event.target.value).catch((e) => setStatus(e.message, true)));
  renderLegend($("legend"), state.mode);
  window.twinViewer.signIn = initSignIn($("signin"));

  const cities = await listCities();
  if (cities.length === 0) {
    setStatus("都市がありません · no cities: run `twin convert DATASET -o DIR/NAME`", true);
    return;
  }
  const chooser = $("city");
  chooser.replaceChildren(...cities.map((c) => new Option(`${c.name} (${c.id})`, c.id)));
  $("city-chooser").hidden = cities.length < 2;
  const wanted = new URLSearchParams(location.search).get("city");
  chooser.value = cities.some((c) => c.id === wanted) ? wanted : cities[0].id;
  chooser.addEventListener("change", () => openCity(widget, chooser.value).catch((e) => setStatus(e.message, true)));
  await openCity(widget, chooser.value);
  window.twinViewer.evacuation = initEvacuationPanel($("evacuation"), widget, $("flood"), () => state.city);
  window.twinViewer.flood = initFloodPanel($("flood"), widget, () => state.city);
  const flood = window.twinViewer.flood;
  window.twinViewer.layers = initLayersPanel($("layers"), widget, { currentCity: () => state.city,
    buildings: () => state.loaded?.buildings, floodOverlay: () => flood.overlay, floodElement: $("flood") });
  window.twinViewer.live = initLivePanel($("live"), $("alert-banner"));
  window.twinViewer.templates = initTemplatesPanel($("templates"), widget, flood, () => state.city);
  window.twinViewer.compare = initComparePanel($("compare"), widget, () => state.city);
  window.twinViewer.ensemble = initEnsemblePanel($("ensemble"), widget, () => state.loaded?.buildings, () => state.city);
  window.twinViewer.forecast = initForecastPanel($("forecast"), widget, $("legend"), () => state.loaded?.buildings, () => state.city);
  $("flood").addEventListener("flood-job", () => {
    window.twinViewer.compare.refresh();
    if (state.mode === "simulated") colourBy("simulated").catch((e) => setStatus(e.message, true));
  });
  resolveReady(widget);
}

start().catch((error) => setStatus(`起動できません · failed to start: ${error.message}`, true));
