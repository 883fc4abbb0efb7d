// Scores for appraisal (CONTRACT 8.6, GET /v1/scores): per employee the penalty and bonus
// points over a period and their sum, each item traced to the liability or positive record
// behind it; per unit the sum over its members; and the route's downloads.

import { getJson } from "../api.js";
import { h, timeElement } from "../dom.js";
import { downloadButtons } from "../downloads.js";
import { apiLanguage, t, term } from "../i18n.js";
import { allEmployees, loadDirectory, person } from "../people.js";
import { defaultPeriod, emptyRow, errorNotice, labelled, labelledSelect, loading, navigate } from "./common.js";

export async function render(main, { query }) {
  const defaults = defaultPeriod();
  const period = { from: query.get("from") || defaults.from, to: query.get("to") || defaults.to };
  const unitId = query.get("unit_id") || "";
  await loadDirectory().catch(() => null);
  const units = [...new Set(allEmployees().map((p) => p.unit_id).filter(Boolean))].sort();
  const from = labelled(t("evidence.from"), { type: "date", name: "from", value: period.from, required: true });
  const to = labelled(t("evidence.to"), { type: "date", name: "to", value: period.to, required: true });
  const unit = labelledSelect(t("scores.unit"), "unit_id",
    [["", t("scores.unit.all")], ...units.map((u) => [u, u])], unitId);
  const form = h("form", { class: "toolbar", "aria-label": t("units.period") },
    from.field, to.field, unit.field, h("button", { type: "submit", class: "primary" }, t("scores.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = new URLSearchParams({ from: from.input.value, to: to.input.value });
    if (unit.select.value) search.set("unit_id", unit.select.value);
    navigate(`#/scores?${search}`);
  });
  const result = h("div", { class: "scores-result" }, loading());
  main.replaceChildren(h("h1", {}, t("scores.title")), h("p", { class: "intro muted" }, t("scores.intro")),
    form, result);
  const params = { ...period, unit_id: unitId };
  try {
    const answer = await getJson("/v1/scores", { ...params, format: "json", lang: apiLanguage() });
    result.replaceChildren(exportPanel(params), ...scoresView(answer));
  } catch (error) {
    result.replaceChildren(errorNotice(error));
  }
}

function exportPanel(params) {
  const { buttons, message } = downloadButtons({
    formats: [["xlsx", "XLSX"], ["pdf", "PDF"], ["csv", "CSV"], ["json", "JSON"]],
    path: "/v1/scores", params,
    name: (format) => `scores-${params.from}-${params.to}.${format}`,
    button: (label) => t("scores.download", { format: label }),
  });
  return h("section", { class: "card export-panel", "aria-labelledby": "scores-export-title" },
    h("h2", { id: "scores-export-title" }, t("units.export")), buttons, message);
}

const num = (value) => (value === null || value === undefined ? "0" : String(value));
const penaltyOf = (s) => s.penalty ?? s.penalty_points ?? s.penalties ?? 0;
const bonusOf = (s) => s.bonus ?? s.bonus_points ?? s.bonuses ?? 0;
const totalOf = (s) => s.total ?? s.score ?? s.sum ?? (Number(bonusOf(s)) - Math.abs(Number(penaltyOf(s))));

function scoresView(answer) {
  const employees = answer.employees ?? answer.items ?? [];
  const units = answer.units ?? [];
  return [
    h("section", { class: "card", "aria-labelledby": "scores-employees-title" },
      h("h2", { id: "scores-employees-title" }, t("nav.scores")),
      h("table", { class: "data scores-table" },
        h("thead", {}, h("tr", {}, [t("field.employee"), t("field.unit"), t("scores.penalty"), t("scores.bonus"),
          t("scores.total"), t("scores.items")].map((label, i) => h("th", { scope: "col", class: i > 1 && i < 5 ? "num" : null }, label)))),
        h("tbody", {}, employees.length === 0 ? emptyRow(6, t("scores.none")) : employees.map((s) =>
          h("tr", { "data-employee": s.employee_id },
            h("td", {}, person(s.employee_id)),
            h("td", {}, s.unit_id ?? t("none")),
            h("td", { class: "num" }, num(penaltyOf(s))),
            h("td", { class: "num" }, num(bonusOf(s))),
            h("td", { class: "num total" }, num(totalOf(s))),
            h("td", {}, itemList(s.items ?? []))))))),
    units.length ? h("section", { class: "card", "aria-labelledby": "scores-units-title" },
      h("h2", { id: "scores-units-title" }, t("scores.units")),
      h("table", { class: "data unit-scores-table" },
        h("thead", {}, h("tr", {}, [t("field.unit"), t("scores.penalty"), t("scores.bonus"), t("scores.total")]
          .map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, units.map((u) => h("tr", { "data-unit": u.unit_id },
          h("th", { scope: "row" }, u.name ?? u.unit_id),
          h("td", { class: "num" }, num(penaltyOf(u))),
          h("td", { class: "num" }, num(bonusOf(u))),
          h("td", { class: "num" }, num(totalOf(u)))))))) : null,
  ];
}

function itemList(items) {
  if (items.length === 0) return t("none");
  return h("ul", { class: "score-items" }, items.map((item) => {
    const what = item.basis ? term("basis", item.basis) : item.kind ? term("duty", item.kind) : item.duty
      ? term("duty", item.duty) : "";
    return h("li", { "data-liability": item.liability_id ?? null },
      t("scores.item", { points: item.points > 0 ? `+${item.points}` : String(item.points), what }),
      item.case_id ? ` · ${item.case_id}` : "", " ", timeElement(item.at));
  }));
}
