// The attribute panel of a clicked building: labels in Japanese with English, values decoded.

const MAIN_FIELDS = ["gml_id", "building_id", "usage_label", "class_label", "height", "storeys", "year",
  "max_flood_depth", "max_flood_rank", "ground_height"];
const RISK_FIELDS = ["kind", "source", "scale", "rank_label", "depth_m", "duration_h"];

function labelOf(labels, name) {
  const label = labels[name];
  const cell = document.createElement("th");
  if (!label) {
    cell.textContent = name;
    return cell;
  }
  const english = document.createElement("span");
  english.className = "en";
  english.textContent = ` ${label.en}`;
  cell.append(label.ja, english);
  return cell;
}

function text(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "object" && "label" in value) return `${value.label} (${value.code})`;
  if (Array.isArray(value)) return value.map(text).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function table(rows, labels) {
  const element = document.createElement("table");
  for (const [name, value] of rows) {
    const row = element.insertRow();
    row.append(labelOf(labels, name));
    row.insertCell().textContent = text(value);
  }
  return element;
}

function heading(ja, en) {
  const element = document.createElement("h2");
  const english = document.createElement("span");
  english.className = "en";
  english.textContent = ` ${en}`;
  element.append(ja, english);
  return element;
}

/** Show ``building`` (a GeoJSON Feature from /api/cities/{id}/buildings/{gml_id}) in ``element``. */
export function showBuilding(element, building, onClose) {
  const { properties, labels = {} } = building;
  const close = document.createElement("button");
  close.type = "button";
  close.title = "閉じる Close";
  close.textContent = "×";
  close.addEventListener("click", onClose);
  const id = document.createElement("p");
  id.className = "gml-id";
  id.textContent = properties.gml_id;
  const parts = [close, heading("建物属性", "Building attributes"), id,
    table(MAIN_FIELDS.filter((f) => f in properties).map((f) => [f, properties[f]]), labels)];
  for (const [k, risk] of (properties.flood_risks ?? []).entries()) {
    parts.push(heading(`洪水浸水リスク ${k + 1}`, `Flood risk ${k + 1}`),
      table(RISK_FIELDS.map((f) => [f, risk[f]]), labels));
  }
  const attributes = Object.entries(properties.attributes ?? {});
  if (attributes.length) parts.push(heading("全属性", "All attributes"), table(attributes, labels));
  element.replaceChildren(...parts);
  element.dataset.gmlId = properties.gml_id;
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
