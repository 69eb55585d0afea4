// Evacuation of a scenario job: agents over the 3D city at the flood slider's time, coloured by
// state, shelters with their load, the clearance curve and shelter loads as charts.
// Follows the flood panel through its "flood-job" and "flood-time" events.
import * as Cesium from "/cesium/index.js";
import { barChart, lineChart } from "./chart.js";
import { el } from "./shared/dom.js";
import { fetchJSON } from "./shared/http.js";

const STATES = {
  waiting: ["#9e9e9e", "待機 waiting"],
  walking: ["#1e88e5", "避難中 walking"],
  arrived: ["#43a047", "到着 arrived"],
  stranded: ["#e53935", "孤立 stranded"],
};
const SHELTER = "#ffffff";
const FULL = "#e53935";

/** Rows of a small CSV with a header line (no quoted commas in the evacuation files but names). */
export function parseCsv(text) {
  const [head, ...lines] = text.trim().split(/\r?\n/);
  const names = head.split(",");
  return lines.filter(Boolean).map((line) => {
    const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g).map((c) => c.replace(/,$/, "").replace(/^"|"$/g, "").replace(/""/g, "\""));
    return Object.fromEntries(names.map((n, i) => [n, cells[i]]));
  });
}

async function getCsv(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  return parseCsv(await response.text());
}

const minutes = (s) => `${Math.round(s / 60)}`;

