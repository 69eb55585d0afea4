// Layers panel: switch on and off what is drawn over the city — the buildings, the official
// hazard layers (fld river, tnm tsunami, htd high tide, ifld inland, rfld reservoir; MLIT colours
// from /api/cities/{city}/hazards), the simulated depth of the open scenario, the sensors with
// their latest values (SensorThings), the flood shelters, and the roads, rivers and bridges of the City
// (/api/cities/{city}/map-layers, draped over the terrain; rivers named).
// Hazard layers the city's data lacks are disabled, with a note (/api/cities/{city}/hazard-layers).
// Exposes the state of each layer on the panel element (data-on="fld sensors …", data-missing="tnm …") for tests.
import * as Cesium from "/cesium/index.js";
import { canActAsStaff, getJSON } from "./api.js";
import { el } from "./shared/dom.js";

const HAZARD_LAYERS = [
  ["fld", "洪水浸水想定区域", "River flood"],
  ["tnm", "津波浸水想定", "Tsunami"],
  ["htd", "高潮浸水想定区域", "Storm surge"],
  ["ifld", "内水浸水想定区域", "Inland flood"],
  ["rfld", "ため池浸水想定区域", "Reservoir flood"],
];
// Roads, water bodies and bridges draped over the terrain, as on the public map (flatmap.js).
const GROUND_COLOURS = { water: "#5d9cd6", road: "#e9ebe6", bridge: "#c9bfa6" };
const SENSOR_COLOUR = "#00e5ff";
const SHELTER_COLOUR = "#43a047";
// Sensors: each Thing with its Locations and Datastreams, each stream with its newest observation.
const SENSORS_URL = "/sta/v1.1/Things?$top=1000&$expand=Locations,"
  + "Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))";

/** Point features [{lon, lat, text}] drawn as dots with labels, in one primitive collection pair. */
class PointLayer {
  constructor(widget, colour) {
    this.widget = widget;
    this.colour = Cesium.Color.fromCssColorString(colour);
    this.points = widget.scene.primitives.add(new Cesium.PointPrimitiveCollection());
    this.labels = widget.scene.primitives.add(new Cesium.LabelCollection());
    this.show = false;
  }

  draw(items) {
    this.points.removeAll();
    this.labels.removeAll();
    for (const { lon, lat, text } of items) {
      const position = Cesium.Cartesian3.fromDegrees(lon, lat, 0);
      // On the ellipsoid, drawn through everything (no clamping: these collections have no scene to clamp in).
      this.points.add({ position, pixelSize: 11, color: this.colour, outlineColor: Cesium.Color.BLACK, outlineWidth: 2,
        disableDepthTestDistance: Number.POSITIVE_INFINITY });
      this.labels.add({ position, text, font: "13px sans-serif", fillColor: Cesium.Color.WHITE,
        outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE,
        pixelOffset: new Cesium.Cartesian2(8, -8), horizontalOrigin: Cesium.HorizontalOrigin.LEFT,
        disableDepthTestDistance: Number.POSITIVE_INFINITY });
    }
    this.setShown(this.show);
  }

  setShown(show) {
    this.show = show;
    this.points.show = this.labels.show = show;
    this.widget.scene.requestRender();
  }
}

/** One ground primitive of GeoJSON (Multi)Polygon ``features``, each in ``colourOf(feature)`` at ``alpha``,
 * draped over the terrain and the buildings. */
function polygonPrimitive(features, colourOf, alpha) {
  const ring = (coordinates) => Cesium.Cartesian3.fromDegreesArray(coordinates.flatMap(([lon, lat]) => [lon, lat]));
  const instances = features.flatMap((feature) => {
    const { geometry } = feature;
    const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : geometry.type === "Polygon" ? [geometry.coordinates] : [];
    const colour = Cesium.Color.fromCssColorString(colourOf(feature) ?? "#888888").withAlpha(alpha);
    return polygons.map(([outer, ...holes]) => new Cesium.GeometryInstance({
      geometry: new Cesium.PolygonGeometry({
        polygonHierarchy: new Cesium.PolygonHierarchy(ring(outer), holes.map((h) => new Cesium.PolygonHierarchy(ring(h)))),
      }),
      attributes: { color: Cesium.ColorGeometryInstanceAttribute.fromColor(colour) },
    }));
  });
  return new Cesium.GroundPrimitive({
    geometryInstances: instances,
    appearance: new Cesium.PerInstanceColorAppearance({ flat: true, translucent: true }),
    classificationType: Cesium.ClassificationType.BOTH,
  });
}

/** A hazard layer's areas (a /hazards collection), each in its MLIT colour. */
export const hazardPrimitive = (collection) => polygonPrimitive(collection.features, (f) => f.properties.colour, 0.6);

/** The City's roads, water bodies and bridges (map-layers features), each kind in its colour. */
export const groundPrimitive = (features) => polygonPrimitive(features, (f) => GROUND_COLOURS[f.properties.kind], 0.85);

