// Building colours by attribute, as Cesium 3D Tiles styles, and the legend entries that go with them.
// Properties come from the tiles' EXT_structural_metadata (twin/tiles/metadata.py):
// usage_code, height, flood_depth_max, flood_rank_max (noData reads back as undefined).
import * as Cesium from "/cesium/index.js";
import { CLASSES, WET_DEPTH_M, WET_TOLERANCE_M } from "./shared/depth-classes.js";

const NO_DATA = "#d9d9d4";

// PLATEAU bldg:usage codes (Building_usage.xml).
const USAGE = [
  ["401", "業務施設", "Business", "#5b8def"],
  ["402", "商業施設", "Commercial", "#f29e4c"],
  ["403", "宿泊施設", "Lodging", "#c77dff"],
  ["404", "商業系複合施設", "Mixed commercial", "#f6c85f"],
  ["411", "住宅", "Detached house", "#8bd17c"],
  ["412", "共同住宅", "Apartments", "#3fae8c"],
  ["413", "店舗等併用住宅", "House with shop", "#b6d957"],
  ["414", "店舗等併用共同住宅", "Apartments with shops", "#6fc2c9"],
  ["415", "作業所併用住宅", "House with workshop", "#a3c4a8"],
  ["421", "官公庁施設", "Government", "#e15759"],
  ["422", "文教厚生施設", "Education, welfare", "#ff9da7"],
  ["431", "運輸倉庫施設", "Transport, storage", "#9c755f"],
  ["441", "工場", "Factory", "#7f7f7f"],
  ["451", "農林漁業用施設", "Agriculture", "#bcbd22"],
  ["452", "供給処理施設", "Utilities", "#17becf"],
  ["453", "防衛施設", "Defence", "#555555"],
  ["454", "その他", "Other", "#bab0ac"],
];

const HEIGHT = [
  [0, 10, "#fff5b8"], [10, 20, "#fed976"], [20, 31, "#feb24c"],
  [31, 45, "#fd8d3c"], [45, 60, "#f03b20"], [60, Infinity, "#bd0026"],
];

// MLIT standard inundation-depth classes, as the server serves them; index = depth rank − 1.
export const FLOOD = CLASSES.map((c) => [c.lower_m, c.upper_m ?? Infinity, c.colour, `${c.label_ja} / ${c.label_en}`]);

const css = (hex) => Cesium.Color.fromCssColorString(hex);
const usageColours = new Map(USAGE.map(([code, , , hex]) => [code, css(hex)]));
const heightColours = HEIGHT.map(([lo, hi, hex]) => [lo, hi, css(hex)]);
const floodColours = FLOOD.map(([lo, hi, hex]) => [lo, hi, css(hex)]);
const noData = css(NO_DATA);

const binOf = (bins, value) => bins.find(([lo, hi]) => value >= lo && value < hi);

/** Flood class of a building: its max depth when known, else its official depth rank (1–6). */
export function floodClass(depth, rank) {
  if (typeof depth === "number" && depth >= 0) return FLOOD.findIndex(([lo, hi]) => depth >= lo && depth < hi);
  if (Number.isInteger(rank) && rank >= 1 && rank <= FLOOD.length) return rank - 1;
  return -1;
}

const COLOURERS = {
  usage: (feature) => usageColours.get(feature.getProperty("usage_code")) ?? noData,
  height: (feature) => {
    const height = feature.getProperty("height");
    return typeof height === "number" ? (binOf(heightColours, height)?.[2] ?? noData) : noData;
  },
  flood: (feature) => {
    const k = floodClass(feature.getProperty("flood_depth_max"), feature.getProperty("flood_rank_max"));
    return k >= 0 ? floodColours[k][2] : noData;
  },
};

export const MODES = Object.keys(COLOURERS);

/** A Cesium3DTileStyle colouring features by ``mode`` (usage, height or flood). */
export function styleFor(mode) {
  const colourOf = COLOURERS[mode];
  const style = new Cesium.Cesium3DTileStyle();
  style.color = {
    evaluateColor: (feature, result) => Cesium.Color.clone(colourOf(feature), result),
  };
  return style;
}

/**
 * A style colouring buildings by a scenario's simulated max adjacent depth (MLIT classes);
 * ``depths`` maps gml_id → depth in metres (dry or unknown buildings get the no-data grey).
 */
export function simulatedStyle(depths) {
  const style = new Cesium.Cesium3DTileStyle();
  style.color = {
    evaluateColor: (feature, result) => {
      const depth = depths.get(feature.getProperty("gml_id"));
      // Wet as the server counts it (twin.depth_classes.is_wet): the scenario's buildings table agrees.
      const k = depth >= WET_DEPTH_M - WET_TOLERANCE_M ? floodClass(depth, null) : -1;
      return Cesium.Color.clone(k >= 0 ? floodColours[k][2] : noData, result);
    },
  };
  return style;
}

/** Legend of ``mode`` (a colour-by mode, or "forecast": forecast.js's depths at a time): {title, entries: [{colour, label}]}. */
export function legendFor(mode) {
  const none = { colour: NO_DATA, label: "不明・なし / unknown, none" };
  if (mode === "simulated" || mode === "forecast") {
    return {
      title: mode === "simulated" ? "シミュレーション最大浸水深 Simulated max. depth" : "予測浸水深 Forecast depth (at the chosen time)",
      entries: [...FLOOD.map(([, , colour, label]) => ({ colour, label })), { colour: NO_DATA, label: "浸水なし / dry" }],
    };
  }
  if (mode === "usage") {
    return { title: "用途 Usage", entries: [...USAGE.map(([, ja, en, colour]) => ({ colour, label: `${ja} / ${en}` })), none] };
  }
  if (mode === "height") {
    const label = (lo, hi) => (hi === Infinity ? `≥ ${lo} m` : `${lo}–${hi} m`);
    return { title: "高さ Height", entries: [...HEIGHT.map(([lo, hi, colour]) => ({ colour, label: label(lo, hi) })), none] };
  }
  return {
    title: "想定最大浸水深 Official max. flood depth",
    entries: [...FLOOD.map(([, , colour, label]) => ({ colour, label })), { colour: NO_DATA, label: "浸水想定なし / not in a flood zone" }],
  };
}
