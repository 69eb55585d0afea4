// Small dependency-free SVG charts for the viewer's panels: lines (with threshold lines) and bars.
const SVG = "http://www.w3.org/2000/svg";
const SIZE = { width: 320, height: 160, left: 44, right: 8, top: 10, bottom: 30 };
const TICKS = 4;

/** An SVG element ``tag`` with ``attributes`` and optional text. */
export function node(tag, attributes = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** The [lo, hi] of `values`, padded so a flat series still has height. */
function extent(values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi === lo) { lo -= 0.5; hi += 0.5; }
  return [lo, hi];
}

function frame(yLabel, xLabel) {
  const { width, height } = SIZE;
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "font-size": 9, "font-family": "sans-serif", width: "100%" });
  svg.append(node("title", {}, [yLabel, xLabel].filter(Boolean).join(" / ")));
  if (yLabel) svg.append(node("text", { x: 2, y: 8, class: "chart-label" }, yLabel));
  if (xLabel) svg.append(node("text", { x: width - SIZE.right, y: height - 2, "text-anchor": "end", class: "chart-label" }, xLabel));
  return svg;
}

function scale(lo, hi, from, to) {
  return (v) => from + ((v - lo) / (hi - lo)) * (to - from);
}

function yAxis(svg, lo, hi, y, format) {
  for (let i = 0; i <= TICKS; i += 1) {
    const value = lo + ((hi - lo) * i) / TICKS;
    const py = y(value);
    svg.append(node("line", { x1: SIZE.left, x2: SIZE.width - SIZE.right, y1: py, y2: py, stroke: "#d0d4d8", class: "chart-grid" }));
    svg.append(node("text", { x: SIZE.left - 4, y: py + 3, "text-anchor": "end", class: "chart-tick" }, format(value)));
  }
}

/**
 * Line chart: `series` [{name, points: [[x, y]], colour}], optional horizontal `thresholds`
 * [{value, label, colour}]; replaces `container`'s content and returns the <svg>.
 */
export function lineChart(container, { series, xLabel = "", yLabel = "", thresholds = [],
  xFormat = (x) => String(Math.round(x)), yFormat = (y) => y.toFixed(1) }) {
  const svg = frame(yLabel, xLabel);
  const points = series.flatMap((s) => s.points);
  const [x0, x1] = extent(points.map((p) => p[0]));
  const [y0, y1] = extent([...points.map((p) => p[1]), ...thresholds.map((t) => t.value)]);
  const x = scale(x0, x1, SIZE.left, SIZE.width - SIZE.right);
  const y = scale(y0, y1, SIZE.height - SIZE.bottom, SIZE.top);
  yAxis(svg, y0, y1, y, yFormat);
  for (const px of [x0, (x0 + x1) / 2, x1]) {
    svg.append(node("text", { x: x(px), y: SIZE.height - SIZE.bottom + 12, "text-anchor": "middle", class: "chart-tick" }, xFormat(px)));
  }
  for (const t of thresholds) {
    svg.append(node("line", { x1: SIZE.left, x2: SIZE.width - SIZE.right, y1: y(t.value), y2: y(t.value),
      stroke: t.colour, "stroke-dasharray": "4 3", class: "chart-threshold" }));
    svg.append(node("text", { x: SIZE.width - SIZE.right - 2, y: y(t.value) - 2, "text-anchor": "end",
      fill: t.colour, class: "chart-tick" }, t.label));
  }
  for (const s of series) {
    const d = s.points.map(([px, py], i) => `${i ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join("");
    const path = node("path", { d, fill: "none", stroke: s.colour ?? "#1f6fb2", "stroke-width": 1.8, class: "chart-line" });
    path.append(node("title", {}, s.name ?? ""));
    svg.append(path);
  }
  container.replaceChildren(svg);
  return svg;
}

/** Bar chart: `bars` [{label, value, colour}]; replaces `container`'s content and returns the <svg>. */
export function barChart(container, { bars, yLabel = "", yFormat = (v) => String(Math.round(v)) }) {
  const svg = frame(yLabel, "");
  const [, hi] = extent([0, ...bars.map((b) => b.value)]);
  const y = scale(0, hi, SIZE.height - SIZE.bottom, SIZE.top);
  yAxis(svg, 0, hi, y, yFormat);
  const slot = (SIZE.width - SIZE.left - SIZE.right) / Math.max(bars.length, 1);
  bars.forEach((bar, i) => {
    const left = SIZE.left + i * slot + slot * 0.1;
    const top = y(Math.max(bar.value, 0));
    const rect = node("rect", { x: left, y: top, width: slot * 0.8, height: SIZE.height - SIZE.bottom - top,
      fill: bar.colour ?? "#1f6fb2", class: "chart-bar" });
    rect.append(node("title", {}, `${bar.label}: ${yFormat(bar.value)}`));
    svg.append(rect);
    svg.append(node("text", { x: left + slot * 0.4, y: SIZE.height - SIZE.bottom + 12, "text-anchor": "middle",
      class: "chart-tick" }, bar.label));
  });
  container.replaceChildren(svg);
  return svg;
}
