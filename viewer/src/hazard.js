// Public hazard map: the city in 2.5D, official flood depth areas in MLIT colours, the latest simulation
// and the forecast City staff published (each labelled as such, one drawn at a time; a forecast past its
// valid-until time is said to have expired and not drawn), and a tap (or the keyboard controls) → what the City knows there, each answer with its
// source (official areas, the buildings' own official depths, or that there is no data), and the nearest
// shelter with the walk to it.
// Drawn on a plain canvas (flatmap.js: footprints extruded obliquely over the flat areas), not with
// WebGL: a phone without a fast GPU shows it at once (bench/viewer.py). No login, no cookies, nothing
// from outside this server. Sets body[data-hazards-loaded] when the areas are in and
// body[data-tileset-loaded] once the buildings and areas are drawn; exposes window.hazardMap for tests.
import { fetchJSON as getJSON, getCity, getConfig, listCities } from "./shared/http.js";
import { FlatMap, polygonsOf } from "./flatmap.js";
import { applyStrings, initialLanguage, rememberLanguage, strings } from "./i18n.js";
import { el } from "./shared/dom.js";

const $ = (id) => document.getElementById(id);
const state = {
  lang: initialLanguage(), city: null, hazards: [], legend: [], simulation: null, forecast: null, pictures: {},
  answer: null, map: null, rivers: [],
};

const t = () => strings(state.lang);
/** A scenario title ({ja, en}) in the page's language. */
const titled = (title) => (typeof title === "string" ? title : title?.[state.lang] ?? title?.ja ?? title?.en ?? "");

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
  const options = choices(state.hazards).map(([key, c]) => new Option(choiceLabel(c), key));
  select.replaceChildren(...(options.length ? options : [new Option(t().noAreas, "")]));
  select.disabled = !options.length; // no area map: the answers come from the buildings' attributes
  if (current) select.value = current;
}

function drawAreas(key) {
  const [layer, scale] = key.split(":");
  const chosen = state.hazards
    .filter(({ properties: p }) => p.layer === layer && (p.scale ?? "") === scale && p.colour)
    .sort((a, b) => a.properties.depth_class - b.properties.depth_class);
  state.map.setAreas(chosen.map((feature) => ({ polygons: polygonsOf(feature.geometry), colour: feature.properties.colour })));
  document.body.dataset.layer = key;
}

/** The rivers the official river-flood maps are drawn for, under the legend. */
function renderRivers() {
  const rivers = state.rivers ?? [];
  $("rivers").hidden = !rivers.length;
  $("rivers").textContent = rivers.length ? t().rivers(rivers.map((r) => r.name).join("、")) : "";
}

function renderLegend() {
  $("legend-list").replaceChildren(...state.legend.map((entry) =>
    el("li", {}, swatch(entry.colour), state.lang === "ja" ? entry.label_ja : entry.label_en)));
}

// ---- overlays: the latest simulation or the published forecast, one at a time ---------------------------

/** What each overlay checkbox draws ({image, rectangle}), or null when there is nothing to draw. */
const overlays = {
  simulation: () => state.simulation,
  forecast: () => (state.forecast?.status === "current" ? state.forecast : null),
};

/** Draw the checked overlay (checking one unchecks the other), with its note under the legend. */
async function showOverlay(kind) {
  if ($(kind).checked) for (const other of Object.keys(overlays)) if (other !== kind) $(other).checked = false;
  const shown = Object.keys(overlays).find((k) => $(k).checked && overlays[k]());
  $("simulation-note").hidden = shown !== "simulation";
  $("forecast-note").hidden = shown !== "forecast";
  if (!shown) {
    state.map.setOverlay(null);
    return;
  }
  const item = overlays[shown]();
  if (state.pictures[shown]?.src !== new URL(item.image, location.href).href) {
    state.pictures[shown] = new Image();
    state.pictures[shown].src = item.image;
  }
  const picture = state.pictures[shown];
  await picture.decode();
  if ($(shown).checked) state.map.setOverlay(picture, item.rectangle);
}

