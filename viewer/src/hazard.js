// Public hazard map: the city in 2.5D, official flood depth areas in MLIT colours, the latest simulation
// (labelled as such), and a tap (or the keyboard controls) → depth class there and the nearest shelter.
// Kept light for phones: buildings only (no terrain tileset) and the areas as flat polygons at the
// city's mean ground height — draping them over 3D Tiles (classification) took twice as long to draw.
// No login, no cookies, nothing from outside this server. Sets body[data-tileset-loaded] and
// body[data-hazards-loaded] when ready; exposes window.hazardMap for tests.
import "./cesium-base.js";
import * as Cesium from "/cesium/index.js";
import { getCity, listCities } from "./api.js";
import { applyStrings, initialLanguage, rememberLanguage, strings } from "./i18n.js";
import { createScene, loadCity, pagePosition, viewCity } from "./scene.js";

const $ = (id) => document.getElementById(id);
const AREA_ALPHA = 0.6;
/** Height (m, ellipsoidal) of the flat layers: the city's mean ground height, areas just above. */
const groundHeight = () => (state.city?.center?.[2] ?? 0) + (state.city?.ellipsoidal_offset ?? 0);
const BUILDINGS = new Cesium.Cesium3DTileStyle({ color: "color('#eef1f3')" });
const state = {
  lang: initialLanguage(), city: null, hazards: [], legend: [], areas: null, simulation: null, overlay: null,
  answer: null, place: null, marks: null, route: null,
};

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.detail ?? response.statusText), { status: response.status });
  return body;
}

const t = () => strings(state.lang);
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function swatch(colour) {
  const span = el("span", { className: "swatch" });
  span.style.background = colour;
  return span;
}

// ---- official areas -------------------------------------------------------------------------------------

/** "fld:L2"-style choices present in the city's areas, the maximum assumed scale first. */
function choices(features) {
  const seen = new Map();
  for (const { properties: p } of features) {
    const key = `${p.layer}:${p.scale ?? ""}`;
    if (!seen.has(key)) seen.set(key, { layer: p.layer, scale: p.scale });
  }
  const order = ["fld", "ifld", "htd", "tnm", "rfld"];
  return [...seen.entries()].sort(([, a], [, b]) =>
    order.indexOf(a.layer) - order.indexOf(b.layer) || String(b.scale).localeCompare(String(a.scale)));
}

function choiceLabel({ layer, scale }) {
  const s = t();
  const scaleText = scale === "L2" ? s.scaleL2 : scale === "L1" ? s.scaleL1 : "";
  return [s.layers[layer] ?? layer, scaleText].filter(Boolean).join(" · ");
}

function fillChoices() {
  const select = $("layer");
  const current = select.value;
  select.replaceChildren(...choices(state.hazards).map(([key, c]) => new Option(choiceLabel(c), key)));
  if (current) select.value = current;
}

function polygonsOf(geometry) {
  if (!geometry) return [];
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
}

const ring = (coordinates) => Cesium.Cartesian3.fromDegreesArray(coordinates.slice(0, -1).flat());

function drawAreas(widget, key) {
  const [layer, scale] = key.split(":");
  if (state.areas) widget.scene.primitives.remove(state.areas);
  state.areas = null;
  const chosen = state.hazards
    .filter(({ properties: p }) => p.layer === layer && (p.scale ?? "") === scale && p.colour)
    .sort((a, b) => a.properties.depth_class - b.properties.depth_class);
  const instances = chosen.flatMap((feature) => polygonsOf(feature.geometry).map((rings) => new Cesium.GeometryInstance({
    id: feature.id,
    geometry: new Cesium.PolygonGeometry({
      height: groundHeight() + 0.2,
      polygonHierarchy: new Cesium.PolygonHierarchy(ring(rings[0]), rings.slice(1).map((h) => new Cesium.PolygonHierarchy(ring(h)))),
    }),
    attributes: {
      color: Cesium.ColorGeometryInstanceAttribute.fromColor(
        Cesium.Color.fromCssColorString(feature.properties.colour).withAlpha(AREA_ALPHA)),
    },
  })));
  if (instances.length) {
    state.areas = widget.scene.primitives.add(new Cesium.Primitive({
      geometryInstances: instances, appearance: new Cesium.PerInstanceColorAppearance({ flat: true, translucent: true }),
      asynchronous: false, // a few hundred polygons: quicker here than starting geometry workers
    }));
  }
  document.body.dataset.layer = key;
}

