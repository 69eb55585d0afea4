// The 3D scene: an offline CesiumWidget (no ion, no imagery unless configured) and a city's tilesets.
// Kept plain so that the first view draws quickly without a GPU (software WebGL, bench/viewer.py): no sky,
// atmosphere, fog, HDR or FXAA, and tilesets lit by a fixed sun and a constant sky light — Cesium's own
// image-based lighting renders and filters an environment map from the atmosphere, and costs more per pixel.
import * as Cesium from "/cesium/index.js";
import { installBrdfLut } from "./brdf-lut.js";

const GLOBE_COLOUR = "#30404a";

/** A CesiumWidget that needs nothing from the internet; ``imageryUrl`` adds an XYZ layer; ``creditContainer``
 * holds Cesium's credits (the page's footer, where no panel covers them). */
export function createScene(container, { imageryUrl = null, imageryCredit = "", creditContainer = undefined } = {}) {
  Cesium.Ion.defaultAccessToken = "";
  const widget = new Cesium.CesiumWidget(container, {
    creditContainer,
    baseLayer: false,
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    skyBox: false,
    skyAtmosphere: false,
    shouldAnimate: false,
  });
  const { scene } = widget;
  installBrdfLut(scene); // Cesium would render its own on the first frame: seconds without a GPU
  scene.fog.enabled = false;
  scene.highDynamicRange = false;
  scene.postProcessStages.fxaa.enabled = false;
  if (scene.sun) scene.sun.show = false;
  if (scene.moon) scene.moon.show = false;
  // The globe (the ground the hazard layers and overlays drape over) loads its own tiles frame by frame;
  // loadCity shows it once the buildings' first view is drawn, which is then about twice as fast.
  scene.globe.show = false;
  // Draw only when something changes, not 60 times a second: Cesium renders by itself on camera moves,
  // tile loads and geometry built in its workers; every change this viewer makes through the API (styles,
  // shown or hidden primitives, agents) asks for a frame with scene.requestRender(). An idle page draws
  // nothing: a timer that drew 4 frames a second kept software WebGL busy on both cores of an idle machine.
  scene.requestRenderMode = true;
  scene.maximumRenderTimeChange = Infinity;
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

// A constant sky light (the first spherical-harmonic term only) instead of Cesium's generated environment
// map: walls out of the sun stay readable, and nothing is rendered to make it.
const AMBIENT = new Cesium.Cartesian3(0.45, 0.45, 0.5);
const ZERO = Cesium.Cartesian3.ZERO;

/**
 * Tileset options: a constant sky light and no environment map (the sun is ``lightFrom``), and every
 * tile of the view requested at once — foveated loading holds back the tiles off the centre of the
 * screen, which then arrive a few (slow) frames later.
 */
const tilesetOptions = () => ({
  foveatedScreenSpaceError: false,
  imageBasedLighting: new Cesium.ImageBasedLighting({
    imageBasedLightingFactor: new Cesium.Cartesian2(1, 0),
    sphericalHarmonicCoefficients: [AMBIENT, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO],
  }),
  environmentMapOptions: { enabled: false },
});

/** A sun fixed in the city's sky (south-south-east, 50° up) whatever the clock says: the city never goes dark. */
function lightFrom(city) {
  const [lon, lat] = city.center ?? [0, 0];
  const frame = Cesium.Transforms.eastNorthUpToFixedFrame(Cesium.Cartesian3.fromDegrees(lon, lat));
  const azimuth = Cesium.Math.toRadians(160);
  const elevation = Cesium.Math.toRadians(50);
  const towardsGround = new Cesium.Cartesian3(-Math.sin(azimuth) * Math.cos(elevation),
    -Math.cos(azimuth) * Math.cos(elevation), -Math.sin(elevation));
  const direction = Cesium.Matrix4.multiplyByPointAsVector(frame, towardsGround, new Cesium.Cartesian3());
  return new Cesium.DirectionalLight({ direction: Cesium.Cartesian3.normalize(direction, direction), intensity: 1.2 });
}

async function addTileset(primitives, url) {
  const tileset = await Cesium.Cesium3DTileset.fromUrl(url, tilesetOptions());
  tileset.tileFailed.addEventListener(({ url: tile, message }) => console.error(`tile failed: ${tile}: ${message}`));
  return primitives.add(tileset);
}

/**
 * Load a city (its manifest from /api/cities/{id}) into ``widget``: its buildings, then, once their
 * first view is drawn, the globe and the city's terrain if listed (context, not the first view). Resolves to
 * {buildings, terrain, ready} where ``ready`` resolves when the buildings' first view has loaded and
 * been drawn; ``terrain`` is set when it arrives.
 */
export async function loadCity(widget, city, style) {
  const primitives = widget.scene.primitives;
  widget.scene.light = lightFrom(city);
  const buildings = await addTileset(primitives, city.links.tileset);
  buildings.style = style;
  const loaded = { buildings, terrain: null, removed: false };
  loaded.ready = new Promise((resolve) => {
    const done = buildings.initialTilesLoaded.addEventListener(() => {
      done();
      resolve();
    });
  });
  loaded.ready.then(() => {
    widget.scene.globe.show = true;
    widget.scene.requestRender();
  });
  if (city.links.terrain_tileset) {
    loaded.ready.then(() => (loaded.removed ? null : addTileset(primitives, city.links.terrain_tileset)))
      .then((terrain) => {
        if (terrain && loaded.removed) primitives.remove(terrain);
        else loaded.terrain = terrain;
      })
      .catch((error) => console.error(`terrain: ${error.message}`));
  }
  return loaded;
}

/** Give ``tileset`` a new style and draw it (styles are not among the changes Cesium draws by itself). */
export function restyle(widget, tileset, style) {
  tileset.style = style;
  widget.scene.requestRender();
}

export function removeCity(widget, loaded) {
  if (loaded) loaded.removed = true;
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
