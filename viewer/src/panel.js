// The attribute panel of a clicked building: field names and decoded values in the user's language
// (the remembered choice or the browser's, i18n.js), the other language in each name's tooltip.
import { initialLanguage } from "./i18n.js";

const MAIN_FIELDS = ["gml_id", "building_id", "usage_label", "class_label", "height", "storeys", "year",
  "max_flood_depth", "max_flood_rank", "ground_height"];
const RISK_FIELDS = ["kind", "source", "scale", "rank_label", "depth_m", "duration_h"];
const HEADINGS = {
  building: { ja: "建物属性", en: "Building attributes" },
  risk: { ja: "洪水浸水リスク", en: "Flood risk" },
  all: { ja: "全属性", en: "All attributes" },
  close: { ja: "閉じる", en: "Close" },
};

/** Display of one building: the language, field labels and value names the server sent. */
class Display {
  constructor(building, lang) {
    this.lang = lang;
    this.other = lang === "ja" ? "en" : "ja";
    this.labels = building.labels ?? {};
    this.names = building.value_names ?? {};
    this.namedBy = building.named_by ?? {};
    this.properties = building.properties;
  }

  label(name) {
    const cell = document.createElement("th");
    const label = this.labels[name];
    cell.textContent = label ? label[this.lang] : name;
    if (label) cell.title = label[this.other];
    return cell;
  }

  /** A value as text: a code by its name in the language (the dataset's label otherwise) and the code. */
  text(name, value) {
    if (value === null || value === undefined || value === "") return "—";
    const named = (field, code) => this.names[field]?.[String(code)]?.[this.lang];
    if (typeof value === "object" && !Array.isArray(value) && "code" in value) {
      const shown = named(name, value.code) ?? value.label;
      return shown ? `${shown} (${value.code})` : String(value.code);
    }
    if (name in this.namedBy) {
      const { names, code_field: codeField } = this.namedBy[name];
      const code = this.properties[codeField];
      const shown = code !== null && code !== undefined ? named(names, code) : null;
      if (shown) return `${shown} (${code})`;
    }
    if (typeof value === "string" && named(name, value)) return named(name, value);
    if (Array.isArray(value)) return value.map((v) => this.text(name, v)).join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  table(rows) {
    const element = document.createElement("table");
    for (const [name, value] of rows) {
      const row = element.insertRow();
      row.append(this.label(name));
      row.insertCell().textContent = this.text(name, value);
    }
    return element;
  }

  heading(key, suffix = "") {
    const element = document.createElement("h2");
    element.textContent = `${HEADINGS[key][this.lang]}${suffix}`;
    element.title = `${HEADINGS[key][this.other]}${suffix}`;
    return element;
  }
}

/** Show ``building`` (a GeoJSON Feature from /api/cities/{id}/buildings/{gml_id}) in ``element``. */
export function showBuilding(element, building, onClose, lang = initialLanguage()) {
  const display = new Display(building, lang);
  const { properties } = building;
  const close = document.createElement("button");
  close.type = "button";
  close.title = HEADINGS.close[lang];
  close.ariaLabel = HEADINGS.close[lang];
  close.textContent = "×";
  close.addEventListener("click", onClose);
  const id = document.createElement("p");
  id.className = "gml-id";
  id.textContent = properties.gml_id;
  const parts = [close, display.heading("building"), id,
    display.table(MAIN_FIELDS.filter((f) => f in properties).map((f) => [f, properties[f]]))];
  for (const [k, risk] of (properties.flood_risks ?? []).entries()) {
    parts.push(display.heading("risk", ` ${k + 1}`), display.table(RISK_FIELDS.map((f) => [f, risk[f]])));
  }
  const attributes = Object.entries(properties.attributes ?? {});
  if (attributes.length) parts.push(display.heading("all"), display.table(attributes));
  element.replaceChildren(...parts);
  element.dataset.gmlId = properties.gml_id;
  element.lang = lang;
  element.hidden = false;
}

export function showMessage(element, message) {
  const paragraph = document.createElement("p");
  paragraph.textContent = message;
  element.replaceChildren(paragraph);
  delete element.dataset.gmlId;
  element.hidden = false;
}

export function hidePanel(element) {
  element.hidden = true;
  element.replaceChildren();
  delete element.dataset.gmlId;
}
