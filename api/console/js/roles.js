// Which pages each role may use, in the order of its navigation; the first is where the
// role lands after signing in (where its work is). Mirrors the API's grants
// (ledger/domain/access.py): HR reads no case chain, so HR lands on evidence and opens a
// case's trace report from there; a manager lands on the queue of their units.

const ROLE_PAGES = {
  auditor: ["case", "evidence", "units", "scores", "queue"],
  hr: ["evidence", "scores", "units"],
  manager: ["queue", "case", "evidence", "units", "scores"],
  admin: [],
  publisher: [],
};

/** A token whose role is not known yet (whoami not answered) gets the auditor's pages;
 * the API still decides every read. */
export function pagesOf(role) {
  return ROLE_PAGES[role] ?? ROLE_PAGES.auditor;
}

export function landingOf(role) {
  return pagesOf(role)[0] ?? "sign-in";
}

export function mayUse(role, page) {
  return pagesOf(role).includes(page);
}

/** Whether the role reads case chains (else a case is reached through its trace report). */
export function readsChains(role) {
  return mayUse(role, "case");
}