/** "name: value unit" lines of a Thing's streams, from their newest observation. */
export function sensorText(thing) {
  const lines = (thing.Datastreams ?? []).map((stream) => {
    const newest = stream.Observations?.[0];
    const unit = stream.unitOfMeasurement?.symbol ?? "";
    const value = typeof newest?.result === "number" ? `${Number(newest.result.toFixed(2))} ${unit}`.trim() : "–";
    return `${stream.name}: ${value}`;
  });
  return [thing.name, ...lines].join("\n");
}

function thingPosition(thing) {
  const location = thing.Locations?.find((l) => l.location?.type === "Point")?.location;
  return location ? { lon: location.coordinates[0], lat: location.coordinates[1] } : null;
}

/**
 * Build the panel in ``element``. ``options``: currentCity() → manifest, buildings() → the
 * buildings tileset, floodOverlay() → the flood panel's overlay, floodElement → the flood
 * panel (its "flood-job" events re-apply the simulated depth switch).
 */
export function initLayersPanel(element, widget, { currentCity, buildings, floodOverlay, floodElement }) {
  const hazards = new Map(); // layer → its GroundPrimitive (null when the city has none), made on first use
  const ground = { primitive: null, labels: null, loaded: false }; // roads, rivers, bridges of the open city
  const sensors = new PointLayer(widget, SENSOR_COLOUR);
  const shelters = new PointLayer(widget, SHELTER_COLOUR);
  const message = el("p", { className: "flood-message" });
  const on = new Set();
  const say = (text, isError = false) => {
    message.textContent = text;
    message.classList.toggle("error", isError);
    if (isError) console.warn(`layers: ${text}`);
  };
  const record = (name, shown) => {
    if (shown) on.add(name); else on.delete(name);
    element.dataset.on = [...on].sort().join(" ");
    widget.scene.requestRender();
  };

  async function showHazard(layer, shown) {
    if (shown && !hazards.has(layer)) {
      const city = currentCity();
      const collection = await getJSON(`/api/cities/${encodeURIComponent(city.id)}/hazards?layer=${layer}`);
      const primitive = collection.features.length ? widget.scene.primitives.add(hazardPrimitive(collection)) : null;
      hazards.set(layer, primitive);
      if (primitive) await built(primitive);
      if (collection.features.length === 0) say(`${layer}: この都市にはありません · none in this city`);
    }
    const primitive = hazards.get(layer);
    if (primitive) primitive.show = shown;
    widget.scene.requestRender();
  }

  /** The City's roads, rivers (named) and bridges; a note when its data has none of them. */
  async function showGround(shown) {
    if (shown && !ground.loaded) {
      const city = currentCity();
      const body = await getJSON(`/api/cities/${encodeURIComponent(city.id)}/map-layers`);
      ground.loaded = true;
      element.dataset.ground = body.layers.join(" ");
      if (body.features.length) {
        ground.primitive = widget.scene.primitives.add(groundPrimitive(body.features));
        ground.labels = widget.scene.primitives.add(new Cesium.LabelCollection());
        for (const f of body.features) {
          const p = f.properties;
          if (p.kind !== "water" || !p.name || !p.label_point) continue;
          ground.labels.add({ position: Cesium.Cartesian3.fromDegrees(...p.label_point, 0), text: p.name,
            font: "italic 14px sans-serif", fillColor: Cesium.Color.fromCssColorString("#d6ecff"),
            outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE,
            disableDepthTestDistance: Number.POSITIVE_INFINITY });
        }
        await built(ground.primitive);
      } else {
        say("道路・河川: この都市のデータにありません · no roads or rivers in this city's data");
      }
      element.dataset.groundReady = "true"; // drawn (tests wait for it before comparing pictures)
    }
    for (const part of [ground.primitive, ground.labels]) if (part) part.show = shown;
    widget.scene.requestRender();
  }

  function dropGround() {
    for (const part of [ground.primitive, ground.labels]) if (part) widget.scene.primitives.remove(part);
    Object.assign(ground, { primitive: null, labels: null, loaded: false });
    delete element.dataset.ground;
    delete element.dataset.groundReady;
  }

  /** Resolves once a ground primitive's geometry, built in web workers, is ready to draw. */
  function built(primitive) {
    return new Promise((resolve) => {
      const remove = widget.scene.postRender.addEventListener(() => {
        if (primitive.ready) { remove(); resolve(); } else widget.scene.requestRender();
      });
      widget.scene.requestRender();
    });
  }

  async function refreshSensors() {
    if (!canActAsStaff()) throw new Error("センサーは職員のみ · sign in or enter a staff key to see the sensors");
    const { value } = await getJSON(SENSORS_URL);
    const items = value.map((thing) => ({ ...thingPosition(thing), text: sensorText(thing) })).filter((i) => i.lon !== undefined);
    sensors.draw(items);
    return items.length;
  }

  async function refreshShelters() {
    const city = currentCity();
    const { features } = await getJSON(`/api/cities/${encodeURIComponent(city.id)}/shelters`);
    shelters.draw(features.map((f) => ({
      lon: f.geometry.coordinates[0], lat: f.geometry.coordinates[1],
      text: `${f.properties.name ?? f.properties.id}${f.properties.capacity ? ` (${f.properties.capacity})` : ""}`,
    })));
    return features.length;
  }

  const simulatedShown = () => on.has("simulated");
  function applySimulated() {
    floodOverlay()?.setVisible(simulatedShown());
    widget.scene.requestRender();
  }

  const switches = [
    ["buildings", "建物", "Buildings", true, async (shown) => { const t = buildings(); if (t) t.show = shown; }],
    ["ground", "道路・河川", "Roads and rivers", true, (shown) => showGround(shown)],
    ...HAZARD_LAYERS.map(([layer, ja, en]) => [layer, ja, en, false, (shown) => showHazard(layer, shown)]),
    ["simulated", "シミュレーション浸水深", "Simulated depth", true, async () => applySimulated()],
    ["sensors", "センサー（最新値）", "Sensors (latest)", false, async (shown) => {
      if (shown) say(`センサー sensors: ${await refreshSensors()}`);
      sensors.setShown(shown);
    }],
    ["shelters", "避難所", "Shelters", false, async (shown) => {
      if (shown) say(`避難所 shelters: ${await refreshShelters()}`);
      shelters.setShown(shown);
    }],
  ];
  const list = el("ul", { className: "layer-list" });
  for (const [name, ja, en, initial, apply] of switches) {
    const box = el("input", { type: "checkbox", checked: initial, id: `layer-${name}` });
    box.dataset.layer = name;
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        record(name, box.checked); // before apply: applySimulated reads it
        await apply(box.checked);
      } catch (error) {
        box.checked = false;
        record(name, false);
        say(error.message, true);
      } finally {
        box.disabled = HAZARD_LAYERS.some(([layer]) => layer === name) && (element.dataset.missing ?? "").split(" ").includes(name);
        element.dataset.busy = String(list.querySelectorAll("input:disabled").length);
      }
    });
    if (initial) on.add(name);
    list.append(el("li", {}, el("label", { htmlFor: box.id }, box, ` ${ja} `, el("span", { className: "en" }, en))));
  }
  element.dataset.on = [...on].sort().join(" ");
  element.replaceChildren(el("h2", { textContent: "レイヤー Layers" }), list, message);
  floodElement.addEventListener("flood-job", applySimulated);

  /** Disable the switches of the hazard layers the open city does not have, each with a note. */
  async function markMissing() {
    const city = currentCity();
    const { layers } = await getJSON(`/api/cities/${encodeURIComponent(city.id)}/hazard-layers`);
    const present = new Set(layers.map((l) => l.layer));
    const missing = [];
    for (const [layer] of HAZARD_LAYERS) {
      const box = list.querySelector(`#layer-${layer}`);
      const item = box.closest("li");
      item.querySelector(".layer-note")?.remove();
      box.disabled = !present.has(layer);
      if (box.disabled) {
        missing.push(layer);
        const note = el("p", { className: "layer-note", id: `layer-${layer}-note`,
                               textContent: "この都市のデータにありません · not in this city's data" });
        box.setAttribute("aria-describedby", note.id);
        item.append(note);
      } else {
        box.removeAttribute("aria-describedby");
      }
    }
    element.dataset.missing = missing.join(" ");
  }
  markMissing().catch((error) => say(error.message, true));
  showGround(true).catch((error) => say(error.message, true));

  /** Drop what belongs to the previous city (hazard areas, shelters) when another one opens. */
  function cityChanged() {
    for (const primitive of hazards.values()) if (primitive) widget.scene.primitives.remove(primitive);
    hazards.clear();
    dropGround();
    for (const box of list.querySelectorAll("input")) {
      if (box.checked && !["buildings", "simulated", "ground"].includes(box.dataset.layer)) {
        box.checked = false;
        record(box.dataset.layer, false);
      }
    }
    sensors.setShown(false);
    shelters.setShown(false);
    markMissing().catch((error) => say(error.message, true));
    showGround(on.has("ground")).catch((error) => say(error.message, true));
  }

  return { cityChanged, refreshSensors, isOn: (name) => on.has(name) };
}

/** gml_id → simulated max adjacent depth (m) of a finished scenario job's buildings. */
export async function simulatedDepths(jobId) {
  const { buildings } = await getJSON(`/api/scenarios/${encodeURIComponent(jobId)}/buildings`);
  return new Map(buildings.map((b) => [b.gml_id, b.max_adjacent_depth_m]));
}
