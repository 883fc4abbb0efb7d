// Case: the responsibility chain (GET /v1/cases/{id}/chain) as a vertical timeline, the
// responsibility source named at the top and highlighted, the review deadlines and
// escalation path, the steps with their lead and cooperating parties, the case's
// liabilities (corrected ones struck through) and the one-click trace report.

import { getJson } from "../api.js";
import { h, timeElement } from "../dom.js";
import { traceReportButtons } from "../downloads.js";
import { t, term } from "../i18n.js";
import { liabilityTable } from "../liabilities.js";
import { person } from "../people.js";
import { badge, errorNotice, fact, flagBadge, labelled, loading, navigate, onTimeBadge } from "./common.js";
import { deadlinesSection, stepsSection, stepTitle } from "./case-sections.js";

export { liabilityTable };

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
    async (chain) => {
      const violations = await caseViolations(caseId, chain);
      result.replaceChildren(...caseView(chain, violations));
    },
    (error) => result.replaceChildren(error.status === 404
      ? h("p", { class: "notice", role: "status" }, t("case.notfound", { id: caseId }))
      : errorNotice(error)),
  );
}

/** The case's violations with their review deadlines (the violations route has no case
 * filter, so each violator's are read and this case's kept); none when not readable. */
async function caseViolations(caseId, chain) {
  const violators = new Set(chain.liabilities.filter((l) => l.violation_id && l.kind === "direct")
    .map((l) => l.employee_id));
  if (chain.responsibility_source?.reason === "violation" && chain.responsibility_source.employee_id) {
    violators.add(chain.responsibility_source.employee_id);
  }
  const found = [];
  for (const employeeId of violators) {
    try {
      const page = await getJson("/v1/violations", { employee_id: employeeId, limit: 1000 });
      found.push(...page.items.filter((v) => v.case_id === caseId));
    } catch {
      return found; // a role that may not read violations sees the chain without them
    }
  }
  return found;
}

function caseView(chain, violations) {
  const source = chain.responsibility_source;
  return [
    sourceSummary(source),
    reportPanel(chain.case_id),
    h("div", { class: "case-columns" },
      h("section", { class: "card chain", "aria-labelledby": "chain-title" },
        h("h2", { id: "chain-title" }, t("case.chain")),
        h("p", { class: "muted" }, t("case.chain.count", { n: chain.links.length })),
        timeline(chain.links, source)),
      h("div", { class: "case-side" },
        h("section", { class: "card liabilities", "aria-labelledby": "case-liabilities-title" },
          h("h2", { id: "case-liabilities-title" }, t("case.liabilities")),
          liabilityTable(chain.liabilities, { showCase: false })),
        deadlinesSection(violations, chain.escalations ?? []),
        stepsSection(chain))),
  ];
}

function reportPanel(caseId) {
  const { buttons, message } = traceReportButtons(caseId, { messageClass: "export-message" });
  return h("section", { class: "card export-panel report-panel", "aria-labelledby": "report-title" },
    h("h2", { id: "report-title" }, t("case.report")),
    h("p", { class: "muted" }, t("case.report.hint")), buttons, message);
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
        link.step ? h("span", { class: "link-step" }, `${t("field.step")}: `, stepTitle(link)) : null,
        isSource ? badge(t("case.source.badge"), "source") : null),
      h("dl", { class: "link-facts" },
        fact(t("field.actor"), person(link.actor_id)),
        fact(t("field.unit"), link.unit_id ?? t("none")),
        link.expected_lead ? fact(t("field.expected_lead"), person(link.expected_lead)) : null,
        link.due ? fact(t("field.due"), timeElement(link.due)) : null,
        link.output_standard ? fact(t("case.step.standard"), link.output_standard) : null),
      h("div", { class: "badges" }, onTimeBadge(link.on_time), link.flags.map(flagBadge)),
      h("div", { class: "link-id id" }, link.event_ref ?? link.event_id)));
  }));
}