/** Build the panel in ``element``; ``floodElement`` is the flood panel whose events it follows. */
export function initEvacuationPanel(element, widget, floodElement, currentCity) {
  const agents = widget.scene.primitives.add(new Cesium.PointPrimitiveCollection());
  const shelterPoints = widget.scene.primitives.add(new Cesium.PointPrimitiveCollection());
  const labels = widget.scene.primitives.add(new Cesium.LabelCollection());
  const ui = {
    showAgents: el("input", { id: "evac-show-agents", type: "checkbox", checked: true }),
    showShelters: el("input", { id: "evac-show-shelters", type: "checkbox", checked: true }),
    message: el("p", { id: "evac-message", className: "flood-message" }),
    clearance: el("div", { id: "evac-clearance", className: "evac-chart" }),
    loads: el("div", { id: "evac-loads", className: "evac-chart" }),
  };
  const legend = el("ul", { className: "flood-legend" },
    ...Object.values(STATES).map(([colour, label]) => el("li", {}, el("span", { className: "swatch", style: `background:${colour}` }), label)));
  element.replaceChildren(
    el("h2", { textContent: "避難 Evacuation" }),
    el("div", { className: "flood-row" },
      el("label", {}, ui.showAgents, "人 Agents"), el("label", {}, ui.showShelters, "避難所 Shelters")),
    legend, ui.message, ui.clearance, ui.loads,
  );
  element.hidden = true;
  let current = null; // {jobId, shelters, summary, height}
  let pending = 0;
  let opening = 0;

  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
    if (isError) console.warn(`evacuation: ${text}`);
  };

  function clear() {
    agents.removeAll();
    shelterPoints.removeAll();
    labels.removeAll();
    current = null;
    element.hidden = true;
    delete element.dataset.job;
    delete element.dataset.time;
    widget.scene.requestRender();
  }

  async function openJob(jobId) {
    const ticket = ++opening;
    clear();
    const job = await fetch(`/api/scenarios/${jobId}`).then((r) => (r.ok ? r.json() : null));
    if (!job?.links?.evacuation || ticket !== opening) return; // a flood without an evacuation, or another job opened meanwhile
    const base = `/api/scenarios/${jobId}/evacuation`;
    const found = await fetch(job.links.evacuation);
    if (!found.ok || ticket !== opening) return;
    const [summary, clearance, shelters] = await Promise.all([
      found.json(), getCsv(`${base}/clearance.csv`), getCsv(`${base}/shelters.csv`)]);
    if (ticket !== opening) return;
    const city = currentCity();
    const height = (city?.center?.[2] ?? 0) + (city?.ellipsoidal_offset ?? 0) + 2;
    current = { jobId, shelters, summary, height };
    for (const s of shelters) {
      const position = Cesium.Cartesian3.fromDegrees(Number(s.lon), Number(s.lat), height + 1);
      shelterPoints.add({ position, pixelSize: 14, color: Cesium.Color.fromCssColorString(SHELTER),
        outlineColor: Cesium.Color.BLACK, outlineWidth: 2, disableDepthTestDistance: Number.POSITIVE_INFINITY, id: s.shelter_id });
      labels.add({ position, text: s.name, font: "12px sans-serif", fillColor: Cesium.Color.WHITE,
        outlineColor: Cesium.Color.BLACK, outlineWidth: 3, style: Cesium.LabelStyle.FILL_AND_OUTLINE,
        pixelOffset: new Cesium.Cartesian2(0, -14), disableDepthTestDistance: Number.POSITIVE_INFINITY, id: s.shelter_id });
    }
    lineChart(ui.clearance, {
      series: [
        { name: "arrived", colour: STATES.arrived[0], points: clearance.map((r) => [Number(r.t_s), Number(r.arrived)]) },
        { name: "evacuating", colour: STATES.walking[0], points: clearance.map((r) => [Number(r.t_s), Number(r.evacuating)]) },
        { name: "stranded", colour: STATES.stranded[0], points: clearance.map((r) => [Number(r.t_s), Number(r.stranded)]) },
      ],
      xLabel: "分 min", yLabel: "人 people", xFormat: minutes, yFormat: (y) => String(Math.round(y)),
    });
    element.hidden = false;
    element.dataset.job = jobId;
    say(`${Math.round(summary.people)} 人 people (${summary.time_of_day}) · 到着 arrived ${Math.round(summary.people_arrived)}`
      + ` · 孤立 stranded ${Math.round(summary.people_stranded)}`);
  }

  async function showTime(t) {
    if (!current) return;
    const ticket = ++pending;
    const state = await fetchJSON(`/api/scenarios/${current.jobId}/agents?t=${encodeURIComponent(t)}`);
    if (ticket !== pending || !current) return; // a later time was asked for meanwhile
    const colours = Object.fromEntries(Object.entries(STATES).map(([k, [c]]) => [k, Cesium.Color.fromCssColorString(c)]));
    while (agents.length > state.agents.length) agents.remove(agents.get(agents.length - 1));
    state.agents.forEach((a, i) => {
      const position = Cesium.Cartesian3.fromDegrees(a.lon, a.lat, current.height);
      if (i < agents.length) {
        const point = agents.get(i);
        point.position = position;
        point.color = colours[a.state];
      } else {
        agents.add({ position, color: colours[a.state], pixelSize: 5, disableDepthTestDistance: Number.POSITIVE_INFINITY });
      }
    });
    const counts = Object.fromEntries(Object.keys(STATES).map((k) => [k, 0]));
    for (const a of state.agents) counts[a.state] += 1;
    const bars = current.shelters.map((s) => {
      const load = state.shelter_load[s.shelter_id] ?? 0;
      const capacity = s.capacity === "" ? Infinity : Number(s.capacity);
      return { label: s.name, value: load, colour: load >= capacity ? FULL : STATES.arrived[0] };
    });
    barChart(ui.loads, { bars, yLabel: "収容 people in shelter", yFormat: (v) => String(Math.round(v)) });
    for (let i = 0; i < labels.length; i += 1) {
      const s = current.shelters[i];
      const load = Math.round(state.shelter_load[s.shelter_id] ?? 0);
      labels.get(i).text = `${s.name} ${load}${s.capacity === "" ? "" : `/${Math.round(Number(s.capacity))}`}`;
      shelterPoints.get(i).color = Cesium.Color.fromCssColorString(bars[i].colour === FULL ? FULL : SHELTER);
    }
    element.dataset.time = String(state.t_s);
    element.dataset.counts = JSON.stringify(counts);
    widget.scene.requestRender();
  }

  ui.showAgents.addEventListener("change", () => { agents.show = ui.showAgents.checked; widget.scene.requestRender(); });
  ui.showShelters.addEventListener("change", () => {
    shelterPoints.show = labels.show = ui.showShelters.checked;
    widget.scene.requestRender();
  });
  floodElement.addEventListener("flood-job", (e) => {
    openJob(e.detail.jobId).then(() => showTime(e.detail.t ?? 0)).catch((err) => say(err.message, true));
  });
  floodElement.addEventListener("flood-time", (e) => {
    if (current?.jobId === e.detail.jobId) showTime(e.detail.t).catch((err) => say(err.message, true));
  });
  return { openJob, showTime, clear, agents, shelters: shelterPoints };
}
