// Pieces the pages share: labelled inputs, the loading and error notices, badges, and the
// default period.

import { t, term } from "../i18n.js";
import { h, isoDate } from "../dom.js";

let fieldCount = 0;

/** A <label> + <input> pair; returns {field, input}. */
export function labelled(label, attributes) {
  fieldCount += 1;
  const id = attributes.id || `field-${fieldCount}`;
  const input = h("input", { ...attributes, id });
  return { field: h("div", { class: "field" }, h("label", { for: id }, label), input), input };
}

export function labelledSelect(label, name, options, selected) {
  fieldCount += 1;
  const id = `field-${fieldCount}`;
  const select = h("select", { id, name },
    options.map(([value, text]) => h("option", { value, selected: value === selected }, text)));
  return { field: h("div", { class: "field" }, h("label", { for: id }, label), select), select };
}

export function loading() {
  return h("p", { class: "notice loading", role: "status" }, t("loading"));
}

/** The error as the user should read it; a 401 also sends them back to sign in. */
export function errorNotice(error) {
  let text;
  if (error.status === 401) {
    text = t("error.unauthorized");
    window.dispatchEvent(new CustomEvent("ledger:unauthorized"));
  } else if (error.status === 403) {
    text = `${t("error.forbidden")} (${error.detail})`;
  } else if (error.status === 0) {
    text = t("error.network", { detail: error.detail });
  } else {
    text = t("error.http", { status: error.status ?? "?", detail: error.detail ?? String(error) });
  }
  return h("p", { class: "notice error", role: "alert" }, text);
}

export function badge(text, tone = "neutral", attributes = {}) {
  return h("span", { class: `badge badge-${tone}`, ...attributes }, text);
}

const FAILURES = new Set(["violation", "missed_deadline", "failed_inspection",
  "missed_inspection", "defect", "override"]);

export function flagBadge(flag) {
  const tone = FAILURES.has(flag) ? "bad" : "warn";
  return badge(term("flag", flag), tone, { "data-flag": flag });
}

export function onTimeBadge(onTime) {
  if (onTime === null || onTime === undefined) return null;
  return badge(t(onTime ? "ontime.true" : "ontime.false"), onTime ? "good" : "bad",
    { "data-on-time": String(onTime) });
}

/** Default period: 1 January of this year to today. */
export function defaultPeriod() {
  const today = new Date();
  return { from: `${today.getFullYear()}-01-01`, to: isoDate(today) };
}

/** A term and its value in a <dl class="facts">. */
export function fact(label, value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

export function emptyRow(columns, text) {
  return h("tr", {}, h("td", { colspan: columns, class: "empty" }, text));
}

/** Go to `hash`, rendering again when it is the current one (a repeated search reloads). */
export function navigate(hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = hash;
}
