// The parts of the case page that say who was due what and when: each violation's review
// (first holder, current holder, due, missed deadline, status) with the escalation path up
// the supervisor line, and the steps with their title, output standard, lead (牵头) and
// cooperating parties (配合) with their contributions.

import { formatTime, h, timeElement } from "../dom.js";
import { t, term } from "../i18n.js";
import { person } from "../people.js";
import { badge, fact, onTimeBadge } from "./common.js";

/** A step as "title (step)" when the ledger gave a title, else the step's id. */
export function stepTitle(link) {
  const title = link.step_title ?? link.title ?? null;
  return title
    ? h("span", { class: "step-name", "data-step": link.step }, h("strong", {}, title), " ",
        h("span", { class: "id" }, link.step))
    : h("strong", { "data-step": link.step }, link.step);
}

export function deadlinesSection(violations, escalations) {
  const reviews = violations.map((v) => reviewCard(v, escalations.filter((e) =>
    e.obligation !== "step" && e.violation_id === v.violation_id)));
  const stepPaths = escalations.filter((e) => e.obligation === "step");
  const empty = reviews.length === 0 && stepPaths.length === 0;
  return h("section", { class: "card deadlines", id: "deadlines", "aria-labelledby": "deadlines-title" },
    h("h2", { id: "deadlines-title" }, t("case.deadlines")),
    empty ? h("p", { class: "muted" }, t("case.deadlines.none")) : null,
    reviews,
    stepPaths.length ? h("div", { class: "review" },
      h("h3", {}, t("case.escalation.step", { step: stepPaths[0].step })),
      escalationPath(stepPaths)) : null);
}

function reviewCard(v, escalations) {
  const statusKey = `status.review.${v.status}`;
  return h("div", { class: "review", "data-violation": v.violation_id, "data-status": v.status },
    h("h3", {}, t("case.review", { violation: v.violation_id })),
    h("dl", { class: "facts" },
      fact(t("case.policy"), [h("code", {}, `${v.policy_id} v${v.policy_version}`), " ",
        badge(term("severity", v.severity), v.severity === "minor" ? "warn" : "bad")]),
      v.reason ? fact(t("field.reason"), v.reason) : null,
      fact(t("case.review.first"), person(v.flagged_supervisor_id)),
      fact(t("case.review.holder"), person(v.supervisor_id)),
      fact(t("case.review.due"), h("span", { "data-review-due": v.review_due ?? "" }, timeElement(v.review_due))),
      v.missed_due ? fact(t("case.review.missed"), timeElement(v.missed_due)) : null,
      fact(t("case.review.status"), badge(t(statusKey) === statusKey ? v.status : t(statusKey),
        v.status === "missed" ? "bad" : v.status === "open" ? "warn" : "good")),
      v.decision ? fact(t("case.review.decision"), v.decision) : null),
    escalationPath(escalations, v));
}

/** The climb: who held the obligation, to whom it went, each with its due. */
function escalationPath(escalations, violation = null) {
  const steps = [];
  if (violation && escalations.length === 0 && violation.escalated_to) {
    steps.push({ from_id: violation.flagged_supervisor_id, to_id: violation.escalated_to,
      due: violation.review_due, at: violation.escalated_at });
  } else {
    steps.push(...escalations);
  }
  if (steps.length === 0) return null;
  return h("ol", { class: "escalation-path" }, steps.map((e) => h("li", { "data-to": e.to_id },
    person(e.from_id), " → ", person(e.to_id), " · ", `${t("field.due")} `, timeElement(e.due))));
}

export function stepsSection(chain) {
  const steps = stepsOf(chain);
  return h("section", { class: "card steps", id: "steps", "aria-labelledby": "steps-title" },
    h("h2", { id: "steps-title" }, t("case.steps")),
    steps.length === 0 ? h("p", { class: "muted" }, t("case.steps.none")) : h("table", { class: "data steps-table" },
      h("thead", {}, h("tr", {},
        [t("field.step"), t("case.step.lead"), t("field.due"), t("case.step.cooperating")]
          .map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, steps.map((s) => h("tr", { "data-step": s.step },
        h("td", {}, stepTitle(s), s.output_standard
          ? h("div", { class: "muted standard" }, `${t("case.step.standard")}: ${s.output_standard}`) : null),
        h("td", {}, person(s.lead), " ", onTimeBadge(s.on_time)),
        h("td", {}, timeElement(s.due)),
        h("td", {}, s.cooperating.length === 0 ? h("span", { class: "muted" }, t("case.step.cooperating.none"))
          : h("ul", { class: "cooperating" }, s.cooperating.map(cooperatingItem))))))));
}

function cooperatingItem(c) {
  const who = c.owner_ids?.length ? c.owner_ids.map((id) => person(id)) : [c.party ?? c.unit_id];
  const done = c.at ? t("case.contribution.done", { at: formatTime(c.at) })
    : t("case.contribution.missing", { due: formatTime(c.due) });
  return h("li", { "data-party": c.party ?? "" }, who, c.unit_id ? ` (${c.unit_id})` : "", " · ",
    done, " ", onTimeBadge(c.on_time));
}

/** One row per step: from `chain.steps` when the ledger lists them, else from the links. */
function stepsOf(chain) {
  const contributions = chain.contributions ?? [];
  if (Array.isArray(chain.steps) && chain.steps.length) {
    return chain.steps.map((s) => ({ ...s, lead: s.lead_id ?? s.expected_lead ?? s.lead,
      cooperating: contributions.filter((c) => c.step === s.step) }));
  }
  const byStep = new Map();
  for (const link of chain.links) {
    if (!link.step || link.type === "ledger.step.contributed") continue;
    const row = byStep.get(link.step) ?? { step: link.step, cooperating: [] };
    row.step_title ??= link.step_title ?? link.title;
    row.output_standard ??= link.output_standard;
    if (link.expected_lead && !(link.flags ?? []).includes("missed_contribution")) row.lead ??= link.expected_lead;
    if (link.due && !(link.flags ?? []).includes("missed_contribution")) row.due ??= link.due;
    if (link.on_time !== undefined && link.on_time !== null
      && !(link.flags ?? []).includes("missed_contribution")) row.on_time = link.on_time;
    byStep.set(link.step, row);
  }
  for (const row of byStep.values()) row.cooperating = contributions.filter((c) => c.step === row.step);
  return [...byStep.values()];
}
