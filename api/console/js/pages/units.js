// Unit report: GET /v1/reports/units over a period: the ranking as a table and a bar chart
// of completion rates, and the overdue trend. The route answers totals for from..to, so the
// trend asks it once per day, week or month of the period (the periods' sums are the
// period's totals, since the route counts by business day).

import { getJson } from "../api.js";
import { columnChart, rankingChart } from "../charts.js";
import { h } from "../dom.js";
import { downloadButtons } from "../downloads.js";
import { t } from "../i18n.js";
import { defaultPeriod, emptyRow, errorNotice, labelled, labelledSelect, loading, navigate } from "./common.js";

const BUCKETS = ["day", "week", "month"];
const MAX_BUCKETS = 60;
const PARALLEL = 4;

export async function render(main, { query }) {
  const defaults = defaultPeriod();
  const period = { from: query.get("from") || defaults.from, to: query.get("to") || defaults.to };
  const bucket = BUCKETS.includes(query.get("bucket")) ? query.get("bucket") : "week";
  const from = labelled(t("evidence.from"), { type: "date", name: "from", value: period.from, required: true });
  const to = labelled(t("evidence.to"), { type: "date", name: "to", value: period.to, required: true });
  const by = labelledSelect(t("units.bucket"), "bucket",
    BUCKETS.map((b) => [b, t(`units.bucket.${b}`)]), bucket);
  const form = h("form", { class: "toolbar", "aria-label": t("units.period") },
    from.field, to.field, by.field, h("button", { type: "submit", class: "primary" }, t("units.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = new URLSearchParams({ from: from.input.value, to: to.input.value, bucket: by.select.value });
    navigate(`#/units?${search}`);
  });
  const result = h("div", { class: "units-result" }, loading());
  main.replaceChildren(h("h1", {}, t("units.title")), form, result);

  try {
    const report = await getJson("/v1/reports/units", period);
    const ranking = rankingSection(report.units);
    const exports = exportPanel(period);
    result.replaceChildren(exports, ranking, h("section", { class: "card trend", "aria-labelledby": "trend-title" },
      h("h2", { id: "trend-title" }, t("units.trend")), loading()));
    const trend = await trendSection(period, bucket);
    result.replaceChildren(exports, ranking, trend);
  } catch (error) {
    result.replaceChildren(errorNotice(error));
  }
}

function exportPanel(period) {
  const { buttons, message } = downloadButtons({
    formats: [["pdf", "PDF"], ["xlsx", "XLSX"], ["csv", "CSV"]],
    path: "/v1/reports/units",
    params: period,
    name: (format) => `unit-report-${period.from}-${period.to}.${format}`,
    button: (label) => t("evidence.export.button", { format: label }),
  });
  return h("section", { class: "card export-panel", "aria-labelledby": "units-export-title" },
    h("h2", { id: "units-export-title" }, t("units.export")), buttons, message);
}

function percent(rate) {
  return rate === null || rate === undefined ? null : `${Math.round(rate * 1000) / 10}%`;
}

function rankingSection(units) {
  const table = h("table", { class: "data ranking-table" },
    h("caption", { class: "visually-hidden" }, t("units.ranking")),
    h("thead", {}, h("tr", {}, ["rank", "unit", "steps_due", "steps_on_time", "steps_overdue",
      "violations", "liabilities", "completion_rate"].map((c) =>
      h("th", { scope: "col", class: c === "unit" ? null : "num" }, t(`col.${c}`))))),
    h("tbody", {}, units.length === 0 ? emptyRow(8, t("units.none")) : units.map((u) =>
      h("tr", { "data-unit": u.unit_id },
        h("td", { class: "num" }, String(u.rank)),
        h("th", { scope: "row" }, u.name ?? u.unit_id, " ", h("span", { class: "id" }, u.unit_id)),
        ...["steps_due", "steps_on_time", "steps_overdue", "violations", "liabilities"].map((c) =>
          h("td", { class: "num" }, String(u[c]))),
        h("td", { class: "num" }, percent(u.completion_rate) ?? t("units.nodue"))))));
  const chart = rankingChart({
    title: t("units.ranking.chart"),
    description: t("units.ranking.chart.desc"),
    rows: units.map((u) => ({ label: u.name ?? u.unit_id, value: u.completion_rate,
      text: percent(u.completion_rate) ?? t("units.nodue") })),
  });
  return h("section", { class: "card ranking", "aria-labelledby": "ranking-title" },
    h("h2", { id: "ranking-title" }, t("units.ranking")),
    h("div", { class: "ranking-layout" }, h("div", { class: "table-wrap" }, table), chart));
}

async function trendSection(period, wanted) {
  let bucket = wanted;
  let buckets = periods(period.from, period.to, bucket);
  while (buckets.length > MAX_BUCKETS && bucket !== "month") {
    bucket = BUCKETS[BUCKETS.indexOf(bucket) + 1];
    buckets = periods(period.from, period.to, bucket);
  }
  const answers = await inBatches(buckets, (b) => getJson("/v1/reports/units", { from: b.from, to: b.to }));
  const bars = buckets.map((b, index) => {
    const units = answers[index].units.filter((u) => u.steps_overdue > 0);
    return {
      label: b.from === b.to ? b.from : `${b.from} – ${b.to}`,
      short: bucket === "month" ? b.from.slice(0, 7) : b.from.slice(5),
      value: units.reduce((sum, u) => sum + u.steps_overdue, 0),
      detail: units.map((u) => `${u.name ?? u.unit_id}: ${u.steps_overdue}`).join("\n"),
    };
  });
  const bucketLabel = t(`units.bucket.${bucket}`);
  return h("section", { class: "card trend", "aria-labelledby": "trend-title" },
    h("h2", { id: "trend-title" }, t("units.trend")),
    bucket !== wanted ? h("p", { class: "notice" }, t("units.trend.coarser",
      { bucket: t(`units.bucket.${wanted}`), coarser: bucketLabel })) : null,
    columnChart({ title: t("units.trend.chart", { bucket: bucketLabel }),
      description: t("units.trend.chart.desc"), bars }));
}

async function inBatches(items, call) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await call(items[index]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}

// --- calendar arithmetic on dates (UTC, so no daylight-saving surprises) ----------------

function parse(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function format(date) {
  return date.toISOString().slice(0, 10);
}

function addDays(date, days) {
  return new Date(date.getTime() + days * 86_400_000);
}

/** The days, ISO weeks (Monday first) or months of from..to, clipped to the period. */
export function periods(fromText, toText, bucket) {
  const start = parse(fromText);
  const end = parse(toText);
  const result = [];
  let cursor = start;
  while (cursor <= end && result.length <= 400) {
    let last;
    if (bucket === "day") last = cursor;
    else if (bucket === "week") last = addDays(cursor, (7 - cursor.getUTCDay()) % 7);
    else last = new Date(Date.UTC(cursor.getUTCFullYear(), cursor.getUTCMonth() + 1, 0));
    if (last > end) last = end;
    result.push({ from: format(cursor), to: format(last) });
    cursor = addDays(last, 1);
  }
  return result;
}
