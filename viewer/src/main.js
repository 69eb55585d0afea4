// Operations console: choose a city, colour its buildings, click one to read its attributes.
// Exposes window.twinViewer for tests and scripts; sets body[data-tileset-loaded] when ready.
import "./cesium-base.js";
import * as Cesium from "/cesium/index.js";
import { getBuilding, getCity, getConfig, listCities } from "./api.js";
import { styleFor } from "./colouring.js";
import { initEvacuationPanel } from "./evacuation.js";
import { initFloodPanel } from "./flood.js";
import { renderLegend } from "./legend.js";
import { hidePanel, showBuilding, showMessage } from "./panel.js";
import { createScene, featureAt, highlightColour, loadCity, onLeftClick, pagePosition, removeCity, viewCity } from "./scene.js";
import { initSignIn } from "./signin.js";

const $ = (id) => document.getElementById(id);
const state = { city: null, loaded: null, mode: $("colour-by").value, selected: null };

function setStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
  if (isError) console.error(message);
}

function clearSelection() {
  if (state.selected) state.selected.feature.color = state.selected.colour;
  state.selected = null;
  hidePanel($("panel"));
}

async function select(feature) {
  clearSelection();
  if (!feature) return null;
  const gmlId = feature.getProperty("gml_id");
  state.selected = { feature, colour: Cesium.Color.clone(feature.color) };
  feature.color = highlightColour;
  try {
    showBuilding($("panel"), await getBuilding(state.city.id, gmlId), clearSelection);
  } catch (error) {
    showMessage($("panel"), `${gmlId}: ${error.message}`);
  }
  return gmlId;
}

function colourBy(mode) {
  state.mode = mode;
  if (state.loaded) state.loaded.buildings.style = styleFor(mode);
  renderLegend($("legend"), mode);
}

async function openCity(widget, id) {
  clearSelection();
  removeCity(widget, state.loaded);
  state.loaded = null;
  document.body.dataset.tilesetLoaded = "false";
  setStatus("読み込み中… loading");
  state.city = await getCity(id);
  const loaded = await loadCity(widget, state.city, styleFor(state.mode));
  state.loaded = loaded;
  window.twinViewer.tileset = loaded.buildings;
  viewCity(widget, loaded, state.city);
  await loaded.ready;
  document.body.dataset.tilesetLoaded = "true";
  setStatus(`${state.city.name} · ${state.city.counts?.buildings ?? "?"} 棟 buildings`);
}

async function start() {
  const config = await getConfig();
  $("attribution").textContent = config.attribution;
  const widget = createScene($("globe"), { imageryUrl: config.imagery_url, imageryCredit: config.imagery_credit });
  let resolveReady;
  window.twinViewer = {
    viewer: widget,
    tileset: null,
    ready: new Promise((resolve) => { resolveReady = resolve; }),
    /** gml_id of the building at page position (x, y) in CSS pixels, or null. */
    pickAt: (x, y) => featureAt(widget, x, y)?.getProperty("gml_id") ?? null,
    /** Page position of lon/lat/orthometric height, e.g. a building's roof centre; null if off screen. */
    pagePosition: (lon, lat, height) => pagePosition(widget, lon, lat, height + (state.city?.ellipsoidal_offset ?? 0)),
    colourBy,
  };
  onLeftClick(widget, (feature) => select(feature));
  $("colour-by").addEventListener("change", (event) => colourBy(event.target.value));
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
  resolveReady(widget);
}

start().catch((error) => setStatus(`起動できません · failed to start: ${error.message}`, true));
