// A 2.5D city map on a plain canvas (no WebGL): building footprints extruded obliquely, as seen from
// the south at 50° below the horizon, over flat layers (an optional background of XYZ map tiles, hazard
// areas, a picture on a lon/lat rectangle) and marks. Buildings come from /api/cities/{id}/footprints
// (twin/hazardmap/footprints.py). Drag to pan, wheel or
// pinch to zoom, tap to ask; draws on change only.

const PITCH = (50 * Math.PI) / 180;
const GROUND = Math.sin(PITCH); // north–south ground distances on screen
const UP = Math.cos(PITCH); // heights on screen
const TAP_PX = 6;
const ZOOM_STEP = 1.6;
const MIN_PX_PER_M = 0.02;
const MAX_PX_PER_M = 8;
// Background tiles: at most this many per frame, zoom levels within these bounds.
const MAX_TILES = 80;
const MIN_TILE_ZOOM = 2;
const MAX_TILE_ZOOM = 18;
const EARTH_CIRCUMFERENCE_M = 40075016.686; // Web Mercator tiles: 256 px span this at zoom 0 on the equator
const COLOURS = { ground: "#dde3e6", roof: "#f4f5f6", front: "#b9c1c7", side: "#9aa4ab", edge: "rgba(40,50,58,0.35)" };
// Ground layers (roads, water bodies, bridges): fill and outline of each kind, drawn in this order.
const GROUND_STYLE = {
  water: { fill: "#9cc3e4", line: "#5d8fbf" },
  road: { fill: "#fbfbf8", line: "#b4bcc2" },
  bridge: { fill: "#e9e4d8", line: "#7d7668" },
};
const WATER_LABEL = "#1f4f80";

/** Decode the footprints body: rings in metres about the centre, heights in metres, painter's order. */
function decode(body) {
  const unit = body.unit_m;
  const xy = new Float64Array(body.steps.length);
  const { starts } = body;
  for (let i = 0; i < body.count; i++) {
    let x = 0;
    let y = 0;
    for (let k = starts[i]; k < starts[i + 1]; k++) {
      x = k === starts[i] ? body.steps[2 * k] : x + body.steps[2 * k];
      y = k === starts[i] ? body.steps[2 * k + 1] : y + body.steps[2 * k + 1];
      xy[2 * k] = x * unit;
      xy[2 * k + 1] = y * unit;
    }
  }
  const box = new Float64Array(4 * body.count); // west, south, east, north
  let extent = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < body.count; i++) {
    let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let k = starts[i]; k < starts[i + 1]; k++) {
      w = Math.min(w, xy[2 * k]); e = Math.max(e, xy[2 * k]);
      s = Math.min(s, xy[2 * k + 1]); n = Math.max(n, xy[2 * k + 1]);
    }
    box.set([w, s, e, n], 4 * i);
    extent = [Math.min(extent[0], w), Math.min(extent[1], s), Math.max(extent[2], e), Math.max(extent[3], n)];
  }
  // Which way each ring turns (+1 counter-clockwise), for the walls that face the viewer.
  const turn = new Int8Array(body.count);
  for (let i = 0; i < body.count; i++) {
    let area = 0;
    for (let a = starts[i]; a < starts[i + 1]; a++) {
      const b = a + 1 < starts[i + 1] ? a + 1 : starts[i];
      area += xy[2 * a] * xy[2 * b + 1] - xy[2 * b] * xy[2 * a + 1];
    }
    turn[i] = area > 0 ? 1 : -1;
  }
  const heights = Float64Array.from(body.heights, (h) => h * unit);
  // Far (north) first, so nearer buildings are painted over them.
  const order = Array.from({ length: body.count }, (_, i) => i).sort((a, b) => box[4 * b + 1] - box[4 * a + 1]);
  return { count: body.count, starts, xy, box, turn, heights, order, extent };
}