function renderLegend() {
  $("legend-list").replaceChildren(...state.legend.map((entry) =>
    el("li", {}, swatch(entry.colour), state.lang === "ja" ? entry.label_ja : entry.label_en)));
}

// ---- the latest simulation ------------------------------------------------------------------------------

function showSimulation(widget, on) {
  if (state.overlay) widget.scene.primitives.remove(state.overlay);
  state.overlay = null;
  $("simulation-note").hidden = !on;
  if (!on || !state.simulation) return;
  const material = Cesium.Material.fromType("Image", { image: state.simulation.image, color: new Cesium.Color(1, 1, 1, 0.8) });
  state.overlay = widget.scene.primitives.add(new Cesium.Primitive({
    geometryInstances: new Cesium.GeometryInstance({
      geometry: new Cesium.RectangleGeometry({
        rectangle: Cesium.Rectangle.fromDegrees(...state.simulation.rectangle), height: groundHeight() + 0.4,
      }),
    }),
    appearance: new Cesium.MaterialAppearance({ material, translucent: true, flat: true }),
    asynchronous: false,
  }));
}

// ---- a place: depth class and nearest shelter -------------------------------------------------------------

function layerText(area) {
  const s = t();
  const scale = area.scale === "L2" ? s.scaleL2 : area.scale === "L1" ? s.scaleL1 : "";
  return [s.layers[area.layer] ?? area.layer, scale, area.description].filter(Boolean).join(" · ");
}

function classText(area) {
  return state.lang === "ja" ? area.class_label_ja ?? area.rank_label : area.class_label_en ?? area.rank_label;
}

function renderAnswer() {
  const box = $("answer");
  const s = t();
  box.classList.remove("error");
  if (!state.answer) {
    box.replaceChildren(el("p", { id: "hint", textContent: s.tapHint }));
    delete box.dataset.lon;
    return;
  }
  const a = state.answer;
  if (a.error) {
    box.classList.add("error");
    box.replaceChildren(el("p", { textContent: a.status === 404 ? s.outside : `${s.failed}: ${a.error}` }), closeButton());
    return;
  }
  const official = a.official.length
    ? el("ul", { className: "official" }, ...a.official.map((area) =>
      el("li", {}, swatch(area.colour), el("span", { className: "depth", textContent: classText(area) }),
        el("span", { className: "note", textContent: layerText(area) }))))
    : el("p", { className: "depth", textContent: s.notInArea });
  const parts = [
    closeButton(),
    el("h2", { textContent: s.place }),
    el("p", { className: "coords", textContent: `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}` }),
    el("h3", { textContent: s.official }), official,
  ];
  if (a.simulation) {
    const sim = a.simulation;
    const depth = sim.max_depth_m === null ? "–" : sim.depth_class === null ? s.dry : `${sim.max_depth_m.toFixed(2)} m`;
    parts.push(el("h3", { className: "simulation", textContent: `${s.simulated}: ${sim.title}` }),
      el("p", { className: "simulation" }, sim.colour ? swatch(sim.colour) : null, ` ${s.simulatedMax} ${depth}`));
  }
  parts.push(el("h3", { textContent: s.shelter }));
  if (a.shelter) {
    const sh = a.shelter;
    const name = state.lang === "en" && sh.name_en ? `${sh.name_en} (${sh.name})` : sh.name;
    parts.push(
      el("p", { className: "shelter-name", textContent: name }),
      el("dl", { className: "figures" },
        el("dt", { textContent: s.distance }), el("dd", { className: "distance", textContent: `${Math.round(sh.distance_m)} m` }),
        el("dt", { textContent: s.walkTime }),
        el("dd", { className: "walk-time", textContent: `${Math.max(1, Math.round(sh.walk_time_s / 60))} ${s.minutes}` }),
        sh.capacity ? el("dt", { textContent: s.capacity }) : null,
        sh.capacity ? el("dd", { textContent: `${sh.capacity} ${s.people}` }) : null),
      el("p", { className: "note", textContent: s.speedNote(sh.walking_speed_m_s) }));
  } else {
    parts.push(el("p", { textContent: s.noShelter }));
  }
  box.replaceChildren(...parts);
  box.dataset.lon = a.lon;
  box.dataset.lat = a.lat;
}

