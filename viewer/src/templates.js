// Scenario templates: a river breach on a river of the city (GET /api/cities/{id}/rivers) near a
// point picked on the map and on a chosen bank (left/right looking downstream, or the side it faces),
// the server snapping it to the river's edge; a cloudburst of a chosen
// intensity, or rain and river stage "from live gauges" (GET /api/scenarios/live-forcing).
// Each builds an inline scenario definition (docs/flood.md), runs it as a job (staff key), shows
// its progress, then opens the result in the flood panel (its refreshJobs/openJob).
import * as Cesium from "/cesium/index.js";
import { el } from "./shared/dom.js";
import { api, canActAsStaff } from "./api.js";
import { sessionHeaders } from "./signin.js";

const HOUR = 3600;
/** The banks a breach can be put on (POST /api/scenarios ``bank``): by the flow, which the server reads
 * from the city's terrain, or by the side they face. */
const BANKS = [["right", "右岸", "right bank (looking downstream)"], ["left", "左岸", "left bank (looking downstream)"],
  ["north", "北側", "north side"], ["south", "南側", "south side"], ["east", "東側", "east side"], ["west", "西側", "west side"]];

function number(id, value, { min = 0, step = "any" } = {}) {
  return el("input", { id, type: "number", value: String(value), min: String(min), step: String(step) });
}

const read = (input) => Number(input.value);

/** Breach hydrograph [[t, m³/s]]: rise to ``peak`` over ``rise`` s, hold ``hold`` s, recede over ``fall`` s. */
export function breachHydrograph(peak, rise, hold, fall) {
  return [[0, 0], [rise, peak], [rise + hold, peak], [rise + hold + fall, 0]];
}

