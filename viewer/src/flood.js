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

/** The flood overlay: one ground primitive draped over terrain and buildings, its image swapped per frame. */
class DepthOverlay {
  constructor(widget) {
    this.widget = widget;
    this.primitive = null;
    this.images = new Map();
  }

  async show(frames) {
    this.clear();
    this.frames = frames;
    const first = await this.image(0);
    const material = Cesium.Material.fromType("Image", { image: first, color: new Cesium.Color(1, 1, 1, 0.85) });
    this.primitive = this.widget.scene.primitives.add(new Cesium.GroundPrimitive({
      geometryInstances: new Cesium.GeometryInstance({
        geometry: new Cesium.RectangleGeometry({ rectangle: Cesium.Rectangle.fromDegrees(...frames.rectangle) }),
      }),
      appearance: new Cesium.MaterialAppearance({ material, translucent: true, flat: true }),
      classificationType: Cesium.ClassificationType.BOTH,
      asynchronous: false,
    }));
  }

  image(k) {
    if (!this.images.has(k)) this.images.set(k, loadImage(this.frames.urls[k]));
    return this.images.get(k);
  }

  async showFrame(k) {
    const image = await this.image(k);
    if (this.primitive) this.primitive.appearance.material.uniforms.image = image;
    if (k + 1 < this.frames.count) this.image(k + 1); // preload the next frame
    this.widget.scene.requestRender();
  }

  clear() {
    if (this.primitive) this.widget.scene.primitives.remove(this.primitive);
    this.primitive = null;
    this.images.clear();
  }
}

/** Build the panel in ``element``; ``currentCity()`` gives the open city's manifest. */
export function initFloodPanel(element, widget, currentCity) {
  const overlay = new DepthOverlay(widget);
  const ui = {
    scenario: el("select", { id: "flood-scenario" }),
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
    await refreshJobs();
  })();
  return { ready, refreshJobs, openJob, showFrame, overlay };
}
