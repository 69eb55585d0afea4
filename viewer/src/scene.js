// The 3D scene: an offline CesiumWidget (no ion, no imagery unless configured) and a city's tilesets.
import * as Cesium from "/cesium/index.js";

const GLOBE_COLOUR = "#30404a";
const HEARTBEAT_MS = 250;

/** A CesiumWidget that needs nothing from the internet; ``imageryUrl`` adds an XYZ layer. */
export function createScene(container, { imageryUrl = null, imageryCredit = "" } = {}) {
  Cesium.Ion.defaultAccessToken = "";
  const widget = new Cesium.CesiumWidget(container, {
    baseLayer: false,
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    skyBox: false,
    shouldAnimate: false,
  });
  const { scene } = widget;
  // Draw when something changes, not 60 times a second: Cesium renders on camera moves and
  // tile loads by itself; a slow heartbeat shows changes made through the API (styles,
  // overlays, agents) within a quarter of a second.
  scene.requestRenderMode = true;
  scene.maximumRenderTimeChange = Infinity;
  setInterval(() => scene.requestRender(), HEARTBEAT_MS);
  scene.globe.baseColor = Cesium.Color.fromCssColorString(GLOBE_COLOUR);
  scene.backgroundColor = Cesium.Color.fromCssColorString("#10171b");
  scene.globe.showGroundAtmosphere = false;
  if (imageryUrl) {
    widget.imageryLayers.addImageryProvider(
      new Cesium.UrlTemplateImageryProvider({ url: imageryUrl, credit: imageryCredit || undefined }),
    );
  }
  return widget;
}

/**
 * Load a city (its manifest from /api/cities/{id}) into ``widget``: terrain if listed, then buildings.
 * Resolves to {buildings, terrain, ready} where ``ready`` resolves when the buildings' first view has loaded.
 */
export async function loadCity(widget, city, style) {
  const primitives = widget.scene.primitives;
  const terrain = city.links.terrain_tileset
    ? primitives.add(await Cesium.Cesium3DTileset.fromUrl(city.links.terrain_tileset))
    : null;
  const buildings = primitives.add(await Cesium.Cesium3DTileset.fromUrl(city.links.tileset));
  buildings.style = style;
  const ready = new Promise((resolve) => {
    const done = buildings.initialTilesLoaded.addEventListener(() => {
      done();
      resolve();
    });
  });
  for (const tileset of [buildings, terrain]) {
    tileset?.tileFailed.addEventListener(({ url, message }) => console.error(`tile failed: ${url}: ${message}`));
  }
  return { buildings, terrain, ready };
}

export function removeCity(widget, loaded) {
  for (const tileset of [loaded?.buildings, loaded?.terrain]) {
    if (tileset) widget.scene.primitives.remove(tileset);
  }
}

/** Point the camera obliquely at the buildings (or the manifest bbox when there are none). */
export function viewCity(widget, loaded, city, duration = 0) {
  const sphere = loaded?.buildings?.boundingSphere;
  if (sphere) {
    const range = Math.max(sphere.radius * 2.4, 150);
    widget.camera.flyToBoundingSphere(sphere, {
      duration, offset: new Cesium.HeadingPitchRange(Cesium.Math.toRadians(20), Cesium.Math.toRadians(-50), range),
    });
  } else if (city.bbox) {
    widget.camera.flyTo({ destination: Cesium.Rectangle.fromDegrees(...city.bbox), duration });
  }
}

/** The 3D Tiles feature under page position (x, y), or undefined. */
export function featureAt(widget, x, y) {
  const box = widget.canvas.getBoundingClientRect();
  return featureAtCanvas(widget, new Cesium.Cartesian2(x - box.left, y - box.top));
}

function featureAtCanvas(widget, position) {
  const picked = widget.scene.pick(position);
  return picked instanceof Cesium.Cesium3DTileFeature ? picked : undefined;
}

/** Page (CSS pixel) position of lon/lat/height (orthometric + the manifest's ellipsoidal offset). */
export function pagePosition(widget, lon, lat, height) {
  const position = Cesium.SceneTransforms.worldToWindowCoordinates(
    widget.scene, Cesium.Cartesian3.fromDegrees(lon, lat, height));
  if (!position) return null;
  const box = widget.canvas.getBoundingClientRect();
  return { x: box.left + position.x, y: box.top + position.y };
}

/** Call ``handler(feature or undefined)`` on every left click on the globe. */
export function onLeftClick(widget, handler) {
  const events = new Cesium.ScreenSpaceEventHandler(widget.canvas);
  events.setInputAction(({ position }) => handler(featureAtCanvas(widget, position)),
    Cesium.ScreenSpaceEventType.LEFT_CLICK);
  return events;
}

// Cyan: apart from every usage, height and MLIT flood colour.
export const highlightColour = Cesium.Color.fromCssColorString("#00e5ff");
