// The console's shell: the header (navigation, tenant, language toggle) and a hash router
// (#/sign-in, #/case/ID, #/evidence/ID?from=&to=, #/units?from=&to=&bucket=) that hands
// the main area to one page module at a time.

import { session, signOut } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { language, setLanguage, t } from "./i18n.js";
import { forgetDirectory } from "./people.js";
import { navigate } from "./pages/common.js";
import * as casePage from "./pages/case.js";
import * as evidencePage from "./pages/evidence.js";
import * as signInPage from "./pages/signin.js";
import * as unitsPage from "./pages/units.js";

const PAGES = {
  "sign-in": { page: signInPage, title: "signin.title" },
  case: { page: casePage, title: "nav.case" },
  evidence: { page: evidencePage, title: "nav.evidence" },
  units: { page: unitsPage, title: "nav.units" },
};
const NAVIGATION = [["case", "nav.case"], ["evidence", "nav.evidence"], ["units", "nav.units"]];

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
    NAVIGATION.map(([name, label]) => h("li", {}, h("a", {
      href: `#/${name}`, "aria-current": name === active ? "page" : null, "data-nav": name,
    }, t(label)))),
    h("li", {}, h("button", { type: "button", class: "link-button", "data-nav": "sign-out",
      onclick: () => {
        signOut();
        forgetDirectory();
        navigate("#/sign-in");
      } }, t("nav.signout")))) : null);
  const tenant = document.getElementById("tenant-badge");
  tenant.hidden = !signedIn;
  tenant.textContent = signedIn
    ? `${t("signedin.as")}: ${signedIn.tenant ?? "?"} · ${t("signedin.role")}: ${signedIn.role ?? "?"}`
      + (signedIn.unit_id ? ` (${signedIn.unit_id})` : "")
    : "";
  const toggle = document.getElementById("lang-toggle");
  toggle.textContent = t("lang.switch");
  toggle.setAttribute("aria-label", t("lang.switch.label"));
  toggle.setAttribute("lang", language() === "zh" ? "en" : "zh-CN");
}

function route() {
  const { path, query } = currentRoute();
  let name = path[0] || (session() ? "case" : "sign-in");
  if (!session() || !(name in PAGES)) name = session() ? "case" : "sign-in";
  const { page, title } = PAGES[name];
  renderHeader(name);
  document.title = `${t(title)} · ${t("app.title")}`;
  const main = document.getElementById("main");
  const pending = notice;
  notice = null;
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