/** Build the template form in ``element``; ``flood`` is the flood panel's API. */
export function initTemplatesPanel(element, widget, flood, currentCity) {
  const ui = {
    kind: el("select", { id: "template-kind" },
      new Option("河川決壊 River breach", "breach"), new Option("集中豪雨 Cloudburst", "cloudburst"),
      new Option("観測値から From live gauges", "live")),
    duration: number("template-duration-h", 2, { step: 0.25 }),
    cell: number("template-cell", 4, { min: 0 }),
    run: el("button", { id: "template-run", type: "button", textContent: "実行 Run" }),
    progress: el("progress", { id: "template-progress", max: 1, value: 0, hidden: true }),
    message: el("p", { id: "template-message", className: "flood-message" }),
  };
  const breach = {
    lon: number("breach-lon", 0, { min: -180 }), lat: number("breach-lat", 0, { min: -90 }),
    pick: el("button", { id: "breach-pick", type: "button", textContent: "地図で選ぶ Pick on map" }),
    river: el("select", { id: "breach-river" }, new Option("– 地点の近く · nearest the point –", "")),
    bank: el("select", { id: "breach-bank" }, new Option("– 地点の側 · the point's side –", ""),
      ...BANKS.map(([value, ja, en]) => new Option(`${ja} · ${en}`, value))),
    peak: number("breach-peak", 500), rise: number("breach-rise-min", 30), hold: number("breach-hold-min", 30),
    fall: number("breach-fall-min", 60),
  };
  const cloudburst = { intensity: number("cloudburst-mm", 100), minutes: number("cloudburst-min", 60) };
  const live = {
    rain: el("select", { id: "live-rain" }), stage: el("select", { id: "live-stage" }),
    side: el("select", { id: "live-side" }, ...["east", "west", "north", "south"].map((s) => new Option(s, s))),
    datum: number("live-datum", 0, { min: -100 }), window: number("live-window-h", 3, { step: 0.5 }),
  };
  const row = (ja, en, ...inputs) => el("label", {}, `${ja} `, el("span", { className: "en" }, en), ...inputs);
  const forms = {
    breach: el("div", {}, row("河川", "river", breach.river), row("堤防", "bank", breach.bank),
      row("決壊地点", "breach lon/lat", breach.lon, breach.lat), breach.pick,
      row("ピーク流量", "peak m³/s", breach.peak), row("上昇", "rise min", breach.rise),
      row("継続", "hold min", breach.hold), row("減衰", "recede min", breach.fall)),
    cloudburst: el("div", {}, row("雨量強度", "mm/h", cloudburst.intensity), row("降雨時間", "rain min", cloudburst.minutes)),
    live: el("div", {}, row("雨量計", "rain gauge", live.rain), row("水位計", "stage gauge", live.stage),
      row("境界", "boundary side", live.side), row("零点高", "gauge zero m T.P.", live.datum),
      row("期間", "last hours", live.window)),
  };
  element.replaceChildren(
    el("h3", { textContent: "テンプレート Templates" }), row("種類", "template", ui.kind),
    ...Object.values(forms),
    row("計算時間", "duration h", ui.duration), row("格子", "cell m (0 = city grid)", ui.cell),
    el("div", { className: "flood-row" }, ui.run, ui.progress), ui.message);
  const say = (text, isError = false) => {
    ui.message.textContent = text;
    ui.message.classList.toggle("error", isError);
    if (isError) console.warn(`templates: ${text}`);
  };

  const marker = widget.entities.add({ show: false, position: Cesium.Cartesian3.fromDegrees(0, 0),
    point: { pixelSize: 12, color: Cesium.Color.RED, outlineColor: Cesium.Color.WHITE, outlineWidth: 2,
             heightReference: Cesium.HeightReference.CLAMP_TO_GROUND, disableDepthTestDistance: Number.POSITIVE_INFINITY } });
  function setBreach(lon, lat) {
    breach.lon.value = lon.toFixed(6);
    breach.lat.value = lat.toFixed(6);
    marker.position = Cesium.Cartesian3.fromDegrees(lon, lat);
    marker.show = true;
    element.dataset.breach = `${breach.lon.value},${breach.lat.value}`;
    widget.scene.requestRender();
  }
  let picking = null;
  breach.pick.addEventListener("click", () => {
    picking?.destroy();
    picking = new Cesium.ScreenSpaceEventHandler(widget.canvas);
    say("地図をクリック · click the map at the breach");
    picking.setInputAction(({ position }) => {
      const cartesian = widget.scene.pickPosition(position) ?? widget.camera.pickEllipsoid(position);
      if (!cartesian) return;
      const c = Cesium.Cartographic.fromCartesian(cartesian);
      setBreach(Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude));
      picking.destroy();
      picking = null;
      say("決壊地点を設定 · breach point set");
    }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
  });

  function showForm() {
    for (const [name, form] of Object.entries(forms)) form.hidden = name !== ui.kind.value;
    element.dataset.kind = ui.kind.value;
  }
  ui.kind.addEventListener("change", showForm);
  showForm();

  /** The city's rivers into the river list (staff); null until loaded, [] for a city without any. */
  let rivers = null;
  let riversOf = null;
  async function loadRivers() {
    const city = currentCity();
    if (!city) return;
    ({ rivers } = await api(`/api/cities/${encodeURIComponent(city.id)}/rivers`));
    riversOf = city.id;
    breach.river.replaceChildren(new Option(rivers.length ? "– 地点の近く · nearest the point –"
      : "– 河川なし · no rivers: the point as it is –", ""), ...rivers.map((r) => new Option(r, r)));
    element.dataset.rivers = String(rivers.length);
  }
  breach.river.addEventListener("focus", () => {
    if (rivers === null || riversOf !== currentCity()?.id) loadRivers().catch((e) => say(`${e.message} (職員キー staff key?)`, true));
  });
  // Staff only: without a key yet the list loads on focus or at Run (no 401 in the console at start).
  if (ui.kind.value === "breach" && canActAsStaff()) loadRivers().catch(() => {});

  async function loadGauges() {
    const { value } = await api("/sta/v1.1/Datastreams?$top=1000");
    const none = () => new Option("– なし none –", "");
    live.rain.replaceChildren(none(), ...value.map((s) => new Option(s.name, s["@iot.id"])));
    live.stage.replaceChildren(none(), ...value.map((s) => new Option(s.name, s["@iot.id"])));
    const rain = value.find((s) => (s.unitOfMeasurement?.symbol ?? "").startsWith("mm"));
    const stage = value.find((s) => Object.keys(s.properties?.thresholds ?? {}).length > 0);
    if (rain) live.rain.value = String(rain["@iot.id"]);
    if (stage) live.stage.value = String(stage["@iot.id"]);
  }
  ui.kind.addEventListener("change", () => {
    if (ui.kind.value === "live") loadGauges().catch((e) => say(`${e.message} (職員キー staff key?)`, true));
  });

  /** Where the server places the breach: ``{river, at}`` on a city with rivers, else {} (the point as given). */
  async function placement() {
    if (ui.kind.value !== "breach") return {};
    if (rivers === null || riversOf !== currentCity()?.id) await loadRivers();
    const point = element.dataset.breach ? [read(breach.lon), read(breach.lat)] : null;
    if (!rivers.length) return {};
    if (!breach.river.value && !point) throw new Error("河川か決壊地点を選んでください · choose a river or pick the breach point on the map");
    return { ...(breach.river.value ? { river: breach.river.value } : {}), ...(point ? { at: point } : {}),
             ...(breach.bank.value ? { bank: breach.bank.value } : {}) };
  }

  /** The inline scenario of the chosen template. */
  async function definition() {
    const duration = read(ui.duration) * HOUR;
    const base = { duration_s: duration, output_interval_s: Math.max(60, Math.round(duration / 12)), buildings: "walls" };
    if (ui.kind.value === "breach") {
      const peak = read(breach.peak);
      const inflow = { name: "breach",
        m3_per_s: breachHydrograph(peak, read(breach.rise) * 60, read(breach.hold) * 60, read(breach.fall) * 60) };
      if (rivers !== null && !rivers.length) {  // no river to snap to: the picked point itself
        if (!element.dataset.breach) throw new Error("決壊地点を選んでください · pick the breach point on the map first");
        inflow.lonlat = [read(breach.lon), read(breach.lat)];
      }
      return { ...base, name: "template-breach",
        title: { ja: `河川決壊 ${peak} m³/s`, en: `River breach ${peak} m3/s` }, inflows: [inflow] };
    }
    if (ui.kind.value === "cloudburst") {
      const mm = read(cloudburst.intensity);
      return { ...base, name: "template-cloudburst",
        title: { ja: `集中豪雨 ${mm} mm/h`, en: `Cloudburst ${mm} mm/h` },
        rain: { series: [[0, mm], [read(cloudburst.minutes) * 60, 0]] } };
    }
    const query = new URLSearchParams({ side: live.side.value, datum_m: live.datum.value,
      window_s: String(read(live.window) * HOUR) });
    if (live.rain.value) query.set("rain", live.rain.value);
    if (live.stage.value) query.set("stage", live.stage.value);
    const { overrides, window } = await api(`/api/scenarios/live-forcing?${query}`);
    return { ...base, ...overrides, name: "template-live",
      title: { ja: `観測値 ${window.start}–${window.end}`, en: `Live gauges ${window.start}–${window.end}` } };
  }

  function follow(job) {
    ui.progress.hidden = false;
    ui.progress.value = 0;
    const events = new EventSource(job.links.events);
    events.addEventListener("progress", (e) => { ui.progress.value = JSON.parse(e.data).fraction; });
    for (const name of ["done", "failed", "cancelled"]) {
      events.addEventListener(name, async (e) => {
        events.close();
        ui.run.disabled = false;
        const state = JSON.parse(e.data);
        if (state.status !== "done") { say(`${state.status}: ${state.reason ?? ""}`, true); return; }
        ui.progress.value = 1;
        say(`完了 done ${state.id}`);
        element.dataset.job = state.id;
        await flood.refreshJobs(state.id);
        await flood.openJob(state.id);
      });
    }
  }

  ui.run.addEventListener("click", async () => {
    if (!canActAsStaff()) { say("職員キーかサインインが必要です · a staff key (flood panel) or a sign-in is needed", true); return; }
    ui.run.disabled = true;
    try {
      const where = await placement();
      const body = { city: currentCity().id, definition: await definition(), ...where };
      if (read(ui.cell) > 0) body.cell_size = read(ui.cell);
      const job = await api("/api/scenarios", { method: "POST", headers: { "Content-Type": "application/json", ...sessionHeaders() },
        body: JSON.stringify(body) });
      say(`実行中 running ${job.id}`);
      follow(job);
    } catch (error) {
      ui.run.disabled = false;
      say(error.message, true);
    }
  });
  return { setBreach, definition, placement, loadRivers };
}
