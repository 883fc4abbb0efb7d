// Names behind employee ids (GET /v1/employees), loaded once per sign-in. The console
// still works without them (a role that may not read the directory sees ids).

import { getJson } from "./api.js";
import { h } from "./dom.js";

let employees = new Map();
let loaded = null;

export function loadDirectory({ force = false } = {}) {
  if (!loaded || force) {
    loaded = getJson("/v1/employees")
      .then((answer) => {
        employees = new Map(answer.items.map((e) => [e.employee_id, e]));
        return employees;
      })
      .catch((error) => {
        loaded = null;
        throw error;
      });
  }
  return loaded;
}

export function forgetDirectory() {
  employees = new Map();
  loaded = null;
}

export function allEmployees() {
  return [...employees.values()];
}

export function nameOf(employeeId) {
  return employees.get(employeeId)?.name ?? null;
}

/** An employee shown as "name (id)", or the id alone when the name is unknown. */
export function person(employeeId) {
  if (!employeeId) return "—";
  const name = nameOf(employeeId);
  return name
    ? h("span", { class: "person", "data-employee": employeeId }, h("span", { class: "person-name" }, name),
        " ", h("span", { class: "id" }, employeeId))
    : h("span", { class: "person id", "data-employee": employeeId }, employeeId);
}
