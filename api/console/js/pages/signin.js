// Sign-in: the user pastes an API token. GET /v1/whoami checks it and says its tenant and
// role (a 401 keeps the user here); then the employee directory is loaded for the names.

import { getJson, session, signIn, signOut } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { forgetDirectory, loadDirectory } from "../people.js";
import { landingOf } from "../roles.js";
import { errorNotice, labelled, navigate } from "./common.js";

export function render(main, { notice } = {}) {
  const current = session();
  const token = labelled(t("signin.token"), {
    type: "password", name: "token", autocomplete: "off", spellcheck: "false", required: true,
    value: current?.token ?? "",
  });
  const message = h("div", { class: "messages" },
    notice ? h("p", { class: "notice error", role: "alert" }, notice) : null);
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, t("signin.title")),
    h("p", { class: "intro" }, t("signin.intro")),
    token.field,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("signin.submit"))),
    message);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = token.input.value.trim();
    if (!value) {
      message.replaceChildren(h("p", { class: "notice error", role: "alert" }, t("signin.required")));
      return;
    }
    signIn(value);
    forgetDirectory();
    try {
      signIn(value, await getJson("/v1/whoami"));
      await loadDirectory();
    } catch (error) {
      if (error.status === 401) {
        signOut();
        message.replaceChildren(h("p", { class: "notice error", role: "alert" }, t("signin.bad")));
        return;
      }
      if (error.status !== 403) {
        signOut();
        message.replaceChildren(errorNotice(error));
        return;
      }
      // 403: the token is good, its role just may not read names (ids are shown instead).
    }
    navigate(`#/${landingOf(session()?.role)}`);
  });

  main.replaceChildren(form);
  token.input.focus();
}