/** A time from the API (UTC) in the reader's zone and language. */
function when(iso) {
  return new Date(iso).toLocaleString(state.lang === "ja" ? "ja-JP" : "en-GB",
    { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

/** The forecast's checkbox (while current) or the note that it expired, with its issue and valid-until times. */
function renderForecast() {
  const f = state.forecast;
  const s = t();
  const current = f?.status === "current";
  $("forecast-toggle").hidden = !current;
  $("forecast-times").textContent = current ? ` (${s.issuedAt(when(f.issued))})` : "";
  $("forecast-note").textContent = current ? s.forecastNote(when(f.issued), when(f.valid_until)) : "";
  $("forecast-expired").hidden = f?.status !== "expired";
  $("forecast-expired").textContent = f?.status === "expired" ? s.forecastExpired(when(f.issued), when(f.valid_until)) : "";
  document.body.dataset.forecast = f?.status ?? "none";
}

/** Ask for the published forecast now, again every 5 minutes and when the shown one runs out. */
async function refreshForecast(base) {
  const { forecast } = await getJSON(`${base}/hazard-forecast`);
  state.forecast = forecast;
  renderForecast();
  if (state.map) await showOverlay("forecast"); // the map is drawn after the first answer
  const untilEnd = forecast?.status === "current" ? Date.parse(forecast.valid_until) - Date.now() + 1000 : Infinity;
  setTimeout(() => refreshForecast(base).catch((error) => console.error(`forecast: ${error.message}`)),
    Math.max(1000, Math.min(5 * 60 * 1000, untilEnd)));
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

/** The official answer, each line labelled with its source: areas, the buildings' own depths, or why none. */
function officialParts(a) {
  const s = t();
  const parts = [];
  if (a.official.length) {
    parts.push(el("ul", { className: "official" }, ...a.official.map((area) =>
      el("li", { className: "area" }, swatch(area.colour), el("span", { className: "depth", textContent: classText(area) }),
        el("span", { className: "note", textContent: `${layerText(area)} · ${s.areaSource}` })))));
  }
  const b = a.buildings;
  if (b?.depths.length) {
    // the deepest river of each layer and scale first (depths come deepest first), every river below
    const seen = new Set();
    const deepest = b.depths.filter((d) => !seen.has(`${d.layer}:${d.scale}`) && seen.add(`${d.layer}:${d.scale}`));
    parts.push(el("p", { className: "source", textContent: s.buildingSource(b) }),
      el("ul", { className: "official buildings" }, ...deepest.map(buildingLine)));
    if (deepest.length < b.depths.length) {
      parts.push(el("details", { className: "all-depths" }, el("summary", { textContent: s.allRivers(b.depths.length) }),
        el("ul", { className: "official buildings" }, ...b.depths.map(buildingLine))));
    }
  } else if (b && b.basis === "tapped") {
    parts.push(el("p", { className: "note building-none", textContent: s.buildingNoDepth }));
  }
  if (a.verdict === "outside-areas") {
    const layers = a.data.area_layers.map((layer) => s.layers[layer] ?? layer).join("、");
    parts.push(el("p", { className: "depth verdict", textContent: s.outsideAreas(layers) }));
  } else if (a.verdict === "no-data") {
    parts.push(el("p", { className: "depth verdict no-data", textContent: s.noData }));
  }
  return parts;
}

function buildingLine(d) {
  const s = t();
  return el("li", { className: "building-depth" }, swatch(d.colour),
    el("span", { className: "depth", textContent: d.depth_m === null ? classText(d) : s.depthRange(d.depth_min_m, d.depth_m) }),
    el("span", { className: "note", textContent: buildingNote(d) }));
}

function buildingNote(d) {
  const s = t();
  const scale = d.scale === "L2" ? s.scaleL2 : d.scale === "L1" ? s.scaleL1 : d.scale;
  const river = d.description ?? (d.description_code ? s.riverCode(d.description_code) : null);
  return [s.layers[d.layer] ?? d.layer, scale, river, classText(d),
    d.duration_h ? s.duration(d.duration_h) : null].filter(Boolean).join(" · ");
}

function shelterParts(a) {
  const s = t();
  const parts = [el("h3", { textContent: s.shelter })];
  const sh = a.shelter;
  if (!sh) {
    const why = { "no-shelter-list": s.noShelterList, "no-flood-shelter": s.noFloodShelter }[a.shelter_status];
    parts.push(el("p", { className: "no-shelter", textContent: why ?? s.noShelter }));
    return parts;
  }
  const name = (x) => (state.lang === "en" && x.name_en ? `${x.name_en} (${x.name})` : x.name);
  const minutes = (seconds) => Math.max(1, Math.round(seconds / 60));
  const walked = sh.basis === "walk";
  parts.push(
    el("p", { className: "shelter-name", textContent: name(sh) }),
    el("dl", { className: "figures" },
      walked ? el("dt", { textContent: s.distance }) : null,
      walked ? el("dd", { className: "distance", textContent: `${Math.round(sh.distance_m)} m` }) : null,
      el("dt", { textContent: s.straight }), el("dd", { className: "straight", textContent: `${Math.round(sh.straight_m)} m` }),
      el("dt", { textContent: s.walkTime }),
      el("dd", { className: "walk-time", textContent: walked ? `${minutes(sh.walk_time_s)} ${s.minutes}`
        : s.atLeast(minutes(sh.straight_m / sh.walking_speed_m_s)) }),
      sh.capacity ? el("dt", { textContent: s.capacity }) : null,
      sh.capacity ? el("dd", { textContent: `${sh.capacity} ${s.people}` }) : null),
    el("p", { className: "note", textContent: walked ? s.speedNote(sh.walking_speed_m_s) : s.straightOnly }));
  if (a.shelters_off_grid?.length) {
    parts.push(el("p", { className: "note", textContent: s.offGrid }),
      el("ul", { className: "off-grid" }, ...a.shelters_off_grid.map((o) =>
        el("li", {}, el("span", { textContent: name(o) }), el("span", { className: "note", textContent: `${Math.round(o.straight_m)} m` })))));
  }
  return parts;
}

function renderAnswer() {
  const box = $("answer");
  const s = t();
  box.classList.remove("error");
  if (!state.answer) {
    box.replaceChildren(el("p", { id: "hint", textContent: s.tapHint }));
    delete box.dataset.lon;
    delete box.dataset.verdict;
    return;
  }
  const a = state.answer;
  if (a.error) {
    box.classList.add("error");
    box.replaceChildren(el("p", { textContent: a.status === 404 ? s.outside : `${s.failed}: ${a.error}` }), closeButton());
    return;
  }
  const parts = [
    closeButton(),
    el("h2", { textContent: s.place }),
    el("p", { className: "coords", textContent: `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}` }),
    el("h3", { textContent: s.official }), ...officialParts(a),
  ];
  if (a.simulation) {
    const sim = a.simulation;
    const depth = sim.max_depth_m === null ? "–" : sim.depth_class === null ? s.dry : `${sim.max_depth_m.toFixed(2)} m`;
    parts.push(el("h3", { className: "simulation", textContent: `${s.simulated}: ${titled(sim.title)}` }),
      el("p", { className: "simulation" }, sim.colour ? swatch(sim.colour) : null, ` ${s.simulatedMax} ${depth}`));
  }
  if (a.forecast) parts.push(...forecastParts(a.forecast));
  parts.push(...shelterParts(a));
  box.replaceChildren(...parts);
  box.dataset.lon = a.lon;
  box.dataset.lat = a.lat;
  box.dataset.verdict = a.verdict;
}

/** The published forecast at the place: labelled 予測 / forecast with its times; only a note once expired. */
function forecastParts(f) {
  const s = t();
  if (f.status !== "current") return [el("p", { className: "forecast note", textContent: s.forecastExpired(when(f.issued), when(f.valid_until)) })];
  const depth = f.max_depth_m === null ? "–" : f.depth_class === null ? s.dry : `${f.max_depth_m.toFixed(2)} m`;
  return [el("h3", { className: "forecast", textContent: `${s.forecast} (${s.issuedAt(when(f.issued))})` }),
    el("p", { className: "forecast" }, f.colour ? swatch(f.colour) : null, ` ${s.forecastMax} ${depth}`),
    el("p", { className: "note", textContent: s.forecastNote(when(f.issued), when(f.valid_until)) })];
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
  state.map?.setMarks(null);
}

function drawMarks(answer) {
  const { shelter } = answer;
  state.map.setMarks({
    place: [answer.lon, answer.lat], shelter: shelter ? [shelter.lon, shelter.lat] : null,
    route: shelter?.route?.coordinates ?? null,
  });
}

async function checkAt(lon, lat) {
  const url = `/api/cities/${encodeURIComponent(state.city.id)}/hazard-at?lon=${lon}&lat=${lat}`;
  $("answer").replaceChildren(el("p", { textContent: t().loading }));
  try {
    state.answer = await getJSON(url);
    drawMarks(state.answer);
  } catch (error) {
    state.answer = { error: error.detail ?? error.message, status: error.status };
    clearMarks();
  }
  renderAnswer();
  return state.answer;
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
  renderRivers();
  renderAnswer();
  renderSimulationTitle();
  renderForecast();
}

function renderSimulationTitle() {
  $("simulation-title").textContent = state.simulation ? `: ${titled(state.simulation.title)}` : "";
}

/** Page position (CSS pixels) of lon/lat at ``height`` metres above the ground. */
function pagePosition(lon, lat, height = 0) {
  const box = $("map").getBoundingClientRect();
  const p = state.map.project(lon, lat, height);
  return { x: box.left + p.x, y: box.top + p.y };
}

async function start() {
  setLanguage(state.lang);
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
  const hazards = getJSON(`${base}/hazards`).catch((error) => {
    if (error.status !== 404) throw error;
    return null;
  });
  getJSON(`${base}/hazard-simulation`).then(({ simulation }) => {
    state.simulation = simulation;
    $("simulation-toggle").hidden = !simulation;
    renderSimulationTitle();
  }).catch((error) => console.error(`simulation: ${error.message}`));
  const forecast = refreshForecast(base).catch((error) => console.error(`forecast: ${error.message}`));

  const [footprints, config, ground] = await Promise.all([getJSON(`${base}/footprints`), getConfig(),
    getJSON(`${base}/map-layers`)]);
  const map = new FlatMap($("map"), footprints);
  state.map = map;
  map.setGround(ground.features); // roads, rivers and bridges under the areas
  state.rivers = ground.rivers;
  renderRivers();
  document.body.dataset.ground = ground.layers.join(" ");
  if (config.imagery_url) { // an operator's background map (off by default: the page then asks nothing outside)
    map.setBackground(config.imagery_url);
    $("attribution").append(el("span", { id: "imagery-credit", textContent: ` · ${config.imagery_credit}` }));
  }
  window.hazardMap = {
    map,
    checkAt: (lon, lat) => checkAt(lon, lat),
    pagePosition,
    /** Centre the map on lon/lat with about ``range`` metres across it. */
    lookDown: (lon, lat, range) => map.lookAt(lon, lat, range),
  };
  const body = await hazards;
  if (body) {
    state.hazards = body.features;
    state.legend = body.legend;
    fillChoices();
    renderLegend();
    if ($("layer").value) drawAreas($("layer").value);
  }
  document.body.dataset.hazardsLoaded = body ? "true" : "none";
  $("layer").addEventListener("change", (event) => drawAreas(event.target.value));
  for (const kind of Object.keys(overlays)) {
    $(kind).addEventListener("change", () => showOverlay(kind).catch((error) => console.error(`${kind}: ${error.message}`)));
  }
  map.onTap(({ lon, lat }) => checkAt(lon, lat));
  $("zoom-in").addEventListener("click", () => map.zoomIn());
  $("zoom-out").addEventListener("click", () => map.zoomOut());
  $("centre").addEventListener("click", () => {
    const place = map.unproject(map.width / 2, map.height / 2);
    checkAt(place.lon, place.lat).then(() => $("answer").focus());
  });
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const place = parseCoordinates($("coords").value);
    if (!place) {
      $("coords").setAttribute("aria-invalid", "true");
      return;
    }
    $("coords").removeAttribute("aria-invalid");
    map.lookAt(place.lon, place.lat, 600);
    checkAt(place.lon, place.lat).then(() => $("answer").focus());
  });
  $("locate").disabled = !navigator.geolocation;
  $("locate").addEventListener("click", () => navigator.geolocation.getCurrentPosition(({ coords }) => {
    map.lookAt(coords.longitude, coords.latitude, 600);
    checkAt(coords.longitude, coords.latitude).then(() => $("answer").focus());
  }, (error) => {
    state.answer = { error: error.message };
    renderAnswer();
  }));
  await forecast;
  await map.request(); // buildings and areas drawn on the canvas …
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve))); // … and that frame shown
  document.body.dataset.tilesetLoaded = "true";
  performance.mark("first-render"); // bench/viewer.py: navigation → buildings and areas on screen
}

start().catch((error) => {
  console.error(`hazard map failed to start: ${error.message}`);
  $("answer").classList.add("error");
  $("answer").textContent = `${t().failed}: ${error.message}`;
});