export class FlatMap {
  /** ``canvas`` fills its parent; ``footprints`` is the /footprints body. */
  constructor(canvas, footprints) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: false });
    this.centre = footprints.centre;
    this.mPerDeg = footprints.metres_per_degree;
    this.city = decode(footprints);
    this.view = { x: 0, y: 0, scale: 1 };
    this.areas = [];
    this.areaAlpha = 0.6;
    this.overlay = null;
    this.background = null;
    this.ground = [];
    this.labels = [];
    this.marks = null;
    this.tapHandlers = [];
    this.pending = false;
    this.resize();
    this.fit();
    this.listen();
    new ResizeObserver(() => { this.resize(); this.request(); }).observe(canvas);
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.width = this.canvas.clientWidth;
    this.height = this.canvas.clientHeight;
    this.canvas.width = Math.max(1, Math.round(this.width * ratio));
    this.canvas.height = Math.max(1, Math.round(this.height * ratio));
    this.ratio = ratio;
  }

  /** Show the whole city. */
  fit() {
    const [w, s, e, n] = this.city.count ? this.city.extent : [-500, -500, 500, 500];
    const scale = Math.min(this.width / (e - w), this.height / ((n - s) * GROUND)) * 0.95;
    this.view = { x: (w + e) / 2, y: (s + n) / 2, scale: clamp(scale, MIN_PX_PER_M, MAX_PX_PER_M) };
    this.request();
  }

  /** Centre on lon/lat with about ``range`` metres across the shorter side of the map. */
  lookAt(lon, lat, range = 600) {
    const { x, y } = this.toMetres(lon, lat);
    this.view = { x, y, scale: clamp(Math.min(this.width, this.height) / range, MIN_PX_PER_M, MAX_PX_PER_M) };
    this.request();
  }

  zoom(factor, px = this.width / 2, py = this.height / 2) {
    const before = this.toGround(px, py);
    this.view.scale = clamp(this.view.scale * factor, MIN_PX_PER_M, MAX_PX_PER_M);
    const after = this.toGround(px, py);
    this.view.x += before.x - after.x;
    this.view.y += before.y - after.y;
    this.request();
  }

  zoomIn() { this.zoom(ZOOM_STEP); }

  zoomOut() { this.zoom(1 / ZOOM_STEP); }

  toMetres(lon, lat) {
    return { x: (lon - this.centre[0]) * this.mPerDeg[0], y: (lat - this.centre[1]) * this.mPerDeg[1] };
  }

  /** CSS pixel position in the canvas of lon/lat at ``height`` metres above the ground. */
  project(lon, lat, height = 0) {
    const { x, y } = this.toMetres(lon, lat);
    return this.screen(x, y, height);
  }

  screen(x, y, height = 0) {
    const { view } = this;
    return {
      x: this.width / 2 + (x - view.x) * view.scale,
      y: this.height / 2 - ((y - view.y) * GROUND + height * UP) * view.scale,
    };
  }

  toGround(px, py) {
    const { view } = this;
    return { x: view.x + (px - this.width / 2) / view.scale, y: view.y - (py - this.height / 2) / (view.scale * GROUND) };
  }

  /** lon/lat of the ground under canvas position (px, py) in CSS pixels. */
  unproject(px, py) {
    const { x, y } = this.toGround(px, py);
    return { lon: this.centre[0] + x / this.mPerDeg[0], lat: this.centre[1] + y / this.mPerDeg[1] };
  }

  /** Flat areas: [{polygons: [[ring of [lon, lat]], ...], colour}], drawn in order with ``alpha``. */
  setAreas(areas, alpha = 0.6) {
    this.areas = areas.map(({ polygons, colour }) => ({
      colour, rings: polygons.flat().map((ring) => ring.map(([lon, lat]) => this.toMetres(lon, lat))),
    }));
    this.areaAlpha = alpha;
    this.request();
  }

  /** The ground people orient by: ``features`` of /api/cities/{id}/map-layers (kind road, water or
   * bridge; lon/lat polygons), water bodies labelled with their names at their ``label_point``. */
  setGround(features) {
    const rings = (geometry) => polygonsOf(geometry).flat().map((ring) => ring.map(([lon, lat]) => this.toMetres(lon, lat)));
    this.ground = Object.keys(GROUND_STYLE).flatMap((kind) => features
      .filter((f) => f.properties.kind === kind).map((f) => ({ kind, rings: rings(f.geometry) })));
    this.labels = features.filter((f) => f.properties.kind === "water" && f.properties.name && f.properties.label_point)
      .map((f) => ({ text: f.properties.name, at: this.toMetres(...f.properties.label_point) }));
    this.request();
  }

  /** A picture over [west, south, east, north] (degrees), or null. */
  setOverlay(image, rectangle, alpha = 0.8) {
    this.overlay = image ? { image, rectangle, alpha } : null;
    this.request();
  }

  /** A background of XYZ tiles (``url`` with {z}, {x}, {y}, e.g. GSI 地理院タイル), or null for none. The tile
   * server must allow cross-origin reads (CORS), as a WebGL map needs too. */
  setBackground(url, maxZoom = MAX_TILE_ZOOM) {
    this.background = url ? { url, maxZoom, tiles: new Map() } : null;
    this.request();
  }

  /** {place: [lon, lat], shelter: [lon, lat] | null, route: [[lon, lat], ...] | null}, or null. */
  setMarks(marks) {
    this.marks = marks;
    this.request();
  }

  onTap(handler) { this.tapHandlers.push(handler); }

  /** Draw at the next animation frame; resolves once drawn. */
  request() {
    if (!this.pending) {
      this.pending = new Promise((resolve) => requestAnimationFrame(() => {
        this.pending = false;
        this.draw();
        resolve();
      }));
    }
    return this.pending;
  }

  draw() {
    const { ctx } = this;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.fillStyle = COLOURS.ground;
    ctx.fillRect(0, 0, this.width, this.height);
    this.drawBackground();
    this.drawGround();
    this.drawAreas();
    this.drawOverlay();
    this.drawBuildings();
    this.drawLabels();
    this.drawMarks();
  }

  drawGround() {
    const { ctx } = this;
    ctx.lineWidth = 1;
    for (const { kind, rings } of this.ground) {
      ctx.beginPath();
      for (const ring of rings) {
        ring.forEach(({ x, y }, k) => {
          const p = this.screen(x, y);
          if (k === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y);
        });
        ctx.closePath();
      }
      ctx.fillStyle = GROUND_STYLE[kind].fill;
      ctx.strokeStyle = GROUND_STYLE[kind].line;
      ctx.fill("evenodd");
      ctx.stroke();
    }
  }

  /** Water bodies' names, haloed so that they read over roofs and hazard colours. */
  drawLabels() {
    const { ctx } = this;
    ctx.font = "italic 600 13px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.fillStyle = WATER_LABEL;
    for (const { text, at } of this.labels) {
      const p = this.screen(at.x, at.y);
      if (p.x < 0 || p.y < 0 || p.x > this.width || p.y > this.height) continue;
      ctx.strokeText(text, p.x, p.y);
      ctx.fillText(text, p.x, p.y);
    }
  }

  drawAreas() {
    const { ctx } = this;
    ctx.globalAlpha = this.areaAlpha;
    for (const area of this.areas) {
      ctx.beginPath();
      for (const ring of area.rings) {
        ring.forEach(({ x, y }, k) => {
          const p = this.screen(x, y);
          if (k === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y);
        });
        ctx.closePath();
      }
      ctx.fillStyle = area.colour;
      ctx.fill("evenodd");
    }
    ctx.globalAlpha = 1;
  }

  /** The background tiles that cover the view, at the zoom whose pixels are closest to the screen's. */
  drawBackground() {
    const bg = this.background;
    if (!bg) return;
    const lat0 = this.centre[1];
    const metresPerPixelAtZoom0 = (EARTH_CIRCUMFERENCE_M * Math.cos((lat0 * Math.PI) / 180)) / 256;
    const z = clamp(Math.round(Math.log2(metresPerPixelAtZoom0 * this.view.scale)), MIN_TILE_ZOOM, bg.maxZoom);
    const nw = this.unproject(0, 0);
    const se = this.unproject(this.width, this.height);
    const [x0, y0] = tileOf(nw.lon, nw.lat, z);
    const [x1, y1] = tileOf(se.lon, se.lat, z);
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > MAX_TILES) return;
    for (let x = x0; x <= x1; x++) {
      for (let y = y0; y <= y1; y++) {
        const tile = this.tile(z, x, y);
        if (!tile.complete || !tile.naturalWidth) continue;
        const a = this.project(tileLon(x, z), tileLat(y, z));
        const b = this.project(tileLon(x + 1, z), tileLat(y + 1, z));
        this.ctx.drawImage(tile, a.x, a.y, b.x - a.x, b.y - a.y);
      }
    }
  }

  tile(z, x, y) {
    const key = `${z}/${x}/${y}`;
    const { tiles, url } = this.background;
    let image = tiles.get(key);
    if (!image) {
      image = new Image();
      image.crossOrigin = "anonymous";
      image.decoding = "async";
      image.addEventListener("load", () => this.request());
      image.src = url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      tiles.set(key, image);
    }
    return image;
  }

  drawOverlay() {
    if (!this.overlay) return;
    const [w, s, e, n] = this.overlay.rectangle;
    const a = this.project(w, n);
    const b = this.project(e, s);
    this.ctx.globalAlpha = this.overlay.alpha;
    this.ctx.drawImage(this.overlay.image, a.x, a.y, b.x - a.x, b.y - a.y);
    this.ctx.globalAlpha = 1;
  }

  drawBuildings() {
    const { ctx, city, view } = this;
    const { xy, starts, box, heights } = city;
    const halfW = this.width / 2;
    const halfH = this.height / 2;
    const k = view.scale;
    const sx = (x) => halfW + (x - view.x) * k;
    const sy = (y, h) => halfH - ((y - view.y) * GROUND + h * UP) * k;
    const detailed = k > 0.6; // walls and outlines only when a building is several pixels wide
    ctx.lineWidth = 1;
    ctx.strokeStyle = COLOURS.edge;
    for (const i of city.order) {
      const h = heights[i];
      const left = sx(box[4 * i]);
      const right = sx(box[4 * i + 2]);
      const top = sy(box[4 * i + 3], h);
      const bottom = sy(box[4 * i + 1], 0);
      if (right < 0 || left > this.width || bottom < 0 || top > this.height) continue;
      const first = starts[i];
      const last = starts[i + 1];
      const n = last - first;
      if (n < 3) continue;
      // Walls facing the viewer (south side of the ring), shaded by how squarely they face south.
      const turn = city.turn[i]; // counter-clockwise rings: outward normal of edge (dx, dy) is (dy, −dx)
      for (const [style, front] of [[COLOURS.front, true], [COLOURS.side, false]]) {
        ctx.beginPath();
        let any = false;
        for (let a = first; a < last; a++) {
          const b = a + 1 < last ? a + 1 : first;
          const dx = xy[2 * b] - xy[2 * a];
          const dy = xy[2 * b + 1] - xy[2 * a + 1];
          const ny = -dx * turn;
          if (ny >= 0) continue; // faces away
          if ((Math.abs(ny) >= Math.abs(dy)) !== front) continue;
          const xa = sx(xy[2 * a]);
          const xb = sx(xy[2 * b]);
          ctx.moveTo(xa, sy(xy[2 * a + 1], 0));
          ctx.lineTo(xb, sy(xy[2 * b + 1], 0));
          ctx.lineTo(xb, sy(xy[2 * b + 1], h));
          ctx.lineTo(xa, sy(xy[2 * a + 1], h));
          ctx.closePath();
          any = true;
        }
        if (any) {
          ctx.fillStyle = style;
          ctx.fill();
        }
      }
      ctx.beginPath();
      for (let a = first; a < last; a++) {
        if (a === first) ctx.moveTo(sx(xy[2 * a]), sy(xy[2 * a + 1], h));
        else ctx.lineTo(sx(xy[2 * a]), sy(xy[2 * a + 1], h));
      }
      ctx.closePath();
      ctx.fillStyle = COLOURS.roof;
      ctx.fill();
      if (detailed) ctx.stroke();
    }
  }

  drawMarks() {
    if (!this.marks) return;
    const { ctx } = this;
    const { place, shelter, route } = this.marks;
    if (route?.length) {
      ctx.beginPath();
      route.forEach(([lon, lat], k) => {
        const p = this.project(lon, lat);
        if (k === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y);
      });
      ctx.lineWidth = 5;
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#1a9c3c";
      ctx.stroke();
    }
    for (const [point, colour] of [[shelter, "#1a9c3c"], [place, "#0b5fa5"]]) {
      if (!point) continue;
      const p = this.project(point[0], point[1]);
      ctx.beginPath();
      ctx.arc(p.x, p.y, 7, 0, 2 * Math.PI);
      ctx.fillStyle = colour;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  }

  /** Pointer gestures: one finger (or the mouse) pans, two pinch, a short press is a tap; the wheel zooms. */
  listen() {
    const canvas = this.canvas;
    const pointers = new Map();
    let gesture = null;
    const local = (event) => {
      const box = canvas.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    };
    canvas.addEventListener("pointerdown", (event) => {
      canvas.setPointerCapture(event.pointerId);
      pointers.set(event.pointerId, local(event));
      gesture = { moved: false, start: local(event), view: { ...this.view }, spread: spread(pointers) };
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!pointers.has(event.pointerId) || !gesture) return;
      pointers.set(event.pointerId, local(event));
      const p = local(event);
      if (Math.hypot(p.x - gesture.start.x, p.y - gesture.start.y) > TAP_PX) gesture.moved = true;
      if (!gesture.moved) return;
      if (pointers.size === 1) {
        this.view.x = gesture.view.x - (p.x - gesture.start.x) / gesture.view.scale;
        this.view.y = gesture.view.y + (p.y - gesture.start.y) / (gesture.view.scale * GROUND);
        this.request();
      } else if (pointers.size === 2 && gesture.spread) {
        const [a, b] = [...pointers.values()];
        this.zoom(spread(pointers) / gesture.spread, (a.x + b.x) / 2, (a.y + b.y) / 2);
        gesture.spread = spread(pointers);
      }
    });
    const end = (event) => {
      if (!pointers.has(event.pointerId)) return;
      const tap = gesture && !gesture.moved && pointers.size === 1 && event.type === "pointerup";
      pointers.delete(event.pointerId);
      if (tap) {
        const p = local(event);
        const place = this.unproject(p.x, p.y);
        for (const handler of this.tapHandlers) handler(place);
      }
      gesture = pointers.size ? { moved: true, start: [...pointers.values()][0], view: { ...this.view }, spread: spread(pointers) } : null;
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("wheel", (event) => {
      event.preventDefault();
      const p = local(event);
      this.zoom(Math.exp(-event.deltaY * 0.002), p.x, p.y);
    }, { passive: false });
  }
}

/** The polygons (lists of rings) of a GeoJSON Polygon or MultiPolygon; none for other types. */
export function polygonsOf(geometry) {
  if (!geometry) return [];
  return geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
}

/** The XYZ tile (x, y) holding lon/lat at zoom z (Web Mercator, OSM numbering). */
function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const phi = (clamp(lat, -85.0511, 85.0511) * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * n);
  const y = Math.floor(((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * n);
  return [clamp(x, 0, n - 1), clamp(y, 0, n - 1)];
}

const tileLon = (x, z) => (x / 2 ** z) * 360 - 180;
const tileLat = (y, z) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** z))) * 180) / Math.PI;

function spread(pointers) {
  if (pointers.size !== 2) return 0;
  const [a, b] = [...pointers.values()];
  return Math.hypot(a.x - b.x, a.y - b.y);
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