function closeButton() {
  const button = el("button", { type: "button", className: "close", textContent: "×" });
  button.setAttribute("aria-label", t().close);
  button.addEventListener("click", () => {
    state.answer = null;
    clearMarks();
    renderAnswer();
  });
  return button;
}

function clearMarks() {
  state.marks?.removeAll();
  state.route?.removeAll();
}

function drawMarks(widget, answer) {
  clearMarks();
  const height = groundHeight() + 1;
  const opts = { pixelSize: 12, outlineColor: Cesium.Color.WHITE, outlineWidth: 2, disableDepthTestDistance: Number.POSITIVE_INFINITY };
  state.marks.add({ ...opts, position: Cesium.Cartesian3.fromDegrees(answer.lon, answer.lat, height), color: Cesium.Color.fromCssColorString("#0b5fa5") });
  if (!answer.shelter) return;
  state.marks.add({ ...opts, position: Cesium.Cartesian3.fromDegrees(answer.shelter.lon, answer.shelter.lat, height), color: Cesium.Color.fromCssColorString("#1a9c3c") });
  state.route.add({
    positions: answer.shelter.route.coordinates.map(([lon, lat]) => Cesium.Cartesian3.fromDegrees(lon, lat, height)),
    width: 5, material: Cesium.Material.fromType("Color", { color: Cesium.Color.fromCssColorString("#1a9c3c") }),
  });
}

async function checkAt(widget, lon, lat) {
  const url = `/api/cities/${encodeURIComponent(state.city.id)}/hazard-at?lon=${lon}&lat=${lat}`;
  $("answer").replaceChildren(el("p", { textContent: t().loading }));
  try {
    state.answer = await getJSON(url);
    drawMarks(widget, state.answer);
  } catch (error) {
    state.answer = { error: error.message, status: error.status };
    clearMarks();
  }
  renderAnswer();
  return state.answer;
}

/** lon/lat under canvas position (x, y): the 3D surface when depth picking works, else the ellipsoid. */
function lonLatAtCanvas(widget, position) {
  const { scene } = widget;
  let cartesian = scene.pickPositionSupported ? scene.pickPosition(position) : undefined;
  if (!cartesian) { // open ground: where the view ray meets the ellipsoid raised to the ground height
    const { x, y, z } = Cesium.Ellipsoid.WGS84.radii;
    const h = groundHeight();
    cartesian = widget.camera.pickEllipsoid(position, new Cesium.Ellipsoid(x + h, y + h, z + h));
  }
  if (!cartesian) return null;
  const c = Cesium.Cartographic.fromCartesian(cartesian);
  return { lon: Cesium.Math.toDegrees(c.longitude), lat: Cesium.Math.toDegrees(c.latitude) };
}

function parseCoordinates(text) {
  const numbers = text.split(/[\s,、，]+/).filter(Boolean).map(Number);
  if (numbers.length !== 2 || numbers.some((n) => !Number.isFinite(n))) return null;
  const [a, b] = numbers; // "lat, lon" as maps print it; accept "lon, lat" for Japan (lon > 90)
  return Math.abs(a) > 90 ? { lon: a, lat: b } : { lat: a, lon: b };
}

// ---- start ---------------------------------------------------------------------------------------------

function setLanguage(lang) {
  state.lang = lang;
  applyStrings(document, lang);
  fillChoices();
  renderLegend();
  renderAnswer();
}

