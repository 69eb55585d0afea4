// The legend box for the current colouring.
import { legendFor } from "./colouring.js";

export function renderLegend(element, mode) {
  const { title, entries } = legendFor(mode);
  const heading = document.createElement("h2");
  heading.textContent = title;
  const list = document.createElement("ul");
  for (const { colour, label } of entries) {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour;
    item.append(swatch, label);
    list.append(item);
  }
  element.replaceChildren(heading, list);
  element.dataset.mode = mode;
}
