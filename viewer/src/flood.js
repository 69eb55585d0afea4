// Scenario panel: run a built-in flood scenario on the open city (staff key), follow its progress
// over server-sent events, then animate the depth frames over the 3D city with a time slider.
import * as Cesium from "/cesium/index.js";
import { sessionHeaders, signedIn } from "./signin.js";
import { CLASSES } from "./shared/depth-classes.js";
import { el } from "./shared/dom.js";
import { api, setStaffKey, staffKey } from "./api.js";

const FRAME_MS = 800;

function loadImage(url) {
  const image = new Image();
  image.src = url;
  return image.decode().then(() => image);
}

function formatTime(seconds) {
  const m = Math.round(seconds / 60);
  return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}`;
}

/** Lon/lat of block corner (row, col) of a surface (``corners``: NW, NE, SW, SE of the grid), bilinearly. */
function cornerAt(surface, row, col) {
  const [nw, ne, sw, se] = surface.corners;
  const u = col / surface.cols;
  const v = row / surface.rows;
  const lerp = (i) => (1 - v) * ((1 - u) * nw[i] + u * ne[i]) + v * ((1 - u) * sw[i] + u * se[i]);
  return [lerp(0), lerp(1)];
}

/**
 * The water of one frame as a mesh at its surface elevation (GET /api/scenarios/{id}/frames/{k}/surface): a
 * flat quad per wet block at ground + depth (+ the city's ellipsoidal offset), textured with the frame's
 * MLIT colours. Buildings stand through it: the water shows on the ground and up their walls to its depth,
 * and a roof above the water keeps its colour — a ground primitive would drape the colours over every
 * 3D tile under it, roofs included (Cesium classifies all tilesets alike).
 */
function surfaceGeometry(surface, rectangle, offset) {
  const [west, south, east, north] = rectangle;
  const wet = [];
  surface.wse_m.forEach((h, i) => { if (h !== null) wet.push(i); });
  const positions = new Float64Array(wet.length * 12);
  const st = new Float32Array(wet.length * 8);
  const indices = new Uint32Array(wet.length * 6);
  const point = new Cesium.Cartesian3();
  wet.forEach((i, n) => {
    const row = Math.floor(i / surface.cols);
    const col = i % surface.cols;
    const height = surface.wse_m[i] + offset;
    [[row, col], [row, col + 1], [row + 1, col + 1], [row + 1, col]].forEach(([r, c], j) => {
      const [lon, lat] = cornerAt(surface, r, c);
      Cesium.Cartesian3.fromDegrees(lon, lat, height, undefined, point);
      positions.set([point.x, point.y, point.z], (4 * n + j) * 3);
      st.set([(lon - west) / (east - west), (lat - south) / (north - south)], (4 * n + j) * 2);
    });
    indices.set([0, 1, 2, 0, 2, 3].map((j) => 4 * n + j), 6 * n);
  });
  return new Cesium.Geometry({
    attributes: {
      position: new Cesium.GeometryAttribute({ componentDatatype: Cesium.ComponentDatatype.DOUBLE,
        componentsPerAttribute: 3, values: positions }),
      st: new Cesium.GeometryAttribute({ componentDatatype: Cesium.ComponentDatatype.FLOAT,
        componentsPerAttribute: 2, values: st }),
    },
    indices, primitiveType: Cesium.PrimitiveType.TRIANGLES,
    boundingSphere: Cesium.BoundingSphere.fromVertices(positions),
  });
}

/** The flood overlay: the water of the shown frame (``surfaceGeometry``), rebuilt per frame. */
class DepthOverlay {
  constructor(widget, currentCity) {
    this.widget = widget;
    this.currentCity = currentCity;
    this.primitive = null;
    this.visible = true;
    this.frames = null;
    this.images = new Map();
    this.surfaces = new Map();
  }

  async show(frames) {
    this.clear();
    this.frames = frames;
  }

  image(k) {
    if (!this.images.has(k)) this.images.set(k, loadImage(this.frames.urls[k]));
    return this.images.get(k);
  }

  surface(k) {
    if (!this.surfaces.has(k)) this.surfaces.set(k, api(`${this.frames.urls[k].replace(/\.png$/, "")}/surface`));
    return this.surfaces.get(k);
  }

  async showFrame(k) {
    const frames = this.frames;
    const [image, surface] = await Promise.all([this.image(k), this.surface(k)]);
    if (frames !== this.frames) return; // another result was opened meanwhile
    this.removePrimitive();
    if (surface.wse_m.some((h) => h !== null)) {
      const material = Cesium.Material.fromType("Image", { image, color: new Cesium.Color(1, 1, 1, 0.85) });
      this.primitive = this.widget.scene.primitives.add(new Cesium.Primitive({
        geometryInstances: new Cesium.GeometryInstance({
          geometry: surfaceGeometry(surface, frames.rectangle, this.currentCity()?.ellipsoidal_offset ?? 0) }),
        appearance: new Cesium.EllipsoidSurfaceAppearance({ material, aboveGround: true, flat: true, translucent: true }),
        asynchronous: false,
      }));
      this.primitive.show = this.visible;
    }
    if (k + 1 < frames.count) { this.image(k + 1); this.surface(k + 1); } // preload the next frame
    this.widget.scene.requestRender();
  }

  /** Show or hide the water (the layers panel's switch); kept for the frames still to come. */
  setVisible(visible) {
    this.visible = visible;
    if (this.primitive) this.primitive.show = visible;
    this.widget.scene.requestRender();
  }

  removePrimitive() {
    if (this.primitive) this.widget.scene.primitives.remove(this.primitive);
    this.primitive = null;
  }

  clear() {
    this.removePrimitive();
    this.images.clear();
    this.surfaces.clear();
  }
}

/** Build the panel in ``element``; ``currentCity()`` gives the open city's manifest. */
export function initFloodPanel(element, widget, currentCity) {
  const overlay = new DepthOverlay(widget, currentCity);
  const ui = {
    scenario: el("select", { id: "flood-scenario" }),
    // Why a built-in template fits only the sample city (/api/scenarios/builtin sample_city_only), shown under it.
    scenarioNote: el("p", { id: "flood-scenario-note", className: "flood-note", hidden: true }),
    key: el("input", { id: "flood-key", type: "password", placeholder: "twin_…", autocomplete: "off",
                       value: staffKey() ?? "" }),
    run: el("button", { id: "flood-run", type: "button", textContent: "実行 Run" }),
    progress: el("progress", { id: "flood-progress", max: 1, value: 0, hidden: true, ariaLabel: "進行 Progress" }),
    jobs: el("select", { id: "flood-jobs" }),
    open: el("button", { id: "flood-open", type: "button", textContent: "表示 Show" }),
    slider: el("input", { id: "flood-time", type: "range", min: 0, max: 0, step: 1, value: 0, disabled: true,
                          ariaLabel: "経過時間 Elapsed time" }),
    play: el("button", { id: "flood-play", type: "button", textContent: "▶", disabled: true, ariaLabel: "再生 Play" }),
    time: el("output", { id: "flood-time-label", textContent: "–" }),
    message: el("p", { id: "flood-message", className: "flood-message" }),
  };
  const legend = el("ul", { className: "flood-legend" },
    ...CLASSES.map((c) => el("li", {}, el("span", { className: "swatch", style: `background:${c.colour}` }), c.label_en)));
  element.replaceChildren(
    el("h2", { textContent: "浸水シナリオ Flood scenario" }),
    el("label", {}, "シナリオ ", ui.scenario),
    ui.scenarioNote,
    el("label", {}, "職員キー Staff key ", ui.key),
    el("div", { className: "flood-row" }, ui.run, ui.progress),
    el("label", {}, "結果 Results ", ui.jobs, ui.open),
    el("div", { className: "flood-row" }, ui.play, ui.slider, ui.time),
    legend, ui.message,
  );
  let timer = null;
  let frames = null;
  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
    if (isError) console.warn(`flood: ${text}`);
  };

  async function refreshJobs(select = null) {
    const city = currentCity();
    const { jobs } = await api("/api/scenarios");
    const done = jobs.filter((j) => j.status === "done" && (!city || j.city === city.id));
    ui.jobs.replaceChildren(...done.map((j) => new Option(`${j.scenario.title?.ja ?? j.scenario.name} · ${j.created}`, j.id)));
    if (select) ui.jobs.value = select;
    ui.open.disabled = done.length === 0;
    return done;
  }

  async function showFrame(k) {
    ui.slider.value = String(k);
    ui.time.textContent = formatTime(frames.times_s[k]);
    element.dataset.frame = String(k);
    element.dispatchEvent(new CustomEvent("flood-time", { detail: { jobId: element.dataset.job, t: frames.times_s[k] } }));
    await overlay.showFrame(k);
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    ui.play.textContent = "▶";
  }

  async function openJob(jobId) {
    stop();
    frames = await api(`/api/scenarios/${jobId}/frames`);
    await overlay.show(frames);
    ui.slider.max = String(frames.count - 1);
    ui.slider.disabled = ui.play.disabled = false;
    element.dataset.job = jobId;
    await showFrame(0);
    const summary = await api(`/api/scenarios/${jobId}/summary.json`);
    const b = summary.buildings;
    say(`最大浸水深 max depth ${summary.max_depth_m.toFixed(2)} m · 浸水建物 wetted buildings ${b.wetted} / ${b.count}`);
    element.dispatchEvent(new CustomEvent("flood-job", { detail: { jobId, t: frames.times_s[Number(ui.slider.value)] } }));
  }

  function follow(job) {
    ui.progress.hidden = false;
    ui.progress.value = 0;
    const events = new EventSource(job.links.events);
    events.addEventListener("progress", (e) => { ui.progress.value = JSON.parse(e.data).fraction; });
    const finish = async (e) => {
      events.close();
      const state = JSON.parse(e.data);
      ui.progress.value = state.status === "done" ? 1 : ui.progress.value;
      ui.run.disabled = false;
      if (state.status !== "done") { say(`${state.status}: ${state.reason ?? ""}`, true); return; }
      await refreshJobs(state.id);
      await openJob(state.id);
    };
    for (const name of ["done", "failed", "cancelled"]) events.addEventListener(name, (e) => finish(e).catch((err) => say(err.message, true)));
  }

  ui.key.addEventListener("change", () => setStaffKey(ui.key.value.trim()));
  ui.run.addEventListener("click", async () => {
    const key = ui.key.value.trim();
    if (!key && !signedIn()) { say("職員キーかサインインが必要です · a staff key or a sign-in is needed to run a scenario", true); return; }
    if (key) setStaffKey(key);
    ui.run.disabled = true;
    try {
      const job = await api("/api/scenarios", {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(key ? { Authorization: `Bearer ${key}` } : sessionHeaders()) },
        body: JSON.stringify({ city: currentCity().id, scenario: ui.scenario.value }),
      });
      say(`実行中 running ${job.id}`);
      follow(job);
    } catch (error) {
      ui.run.disabled = false;
      say(error.message, true);
    }
  });
  ui.open.addEventListener("click", () => ui.jobs.value && openJob(ui.jobs.value).catch((e) => say(e.message, true)));
  ui.slider.addEventListener("input", () => { stop(); showFrame(Number(ui.slider.value)); });
  ui.play.addEventListener("click", () => {
    if (timer) { stop(); return; }
    ui.play.textContent = "❚❚";
    timer = setInterval(() => {
      const next = (Number(ui.slider.value) + 1) % frames.count;
      showFrame(next);
    }, FRAME_MS);
  });

  const ready = (async () => {
    const { scenarios } = await api("/api/scenarios/builtin");
    ui.scenario.replaceChildren(...scenarios.map((s) => Object.assign(new Option(`${s.title.ja} · ${s.title.en}`, s.name),
      { title: s.description })));
    const notes = new Map(scenarios.map((s) => [s.name, s.sample_city_only]));
    const showNote = () => {
      const note = notes.get(ui.scenario.value);
      ui.scenarioNote.hidden = !note;
      ui.scenarioNote.textContent = note ? `⚠ ${note.ja} · ${note.en[0].toUpperCase()}${note.en.slice(1)}` : "";
    };
    ui.scenario.addEventListener("change", showNote);
    showNote();
    await refreshJobs();
  })();
  return { ready, refreshJobs, openJob, showFrame, overlay };
}
