// Live panel: river levels against their three thresholds (氾濫注意水位, 避難判断水位, 氾濫危険水位;
// twin/sensors/alerts.py), rain, and alerts as they arrive over /api/stream (server-sent events),
// with a banner while any gauge is at or above 避難判断水位 (alert level 3).
import { canActAsStaff, getJSON } from "./api.js";
import { lineChart } from "./chart.js";
import { el } from "./shared/dom.js";

const HISTORY = 200; // newest observations drawn per stream
const EVACUATION_LEVEL = 3;
const THRESHOLDS = [
  ["caution", "氾濫注意水位", "#e6b800"],
  ["evacuation", "避難判断水位", "#ff8c00"],
  ["danger", "氾濫危険水位", "#e53935"],
];
const LEVEL_LABELS = ["平常 normal", "水防団待機水位 standby", "氾濫注意水位 flood caution",
  "避難判断水位 evacuation decision", "氾濫危険水位 flood danger"];

const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** "level" (a gauge with thresholds), "rain" (mm or mm/h) or null for other streams. */
export function streamKind(stream) {
  if (Object.keys(stream.properties?.thresholds ?? {}).length > 0) return "level";
  const symbol = stream.unitOfMeasurement?.symbol ?? "";
  const words = `${stream.name} ${stream.description ?? ""}`.toLowerCase();
  if (symbol.startsWith("mm") || /rain|precip|雨量|降水/.test(words)) return "rain";
  return null;
}

/** Chart thresholds [{value, label, colour}] of a level stream (only those it defines). */
export function thresholdLines(stream) {
  const given = stream.properties?.thresholds ?? {};
  return THRESHOLDS.filter(([name]) => typeof given[name] === "number")
    .map(([name, label, colour]) => ({ value: given[name], label, colour }));
}

/** Build the panel in ``element``; ``banner`` is the page's alert banner element. */
export function initLivePanel(element, banner) {
  const streams = new Map(); // datastream id → {stream, kind, points: [[ms, value]], chart}
  const levels = new Map(); // datastream id → alert level
  const charts = el("div", { className: "live-charts" });
  const alertList = el("ul", { className: "live-alerts", id: "live-alerts" });
  const message = el("p", { className: "flood-message" });
  const reload = el("button", { type: "button", id: "live-reload", textContent: "再読込 Reload" });
  element.replaceChildren(el("h2", { textContent: "ライブ Live" }), reload, charts,
    el("h3", { textContent: "警報 Alerts" }), alertList, message);

  function draw(id) {
    const entry = streams.get(id);
    const { stream, kind, points } = entry;
    const unit = stream.unitOfMeasurement?.symbol ?? "";
    lineChart(entry.chart, {
      series: [{ name: stream.name, points, colour: kind === "rain" ? "#1f77b4" : "#0b5394" }],
      yLabel: `${kind === "rain" ? "雨量 rain" : "水位 level"} (${unit})`,
      thresholds: kind === "level" ? thresholdLines(stream) : [],
      xFormat: clock,
      yFormat: (v) => v.toFixed(kind === "rain" ? 0 : 2),
    });
    entry.chart.dataset.points = String(points.length);
  }

  function updateBanner() {
    const high = [...levels].filter(([, level]) => level >= EVACUATION_LEVEL);
    banner.hidden = high.length === 0;
    if (high.length === 0) return;
    const names = high.map(([id, level]) => `${streams.get(id)?.stream.name ?? `#${id}`} (${LEVEL_LABELS[level]})`);
    banner.textContent = `⚠ 避難判断水位を超えています · Above the evacuation decision level: ${names.join(", ")}`;
    banner.dataset.level = String(Math.max(...high.map(([, level]) => level)));
  }

  function addAlert(alert) {
    const name = alert.name ?? streams.get(alert.datastream)?.stream.name ?? `#${alert.datastream}`;
    const item = el("li", { textContent: `${clock(Date.parse(alert.phenomenonTime))} ${name}: `
      + `${LEVEL_LABELS[alert.previousLevel]} → ${LEVEL_LABELS[alert.level]} (${alert.value})` });
    item.dataset.level = String(alert.level);
    alertList.prepend(item);
    while (alertList.children.length > 20) alertList.lastChild.remove();
  }

  async function load() {
    streams.clear();
    charts.replaceChildren();
    message.textContent = "";
    message.classList.remove("error");
    const { alerts } = await getJSON("/api/alerts");
    for (const a of alerts) levels.set(a.datastream, a.level);
    updateBanner();
    if (!canActAsStaff()) {
      message.textContent = "センサーの値は職員のみ · Sign in or enter a staff key to see the sensors.";
      return;
    }
    const { value } = await getJSON("/sta/v1.1/Datastreams?$top=1000");
    for (const stream of value) {
      const kind = streamKind(stream);
      if (!kind) continue;
      const id = stream["@iot.id"];
      const { value: observations } = await getJSON(
        `/sta/v1.1/Datastreams(${id})/Observations?$top=${HISTORY}&$orderby=phenomenonTime desc`);
      const points = observations.filter((o) => typeof o.result === "number")
        .map((o) => [Date.parse(o.phenomenonTime), o.result]).reverse();
      const chart = el("div", { className: "live-chart" });
      chart.dataset.stream = String(id);
      chart.dataset.kind = kind;
      charts.append(el("h3", { textContent: stream.name }), chart);
      streams.set(id, { stream, kind, points, chart });
      draw(id);
    }
    if (streams.size === 0) message.textContent = "センサーがありません · no river or rain gauges yet";
    updateBanner(); // with the gauges' names now known
  }

  function onObservations(data) {
    const entry = streams.get(data.datastream);
    if (!entry) return;
    for (const o of data.observations) {
      if (typeof o.result !== "number") continue;
      entry.points.push([Date.parse(o.phenomenonTime.split("/")[0]), o.result]);
    }
    entry.points.sort((p, q) => p[0] - q[0]);
    entry.points.splice(0, Math.max(0, entry.points.length - HISTORY));
    draw(data.datastream);
  }

  function onAlert(alert) {
    levels.set(alert.datastream, alert.level);
    addAlert(alert);
    updateBanner();
  }

  const fail = (error) => {
    message.textContent = `${error.message} (職員キー staff key?)`;
    message.classList.add("error");
    console.warn(`live: ${error.message}`);
  };
  // Alerts are public: the stream runs even when the gauges' series cannot be read without a key.
  const events = new EventSource("/api/stream");
  events.addEventListener("observations", (e) => onObservations(JSON.parse(e.data)));
  events.addEventListener("alert", (e) => onAlert(JSON.parse(e.data)));
  events.addEventListener("open", () => { element.dataset.live = "true"; });
  const ready = load().catch(fail);
  reload.addEventListener("click", () => load().catch(fail));
  return { ready, reload: load };
}
