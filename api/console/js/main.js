// The console's shell: the header (navigation, tenant, language toggle) and a hash router
// (#/sign-in, #/case/ID, #/evidence/ID?from=&to=, #/units?from=&to=&bucket=, #/queue,
// #/scores) that hands the main area to one page module at a time. Each role sees only the
// pages it may use and lands on the first (roles.js).

import { session, signOut } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { language, setLanguage, t } from "./i18n.js";
import { forgetDirectory } from "./people.js";
import { navigate } from "./pages/common.js";
import { landingOf, mayUse, pagesOf } from "./roles.js";
import * as casePage from "./pages/case.js";
import * as evidencePage from "./pages/evidence.js";
import * as queuePage from "./pages/queue.js";
import * as scoresPage from "./pages/scores.js";
import * as signInPage from "./pages/signin.js";
import * as unitsPage from "./pages/units.js";

const PAGES = {
  "sign-in": { page: signInPage, title: "signin.title" },
  case: { page: casePage, title: "nav.case" },
  evidence: { page: evidencePage, title: "nav.evidence" },
  units: { page: unitsPage, title: "nav.units" },
  queue: { page: queuePage, title: "nav.queue" },
  scores: { page: scoresPage, title: "nav.scores" },
};

let notice = null;

function currentRoute() {
  const [pathText, queryText = ""] = window.location.hash.replace(/^#\/?/, "").split("?");
  const path = pathText.split("/").filter(Boolean);
  return { path, query: new URLSearchParams(queryText) };
}

function renderHeader(active) {
  const signedIn = session();
  document.getElementById("brand-title").textContent = t("app.title");
  document.getElementById("brand-subtitle").textContent = t("app.subtitle");
  document.querySelector(".skip-link").textContent = t("nav.skip");
  const nav = document.getElementById("nav");
  nav.setAttribute("aria-label", t("nav.main"));
  replaceChildren(nav, signedIn ? h("ul", {},
    pagesOf(signedIn.role).map((name) => h("li", {}, h("a", {
      href: `#/${name}`, "aria-current": name === active ? "page" : null, "data-nav": name,
    }, t(PAGES[name].title)))),
    h("li", {}, h("button", { type: "button", class: "link-button", "data-nav": "sign-out",
      onclick: () => {
        signOut();
        forgetDirectory();
        navigate("#/sign-in");
      } }, t("nav.signout")))) : null);
  const tenant = document.getElementById("tenant-badge");
  tenant.hidden = !signedIn;
  tenant.textContent = signedIn
    ? `${t("signedin.as")}: ${signedIn.tenant ?? "?"} · ${t("signedin.role")}: ${roleName(signedIn.role)}`
      + (signedIn.unit_id ? ` (${signedIn.unit_id})` : "")
    : "";
  const toggle = document.getElementById("lang-toggle");
  toggle.textContent = t("lang.switch");
  toggle.setAttribute("aria-label", t("lang.switch.label"));
  toggle.setAttribute("lang", language() === "zh" ? "en" : "zh-CN");
}

function roleName(role) {
  if (!role) return "?";
  const key = `role.${role}`;
  return t(key) === key ? role : t(key);
}

/** The page to show: the one asked for when the role may use it, else the role's own. */
function pageFor(path) {
  const current = session();
  if (!current) return "sign-in";
  const asked = path[0];
  if (asked === "sign-in") return "sign-in";
  return asked in PAGES && mayUse(current.role, asked) ? asked : landingOf(current.role);
}

function route() {
  const { path, query } = currentRoute();
  const name = pageFor(path);
  if (session() && name !== "sign-in" && path[0] !== name) {
    window.location.replace(`#/${name}`); // the hash of the page shown; routes again
    return;
  }
  const { page, title } = PAGES[name];
  renderHeader(name);
  document.title = `${t(title)} · ${t("app.title")}`;
  const main = document.getElementById("main");
  let pending = notice;
  notice = null;
  if (session() && name === "sign-in" && pagesOf(session().role).length === 0) {
    pending = t("error.norole"); // an admin's or publisher's token reads no data here
  }
  page.render(main, { path, query, notice: pending });
}

window.addEventListener("ledger:unauthorized", () => {
  signOut();
  forgetDirectory();
  notice = t("error.unauthorized");
  navigate("#/sign-in");
});

window.addEventListener("hashchange", route);

document.getElementById("lang-toggle").addEventListener("click", () => {
  setLanguage(language() === "zh" ? "en" : "zh");
  route();
});

route();