async function start() {
  setLanguage(state.lang);
  const widget = createScene($("globe"));
  widget.scene.globe.show = false; // no terrain: the flat areas and the page background are the ground
  widget.scene.backgroundColor = Cesium.Color.fromCssColorString("#cfd8dc");
  state.widget = widget;
  state.marks = widget.scene.primitives.add(new Cesium.PointPrimitiveCollection());
  state.route = widget.scene.primitives.add(new Cesium.PolylineCollection());
  window.hazardMap = {
    widget,
    checkAt: (lon, lat) => checkAt(widget, lon, lat),
    pagePosition: (lon, lat, height) => pagePosition(widget, lon, lat, height + (state.city?.ellipsoidal_offset ?? 0)),
    /** Look straight down at lon/lat from ``range`` metres above the city's mean height. */
    lookDown: (lon, lat, range) => widget.camera.setView({
      destination: Cesium.Cartesian3.fromDegrees(lon, lat, (state.city?.center?.[2] ?? 0) + range),
      orientation: { heading: 0, pitch: -Cesium.Math.PI_OVER_TWO, roll: 0 },
    }),
  };
  $("lang").addEventListener("click", () => {
    const next = state.lang === "ja" ? "en" : "ja";
    rememberLanguage(next);
    setLanguage(next);
  });

  const cities = await listCities();
  if (!cities.length) throw new Error("no cities");
  const wanted = new URLSearchParams(location.search).get("city");
  state.city = await getCity(cities.some((c) => c.id === wanted) ? wanted : cities[0].id);
  const base = `/api/cities/${encodeURIComponent(state.city.id)}`;
  const hazardsLoaded = getJSON(`${base}/hazards`).then((body) => {
    state.hazards = body.features;
    state.legend = body.legend;
    fillChoices();
    renderLegend();
    if ($("layer").value) drawAreas(widget, $("layer").value);
    document.body.dataset.hazardsLoaded = "true";
  }).catch((error) => {
    if (error.status !== 404) throw error;
    document.body.dataset.hazardsLoaded = "none";
  });
  getJSON(`${base}/hazard-simulation`).then(({ simulation }) => {
    state.simulation = simulation;
    $("simulation-toggle").hidden = !simulation;
    $("simulation-title").textContent = simulation ? `: ${simulation.title}` : "";
  }).catch((error) => console.error(`simulation: ${error.message}`));

  const loaded = await loadCity(widget, { ...state.city, links: { ...state.city.links, terrain_tileset: null } }, BUILDINGS);
  viewCity(widget, loaded, state.city);
  $("layer").addEventListener("change", (event) => drawAreas(widget, event.target.value));
  $("simulation").addEventListener("change", (event) => showSimulation(widget, event.target.checked));
  new Cesium.ScreenSpaceEventHandler(widget.canvas).setInputAction(({ position }) => {
    const place = lonLatAtCanvas(widget, position);
    if (place) checkAt(widget, place.lon, place.lat);
  }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
  $("centre").addEventListener("click", () => {
    const canvas = widget.canvas;
    const place = lonLatAtCanvas(widget, new Cesium.Cartesian2(canvas.clientWidth / 2, canvas.clientHeight / 2));
    if (place) checkAt(widget, place.lon, place.lat).then(() => $("answer").focus());
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const place = parseCoordinates($("coords").value);
    if (!place) {
      $("coords").setAttribute("aria-invalid", "true");
      return;
    }
    $("coords").removeAttribute("aria-invalid");
    widget.camera.flyTo({ destination: Cesium.Cartesian3.fromDegrees(place.lon, place.lat, 600), duration: 0.8 });
    checkAt(widget, place.lon, place.lat).then(() => $("answer").focus());
  });
  $("locate").disabled = !navigator.geolocation;
  $("locate").addEventListener("click", () => navigator.geolocation.getCurrentPosition(({ coords }) => {
    widget.camera.flyTo({ destination: Cesium.Cartesian3.fromDegrees(coords.longitude, coords.latitude, 600), duration: 0.8 });
    checkAt(widget, coords.longitude, coords.latitude).then(() => $("answer").focus());
  }, (error) => {
    state.answer = { error: error.message };
    renderAnswer();
  }));
  await Promise.all([loaded.ready, hazardsLoaded]);
  document.body.dataset.tilesetLoaded = "true";
}

start().catch((error) => {
  console.error(`hazard map failed to start: ${error.message}`);
  $("answer").classList.add("error");
  $("answer").textContent = `${t().failed}: ${error.message}`;
});
