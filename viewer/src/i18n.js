// Japanese and English strings of the public hazard map, the language choice and its memory.
// The choice is kept in localStorage only (no cookie); the default follows navigator.languages.

const STRINGS = {
  ja: {
    title: "洪水ハザードマップ",
    subtitle: "浸水の深さと最寄りの避難場所",
    language: "English",
    languageLabel: "Switch to English",
    layer: "表示する想定",
    scaleL2: "想定最大規模 (L2)",
    scaleL1: "計画規模 (L1)",
    simulation: "シミュレーション",
    simulationNote: "シミュレーション結果（公式の想定ではありません）",
    forecast: "予測",
    issuedAt: (when) => `${when} 発表`,
    forecastNote: (issued, until) => `予測：${issued} 発表、${until} まで有効。観測をもとにした今後数時間の予測で、`
      + "公式の浸水想定ではありません",
    forecastExpired: (issued, until) => `${issued} 発表の予測は ${until} で有効期限が切れました（表示していません）`,
    forecastMax: "予測最大浸水深",
    legend: "浸水深（国土交通省の標準色）",
    checkCentre: "画面中央を調べる",
    locate: "現在地",
    zoomIn: "拡大",
    zoomOut: "縮小",
    mapLabel: "地図（ドラッグで移動、ホイールやピンチで拡大・縮小、タップで調べる）",
    coordinates: "緯度, 経度",
    coordinatesHint: "例: 35.9265, 139.4716",
    check: "調べる",
    tapHint: "地図をタップすると、その場所の浸水の深さと最寄りの避難場所を表示します。",
    loading: "読み込み中…",
    place: "調べた場所",
    official: "公式の浸水想定",
    areaSource: "浸水想定区域図",
    rivers: (names) => `浸水想定の対象河川: ${names}`,
    noAreas: "浸水想定区域図のデータなし（建物ごとの公式の浸水深で答えます）",
    buildingSource: (b) => (b.basis === "tapped" ? "この建物のPLATEAU属性（公式の浸水深）"
      : `半径${b.radius_m} m以内の建物${b.buildings.length}棟のPLATEAU属性（公式の浸水深）`),
    buildingNoDepth: "この建物には公式の浸水深の記録がありません",
    allRivers: (n) => `河川・規模ごとのすべての浸水深（${n}件）`,
    outsideAreas: (layers) => `この市のデータにある公式の浸水想定区域（${layers}）には入っていません`,
    noData: "この場所の浸水想定のデータはありません。浸水しないという意味ではありません。",
    otherHazards: "ほかの災害の想定はこの市のデータにありません",
    depthRange: (lo, hi) => (lo === hi ? `${lo.toFixed(2)} m` : `${lo.toFixed(2)}–${hi.toFixed(2)} m`),
    riverCode: (code) => `河川コード ${code}`,
    duration: (h) => `継続 ${h < 1 ? Math.round(h * 60) + "分" : h.toFixed(1) + "時間"}`,
    simulated: "シミュレーション",
    simulatedMax: "最大浸水深",
    dry: "浸水なし",
    shelter: "最寄りの洪水避難場所",
    distance: "徒歩距離",
    walkTime: "徒歩時間",
    minutes: "分",
    speedNote: (v) => `歩く速さ ${v} m/秒で計算（道路・空地を通り、建物は通れないものとします）`,
    noShelter: "歩いて行ける洪水避難場所が見つかりません",
    noShelterList: "この市の避難場所のリストがまだありません",
    noFloodShelter: "この市の避難場所のリストに、洪水に対応する場所がありません",
    straight: "直線距離",
    straightOnly: "道路網の範囲外の避難場所です。直線距離を示します（歩く道のりはこれより長くなります）",
    atLeast: (m) => `${m} 分以上`,
    offGrid: "ほかに、道路網の範囲外の避難場所（直線距離）",
    outside: "この場所はこの市のデータの範囲外です",
    close: "閉じる",
    failed: "読み込めませんでした",
    layers: { fld: "洪水（河川）", tnm: "津波", htd: "高潮", ifld: "内水", rfld: "ため池" },
    capacity: "収容人数",
    people: "人",
  },
  en: {
    title: "Flood hazard map",
    subtitle: "Flood depth and the nearest shelter",
    language: "日本語",
    languageLabel: "日本語に切り替える (Switch to Japanese)",
    layer: "Scenario shown",
    scaleL2: "Maximum assumed (L2)",
    scaleL1: "Planned scale (L1)",
    simulation: "Simulation",
    simulationNote: "Simulation result (not an official map)",
    forecast: "Forecast",
    issuedAt: (when) => `issued ${when}`,
    forecastNote: (issued, until) => `Forecast issued ${issued}, valid until ${until}: a prediction of the next few `
      + "hours from live observations, not an official map",
    forecastExpired: (issued, until) => `The forecast issued ${issued} expired at ${until} (not shown)`,
    forecastMax: "predicted maximum depth",
    legend: "Flood depth (MLIT standard colours)",
    checkCentre: "Check the map centre",
    locate: "My location",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    mapLabel: "Map (drag to move, wheel or pinch to zoom, tap to check a place)",
    coordinates: "Latitude, longitude",
    coordinatesHint: "e.g. 35.9265, 139.4716",
    check: "Check",
    tapHint: "Tap the map to see the flood depth there and the nearest shelter.",
    loading: "Loading…",
    place: "Selected place",
    official: "Official flood depth",
    areaSource: "official inundation area map",
    rivers: (names) => `Rivers of the official flood maps: ${names}`,
    noAreas: "No official area map (answers from each building's official depths)",
    buildingSource: (b) => (b.basis === "tapped" ? "this building's PLATEAU attributes (official depths)"
      : `PLATEAU attributes of ${b.buildings.length} building(s) within ${b.radius_m} m (official depths)`),
    buildingNoDepth: "This building has no official flood depth recorded",
    allRivers: (n) => `Every river and scale (${n})`,
    outsideAreas: (layers) => `Not inside the official flood areas in this city's data (${layers})`,
    noData: "This city's data has no flood assumption for this place. That does not mean it stays dry.",
    otherHazards: "Other hazards are not in this city's data",
    depthRange: (lo, hi) => (lo === hi ? `${lo.toFixed(2)} m` : `${lo.toFixed(2)}–${hi.toFixed(2)} m`),
    riverCode: (code) => `river code ${code}`,
    duration: (h) => `lasting ${h < 1 ? Math.round(h * 60) + " min" : h.toFixed(1) + " h"}`,
    simulated: "Simulation",
    simulatedMax: "maximum depth",
    dry: "stays dry",
    shelter: "Nearest flood shelter",
    distance: "Walking distance",
    walkTime: "Walking time",
    minutes: "min",
    speedNote: (v) => `At ${v} m/s on streets and open ground; buildings cannot be crossed.`,
    noShelter: "No flood shelter can be reached on foot from here",
    noShelterList: "This city has no shelter list yet",
    noFloodShelter: "No site in this city's shelter list takes flood evacuees",
    straight: "Straight line",
    straightOnly: "This shelter lies beyond the mapped streets: the straight-line distance is shown (the walk is longer)",
    atLeast: (m) => `at least ${m} min`,
    offGrid: "Also, beyond the mapped streets (straight line)",
    outside: "This place is outside this city's data",
    close: "Close",
    failed: "Could not load",
    layers: { fld: "River flood", tnm: "Tsunami", htd: "Storm surge", ifld: "Inland flood", rfld: "Reservoir" },
    capacity: "Capacity",
    people: "people",
  },
};

const KEY = "machi-twin.lang";

/** The remembered language, else the first of the browser's languages we have, else Japanese. */
export function initialLanguage() {
  let saved = null;
  try {
    saved = localStorage.getItem(KEY);
  } catch {
    // storage disabled: fall back to the browser's languages
  }
  if (saved in STRINGS) return saved;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in STRINGS) return base;
  }
  return "ja";
}

export function rememberLanguage(lang) {
  try {
    localStorage.setItem(KEY, lang);
  } catch {
    // not remembered, still switched
  }
}

/** The strings of ``lang``. */
export const strings = (lang) => STRINGS[lang] ?? STRINGS.ja;

/** Fill every [data-i18n] element's text (and [data-i18n-label] aria-label, [data-i18n-placeholder]). */
export function applyStrings(root, lang) {
  const t = strings(lang);
  root.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t[el.dataset.i18n];
  for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t[el.dataset.i18nLabel]);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t[el.dataset.i18nPlaceholder];
  root.title = `${t.title} · machi-twin`;
}
