// Case: the responsibility chain (GET /v1/cases/{id}/chain) as a vertical timeline, the
// responsibility source named at the top and highlighted in the timeline, and the case's
// liabilities, corrected ones struck through with the reason of the correction.

import { getJson } from "../api.js";
import { h, timeElement } from "../dom.js";
import { t, term } from "../i18n.js";
import { person } from "../people.js";
import { badge, emptyRow, errorNotice, flagBadge, labelled, loading, navigate, onTimeBadge } from "./common.js";

export function render(main, { path }) {
  const caseId = decodeURIComponent(path[1] || "");
  const search = labelled(t("case.id"), {
    type: "search", name: "case", required: true, value: caseId, placeholder: "SO-1001",
    autocomplete: "off",
  });
  const form = h("form", { class: "toolbar", role: "search", "aria-label": t("case.find") },
    search.field, h("button", { type: "submit", class: "primary" }, t("case.open")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = search.input.value.trim();
    if (id) navigate(`#/case/${encodeURIComponent(id)}`);
  });
  const result = h("div", { class: "case-result" });
  main.replaceChildren(h("h1", {}, caseId ? `${t("case.title")} ${caseId}` : t("case.find")), form, result);
  if (!caseId) {
    search.input.focus();
    return;
  }
  result.replaceChildren(loading());
  getJson(`/v1/cases/${encodeURIComponent(caseId)}/chain`).then(
    (chain) => result.replaceChildren(...caseView(chain)),
    (error) => result.replaceChildren(error.status === 404
      ? h("p", { class: "notice", role: "status" }, t("case.notfound", { id: caseId }))
      : errorNotice(error)),
  );
}

function caseView(chain) {
  const source = chain.responsibility_source;
  return [
    sourceSummary(source),
    h("div", { class: "case-columns" },
      h("section", { class: "card chain", "aria-labelledby": "chain-title" },
        h("h2", { id: "chain-title" }, t("case.chain")),
        h("p", { class: "muted" }, t("case.chain.count", { n: chain.links.length })),
        timeline(chain.links, source)),
      h("section", { class: "card liabilities", "aria-labelledby": "case-liabilities-title" },
        h("h2", { id: "case-liabilities-title" }, t("case.liabilities")),
        liabilityTable(chain.liabilities, { showCase: false }))),
  ];
}

function sourceSummary(source) {
  if (!source) {
    return h("section", { class: "source-summary none", "aria-labelledby": "source-title" },
      h("h2", { id: "source-title" }, t("case.source")),
      h("p", {}, t("case.source.none")));
  }
  return h("section", { class: "source-summary", id: "responsibility-source",
    "aria-labelledby": "source-title" },
  h("h2", { id: "source-title" }, t("case.source")),
  h("dl", { class: "facts" },
    fact(t("field.event"), h("code", { "data-event": source.event_id }, source.event_id)),
    fact(t("field.employee"), person(source.employee_id)),
    fact(t("field.unit"), source.unit_id ?? t("none")),
    fact(t("field.reason"), flagBadge(source.reason))));
}

function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function timeline(links, source) {
  return h("ol", { class: "timeline" }, links.map((link) => {
    const isSource = source !== null && link.event_id === source.event_id;
    const failed = link.flags.length > 0 || link.on_time === false;
    return h("li", {
      class: `link${isSource ? " is-source" : ""}${failed ? " has-flags" : ""}`,
      "data-event": link.event_id,
      "aria-current": isSource ? "true" : null,
    },
    h("div", { class: "link-time" }, timeElement(link.at)),
    h("div", { class: "link-body" },
      h("div", { class: "link-head" },
        h("span", { class: "link-type" }, term("type", link.type)),
        link.step ? h("span", { class: "link-step" }, `${t("field.step")}: `, h("strong", {}, link.step)) : null,
        isSource ? badge(t("case.source.badge"), "source") : null),
      h("dl", { class: "link-facts" },
        fact(t("field.actor"), person(link.actor_id)),
        fact(t("field.unit"), link.unit_id ?? t("none")),
        link.expected_lead ? fact(t("field.expected_lead"), person(link.expected_lead)) : null,
        link.due ? fact(t("field.due"), timeElement(link.due)) : null),
      h("div", { class: "badges" }, onTimeBadge(link.on_time), link.flags.map(flagBadge)),
      h("div", { class: "link-id id" }, link.event_ref ?? link.event_id)));
  }));
}

/** Liabilities as a table; corrected ones struck through, with why. */
export function liabilityTable(liabilities, { showCase, showEmployee = true }) {
  const columns = 5 + (showCase ? 1 : 0) + (showEmployee ? 1 : 0);
  return h("table", { class: "data liabilities-table" },
    h("thead", {}, h("tr", {},
      showEmployee ? h("th", { scope: "col" }, t("field.employee")) : null,
      h("th", { scope: "col" }, t("field.kind")),
      h("th", { scope: "col" }, t("field.basis")),
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
  showCase ? h("td", {}, h("a", { href: `#/case/${encodeURIComponent(liability.case_id)}` }, liability.case_id)) : null,
  h("td", {}, liability.step ?? t("none")),
  h("td", {}, timeElement(liability.at)),
  h("td", {}, corrected
    ? [badge(t("status.corrected"), "warn"),
      h("div", { class: "correction" }, t("status.corrected.reason", { reason: liability.corrected_reason ?? t("none") })),
      liability.replaced_by ? h("div", { class: "id" }, t("status.replaced_by", { id: liability.replaced_by })) : null]
    : badge(t("status.in_force"), "bad")));
}
