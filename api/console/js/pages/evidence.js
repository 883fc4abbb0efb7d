// Employee evidence: an employee and a period; their liabilities and positive records from
// GET /v1/employees/{id}/evidence, and that route's exports (JSON, CSV, XLSX, PDF).

import { getJson } from "../api.js";
import { h, timeElement } from "../dom.js";
import { downloadButtons, FORMATS } from "../downloads.js";
import { apiLanguage, t, term } from "../i18n.js";
import { liabilityTable } from "../liabilities.js";
import { allEmployees, loadDirectory, person } from "../people.js";
import { defaultPeriod, emptyRow, errorNotice, labelled, loading, navigate } from "./common.js";

export async function render(main, { path, query }) {
  const employeeId = decodeURIComponent(path[1] || "");
  const period = { ...defaultPeriod(), ...pick(query, ["from", "to"]) };
  const result = h("div", { class: "evidence-result" });
  main.replaceChildren(h("h1", {}, t("evidence.title")), loading());

  let people = [];
  try {
    await loadDirectory();
    people = allEmployees();
  } catch {
    people = []; // no directory: the employee id is typed in
  }
  const picker = employeePicker(people, employeeId);
  const from = labelled(t("evidence.from"), { type: "date", name: "from", value: period.from, required: true });
  const to = labelled(t("evidence.to"), { type: "date", name: "to", value: period.to, required: true });
  const form = h("form", { class: "toolbar", "aria-label": t("evidence.pick") },
    picker.field, from.field, to.field,
    h("button", { type: "submit", class: "primary" }, t("evidence.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = picker.input.value.trim();
    if (!id) return;
    const search = new URLSearchParams({ from: from.input.value, to: to.input.value });
    navigate(`#/evidence/${encodeURIComponent(id)}?${search}`);
  });
  main.replaceChildren(h("h1", {}, t("evidence.title")), form, result);

  if (!employeeId) {
    result.replaceChildren(h("p", { class: "notice" }, t("evidence.choose")));
    return;
  }
  result.replaceChildren(loading());
  const params = { from: period.from, to: period.to };
  try {
    const evidence = await getJson(`/v1/employees/${encodeURIComponent(employeeId)}/evidence`,
      { ...params, format: "json", lang: apiLanguage() });
    result.replaceChildren(...evidenceView(employeeId, params, evidence));
  } catch (error) {
    result.replaceChildren(errorNotice(error));
  }
}

function pick(query, names) {
  const picked = {};
  for (const name of names) if (query.get(name)) picked[name] = query.get(name);
  return picked;
}

function employeePicker(people, selected) {
  if (people.length === 0) {
    const field = labelled(t("evidence.employee"), { type: "text", name: "employee", value: selected,
      required: true, placeholder: "e-zhang", autocomplete: "off" });
    return { field: field.field, input: field.input };
  }
  const id = "employee-picker";
  const select = h("select", { id, name: "employee", required: true },
    h("option", { value: "" }, "—"),
    people.map((p) => h("option", { value: p.employee_id, selected: p.employee_id === selected },
      p.name ? `${p.name} (${p.employee_id})` : p.employee_id)));
  return { field: h("div", { class: "field" }, h("label", { for: id }, t("evidence.employee")), select),
    input: select };
}

function evidenceView(employeeId, params, evidence) {
  const liabilities = evidence.liabilities ?? [];
  const positive = evidence.positive_records ?? [];
  const corrected = liabilities.filter((l) => l.corrected || l.status === "corrected").length;
  return [
    h("h2", { class: "subject" }, person(employeeId), " · ", params.from, " – ", params.to),
    h("p", { class: "summary", role: "status" }, t("evidence.summary", {
      liabilities: liabilities.length - corrected, corrected, positive: positive.length })),
    exportPanel(employeeId, params),
    h("section", { class: "card", "aria-labelledby": "evidence-liabilities-title" },
      h("h2", { id: "evidence-liabilities-title" }, t("evidence.liabilities")),
      liabilityTable(liabilities, { showCase: true, showEmployee: false })),
    h("section", { class: "card", "aria-labelledby": "evidence-positive-title" },
      h("h2", { id: "evidence-positive-title" }, t("evidence.positive")),
      positiveTable(positive)),
  ];
}

function positiveTable(records) {
  return h("table", { class: "data positive-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("field.duty")),
      h("th", { scope: "col" }, t("field.case")),
      h("th", { scope: "col" }, `${t("field.step")} / ${t("field.violation")}`),
      h("th", { scope: "col" }, t("field.at")),
      h("th", { scope: "col" }, t("field.events")))),
    h("tbody", {}, records.length === 0 ? emptyRow(5, t("evidence.positive.none"))
      : records.map((r) => h("tr", { "data-duty": r.duty },
        h("td", {}, term("duty", r.duty)),
        h("td", {}, r.case_id ? h("a", { href: `#/case/${encodeURIComponent(r.case_id)}` }, r.case_id) : t("none")),
        h("td", {}, r.step ?? r.violation_id ?? t("none")),
        h("td", {}, timeElement(r.at)),
        h("td", { class: "id" }, (r.event_refs ?? r.event_ids ?? []).join(", "))))));
}

function exportPanel(employeeId, params) {
  const { buttons, message } = downloadButtons({
    formats: FORMATS,
    path: `/v1/employees/${encodeURIComponent(employeeId)}/evidence`,
    params,
    name: (format) => `evidence-${employeeId}-${params.from}-${params.to}.${format}`,
    button: (label) => t("evidence.export.button", { format: label }),
  });
  return h("section", { class: "card export-panel", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, t("evidence.export")),
    h("p", { class: "muted" }, t("evidence.export.hint")), buttons, message);
}
