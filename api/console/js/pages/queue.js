// The managers' queue (CONTRACT 8.7, GET /v1/obligations): open reviews, steps in
// progress and contributions owed in the caller's units, who owes each and when it is due,
// what is due soon first; filtered by status and due date, and downloadable as CSV.

import { getJson } from "../api.js";
import { h, timeElement } from "../dom.js";
import { t, term } from "../i18n.js";
import { loadDirectory, nameOf, person } from "../people.js";
import { readsChains } from "../roles.js";
import { session } from "../api.js";
import { badge, emptyRow, errorNotice, labelled, labelledSelect, loading, navigate } from "./common.js";

const STATUSES = ["open", "missed", "done"];
const SOON_HOURS = 24;
const GROUPS = [["review", "queue.open"], ["step", "queue.steps"], ["contribution", "queue.contributions"]];

export async function render(main, { query }) {
  const status = STATUSES.includes(query.get("status")) ? query.get("status") : "open";
  const dueBefore = query.get("due_before") || "";
  const which = labelledSelect(t("queue.status"), "status",
    STATUSES.map((s) => [s, t(`queue.status.${s}`)]), status);
  const before = labelled(t("queue.due_before"), { type: "date", name: "due_before", value: dueBefore });
  const form = h("form", { class: "toolbar", "aria-label": t("queue.title") },
    which.field, before.field, h("button", { type: "submit", class: "primary" }, t("queue.show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = new URLSearchParams({ status: which.select.value });
    if (before.input.value) search.set("due_before", before.input.value);
    navigate(`#/queue?${search}`);
  });
  const result = h("div", { class: "queue-result" }, loading());
  main.replaceChildren(h("h1", {}, t("queue.title")), h("p", { class: "intro muted" }, t("queue.intro")),
    form, result);
  try {
    await loadDirectory().catch(() => null);
    const params = { status, limit: 1000 };
    if (dueBefore) params.due_before = `${dueBefore}T00:00:00Z`;
    const answer = await getJson("/v1/obligations", params);
    result.replaceChildren(...queueView(itemsOf(answer), status));
  } catch (error) {
    result.replaceChildren(errorNotice(error));
  }
}

function itemsOf(answer) {
  const items = Array.isArray(answer) ? answer : answer.items ?? answer.obligations ?? [];
  return [...items].sort((a, b) => String(a.due).localeCompare(String(b.due)));
}

/** Due soon: the ledger says so (`due_soon`), else within a day of the latest business time
 * the list shows (the ledger's clock is business time, not this browser's). */
function soonOf(items) {
  if (items.some((o) => "due_soon" in o)) return items.filter((o) => o.due_soon && !isDone(o));
  const latest = Math.max(0, ...items.map((o) => Date.parse(o.opened_at ?? "") || 0));
  return items.filter((o) => !isDone(o) && Date.parse(o.due) - latest <= SOON_HOURS * 3_600_000);
}

function isDone(o) {
  return o.status === "done" || o.status === "missed";
}

function queueView(items, status) {
  const soon = status === "open" ? soonOf(items) : [];
  const missed = items.filter((o) => o.status === "missed").length;
  const open = items.filter((o) => !isDone(o)).length;
  return [
    h("p", { class: "summary", role: "status" }, t("queue.summary", { open, soon: soon.length, missed })),
    h("div", { class: "actions" }, csvButton(items)),
    status === "open" ? section("queue-soon", t("queue.soon"), soon,
      h("p", { class: "muted" }, t("queue.soon.hint", { hours: SOON_HOURS }))) : null,
    ...GROUPS.map(([kind, label]) => section(`queue-${kind}`, t(label), items.filter((o) => o.obligation === kind))),
  ];
}

function section(id, title, items, hint = null) {
  return h("section", { class: "card queue", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title, " ", badge(String(items.length), items.length ? "warn" : "neutral")),
    hint, obligationTable(items));
}

function obligationTable(items) {
  return h("table", { class: "data obligations-table" },
    h("thead", {}, h("tr", {}, ["queue.what", "field.case", "queue.holder", "field.unit", "queue.opened",
      "queue.due", "queue.level", "queue.status"].map((k) => h("th", { scope: "col" }, t(k))))),
    h("tbody", {}, items.length === 0 ? emptyRow(8, t("queue.none")) : items.map((o) =>
      h("tr", { "data-obligation": o.obligation_id ?? "", "data-kind": o.obligation, "data-holder": o.holder_id },
        h("td", {}, term("obligation", o.obligation), " ",
          h("span", { class: "id" }, o.step ?? o.violation_id ?? "")),
        h("td", {}, caseLink(o.case_id)),
        h("td", {}, person(o.holder_id)),
        h("td", {}, o.unit_id ?? t("none")),
        h("td", {}, timeElement(o.opened_at)),
        h("td", {}, timeElement(o.due)),
        h("td", { class: "num" }, String(o.level ?? 1)),
        h("td", {}, badge(t(`queue.status.${o.status ?? "open"}`),
          o.status === "missed" ? "bad" : o.status === "done" ? "good" : "warn"))))));
}

function caseLink(caseId) {
  if (!caseId) return t("none");
  return readsChains(session()?.role) ? h("a", { href: `#/case/${encodeURIComponent(caseId)}` }, caseId) : caseId;
}

/** The list as shown, saved as CSV (UTF-8 with a BOM so spreadsheet programs read Chinese). */
function csvButton(items) {
  const button = h("button", { type: "button", class: "export", "data-format": "csv" }, t("queue.download"));
  button.addEventListener("click", () => {
    const header = ["obligation", "case_id", "step", "violation_id", "holder_id", "holder_name", "unit_id",
      "opened_at", "due", "level", "status"];
    const rows = items.map((o) => [o.obligation, o.case_id, o.step, o.violation_id, o.holder_id,
      nameOf(o.holder_id), o.unit_id, o.opened_at, o.due, o.level ?? 1, o.status ?? "open"]);
    const text = [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n");
    const url = URL.createObjectURL(new Blob(["\ufeff", text, "\r\n"], { type: "text/csv" }));
    const link = h("a", { href: url, download: "obligations.csv", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  return button;
}

function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // never a formula in a spreadsheet
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
