// Liabilities as a table, wherever they are shown (a case, an employee's evidence): who,
// kind, basis, why (policy, rule, values read, subordinate, review due, severity, appeal),
// the case, step and time, and the status; corrected ones struck through with the reason.

import { h, timeElement } from "./dom.js";
import { traceReportButtons } from "./downloads.js";
import { t, term } from "./i18n.js";
import { person } from "./people.js";
import { badge, emptyRow } from "./pages/common.js";
import { readsChains } from "./roles.js";
import { session } from "./api.js";

export function liabilityTable(liabilities, { showCase, showEmployee = true }) {
  const columns = 6 + (showCase ? 1 : 0) + (showEmployee ? 1 : 0);
  return h("table", { class: "data liabilities-table" },
    h("thead", {}, h("tr", {},
      showEmployee ? h("th", { scope: "col" }, t("field.employee")) : null,
      h("th", { scope: "col" }, t("field.kind")),
      h("th", { scope: "col" }, t("field.basis")),
      h("th", { scope: "col" }, t("liability.why")),
      showCase ? h("th", { scope: "col" }, t("field.case")) : null,
      h("th", { scope: "col" }, t("field.step")),
      h("th", { scope: "col" }, t("field.at")),
      h("th", { scope: "col" }, t("field.status")))),
    h("tbody", {}, liabilities.length === 0
      ? emptyRow(columns, t(showCase ? "evidence.liabilities.none" : "case.liabilities.none"))
      : liabilities.map((l) => liabilityRow(l, showCase, showEmployee))));
}

function liabilityRow(liability, showCase, showEmployee) {
  const corrected = Boolean(liability.corrected) || liability.status === "corrected";
  const strike = (content) => (corrected ? h("s", {}, content) : content);
  return h("tr", {
    class: corrected ? "corrected" : null, "data-liability": liability.liability_id,
    "data-basis": liability.basis, "data-employee": liability.employee_id,
  },
  showEmployee ? h("td", {}, strike(person(liability.employee_id))) : null,
  h("td", {}, strike(term("kind", liability.kind))),
  h("td", {}, strike(term("basis", liability.basis))),
  h("td", { class: "why" }, why(liability)),
  showCase ? h("td", {}, caseCell(liability.case_id)) : null,
  h("td", {}, stepText(liability)),
  h("td", {}, timeElement(liability.at)),
  h("td", {}, status(liability, corrected)));
}

function caseCell(caseId) {
  if (!caseId) return t("none");
  const role = session()?.role;
  const name = readsChains(role)
    ? h("a", { href: `#/case/${encodeURIComponent(caseId)}` }, caseId)
    : h("span", { class: "case-id" }, caseId);
  // Anyone who sees the liability may read the case's trace report (HR included).
  const { buttons, message } = traceReportButtons(caseId);
  buttons.querySelectorAll("button:not([data-format=pdf])").forEach((b) => b.remove());
  buttons.classList.add("compact");
  return h("div", { class: "case-cell" }, name, buttons, message);
}

function stepText(liability) {
  if (!liability.step) return t("none");
  const title = liability.step_title ?? liability.explanation?.step_title;
  return title ? [h("strong", {}, title), " ", h("span", { class: "id" }, liability.step)] : liability.step;
}

/** The liability's reasons, from the fields the ledger explains it with (each optional). */
export function why(liability) {
  const e = { ...(liability.explanation ?? {}), ...liability };
  const parts = [];
  if (typeof e.summary === "string") parts.push(h("div", { class: "why-summary" }, e.summary));
  if (e.policy_id) {
    const version = e.policy_version ? ` v${e.policy_version}` : "";
    parts.push(h("div", {}, `${t("case.policy")}: `, h("code", {}, `${e.policy_id}${version}`),
      e.policy_title ? ` ${e.policy_title}` : ""));
  }
  if (e.rule) parts.push(h("div", {}, t("liability.rule", { rule: "" }), h("code", {}, e.rule)));
  const description = e.rule_description ?? e.description;
  if (description) parts.push(h("div", { class: "muted" }, description));
  if (e.values && typeof e.values === "object" && Object.keys(e.values).length > 0) {
    const text = Object.entries(e.values).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ");
    parts.push(h("div", { "data-values": "" }, t("liability.value", { values: text })));
  }
  const missing = e.missing_field ?? e.unevaluated_field;
  if (missing) parts.push(badge(t("liability.unevaluated", { field: missing }), "warn"));
  if (e.subordinate_id) parts.push(h("div", {}, t("liability.subordinate", { who: "" }), person(e.subordinate_id)));
  if (e.review_due) parts.push(h("div", {}, `${t("case.review.due")}: `, timeElement(e.review_due)));
  if (e.output_standard) parts.push(h("div", {}, `${t("case.step.standard")}: ${e.output_standard}`));
  if (e.severity) parts.push(badge(term("severity", e.severity), e.severity === "minor" ? "warn" : "bad"));
  if (Array.isArray(e.roles) && e.roles.length) parts.push(h("div", { class: "id" }, e.roles.join(", ")));
  return parts.length ? parts : t("none");
}

function status(liability, corrected) {
  const appeal = liability.appeal_status ?? liability.appeal?.status;
  const appealBadge = appeal ? badge(term("appeal", appeal), "warn", { "data-appeal": appeal }) : null;
  if (!corrected) return [badge(t("status.in_force"), "bad"), appealBadge];
  return [badge(t("status.corrected"), "warn"), appealBadge,
    h("div", { class: "correction" }, t("status.corrected.reason", { reason: liability.corrected_reason ?? t("none") })),
    liability.replaced_by ? h("div", { class: "id" }, t("status.replaced_by", { id: liability.replaced_by })) : null];
}
