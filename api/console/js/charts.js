// Charts drawn as inline SVG (no library): a horizontal bar chart for rankings and a
// column chart for trends. Each is a <figure> whose <svg role="img"> is labelled by its
// caption and described in words, and each bar carries a <title> read as a tooltip.

import { h, svg } from "./dom.js";

let chartCount = 0;

function figure(title, description, drawing, className) {
  chartCount += 1;
  const captionId = `chart-${chartCount}-title`;
  const descriptionId = `chart-${chartCount}-desc`;
  drawing.setAttribute("role", "img");
  drawing.setAttribute("aria-labelledby", captionId);
  drawing.setAttribute("aria-describedby", descriptionId);
  return h("figure", { class: `chart ${className}` },
    h("figcaption", { id: captionId }, title),
    h("p", { id: descriptionId, class: "chart-desc" }, description),
    drawing);
}

const WIDTH = 500;
const WIDE = 1000;

/**
 * rows: [{label, value: 0..1 or null, text}] drawn top to bottom; null values get no bar
 * and their `text` ("nothing due") instead.
 */
export function rankingChart({ title, description, rows }) {
  const rowHeight = 32;
  const top = 26;
  const labelWidth = 150;
  const barLeft = labelWidth + 10;
  const barWidth = WIDTH - barLeft - 56;
  const height = top + rows.length * rowHeight + 8;
  const drawing = svg("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart-svg ranking-svg" });

  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const x = barLeft + tick * barWidth;
    drawing.append(
      svg("line", { x1: x, x2: x, y1: top - 6, y2: height - 6, class: "grid" }),
      svg("text", { x, y: top - 10, class: "tick", "text-anchor": "middle" }, `${tick * 100}%`),
    );
  }
  rows.forEach((row, index) => {
    const y = top + index * rowHeight;
    const middle = y + rowHeight / 2;
    const group = svg("g", { class: "bar-row", "data-label": row.label });
    group.append(svg("text", { x: labelWidth, y: middle, class: "label", "text-anchor": "end",
      "dominant-baseline": "middle" }, truncate(row.label, 18)));
    if (row.value === null || row.value === undefined) {
      group.append(svg("text", { x: barLeft + 4, y: middle, class: "value muted",
        "dominant-baseline": "middle" }, row.text));
    } else {
      const width = Math.max(row.value * barWidth, 2);
      group.append(
        svg("rect", { x: barLeft, y: y + 6, width, height: rowHeight - 12, rx: 3,
          class: `bar ${row.value >= 0.9 ? "good" : row.value >= 0.6 ? "fair" : "poor"}` },
          svg("title", {}, `${row.label}: ${row.text}`)),
        svg("text", { x: barLeft + width + 6, y: middle, class: "value",
          "dominant-baseline": "middle" }, row.text),
      );
    }
    drawing.append(group);
  });
  return figure(title, description, drawing, "ranking-chart");
}

/** bars: [{label, value, detail}] left to right (`detail`: extra tooltip text). */
export function columnChart({ title, description, bars }) {
  const height = 280;
  const left = 44;
  const right = 12;
  const top = 16;
  const bottom = 48;
  const plotHeight = height - top - bottom;
  const plotWidth = WIDE - left - right;
  const maximum = Math.max(1, ...bars.map((b) => b.value));
  const step = niceStep(maximum);
  const axisMax = Math.ceil(maximum / step) * step;
  const drawing = svg("svg", { viewBox: `0 0 ${WIDE} ${height}`, class: "chart-svg trend-svg" });

  for (let tick = 0; tick <= axisMax; tick += step) {
    const y = top + plotHeight - (tick / axisMax) * plotHeight;
    drawing.append(
      svg("line", { x1: left, x2: WIDE - right, y1: y, y2: y, class: tick ? "grid" : "axis" }),
      svg("text", { x: left - 6, y, class: "tick", "text-anchor": "end",
        "dominant-baseline": "middle" }, String(tick)),
    );
  }
  const slot = plotWidth / Math.max(bars.length, 1);
  const barWidth = Math.min(40, slot * 0.7);
  const labelEvery = Math.ceil(bars.length / 20);
  bars.forEach((bar, index) => {
    const x = left + index * slot + (slot - barWidth) / 2;
    const barHeight = (bar.value / axisMax) * plotHeight;
    const y = top + plotHeight - barHeight;
    const group = svg("g", { class: "column", "data-label": bar.label, "data-value": bar.value });
    group.append(svg("rect", { x, y, width: barWidth, height: Math.max(barHeight, 0), rx: 2,
      class: `bar ${bar.value ? "poor" : ""}` },
      svg("title", {}, [`${bar.label}: ${bar.value}`, bar.detail].filter(Boolean).join("\n"))));
    if (bar.value) {
      group.append(svg("text", { x: x + barWidth / 2, y: y - 4, class: "value",
        "text-anchor": "middle" }, String(bar.value)));
    }
    if (index % labelEvery === 0) {
      group.append(svg("text", { x: x + barWidth / 2, y: height - bottom + 16, class: "tick",
        "text-anchor": "middle" }, bar.short ?? bar.label));
    }
    drawing.append(group);
  });
  return figure(title, description, drawing, "trend-chart");
}

function niceStep(maximum) {
  for (const candidate of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]) {
    if (maximum / candidate <= 6) return candidate;
  }
  return 10 ** Math.ceil(Math.log10(maximum / 6));
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}
