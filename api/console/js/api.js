// Talking to the ledger's API: the session (the token and what GET /v1/whoami said of it:
// tenant, role, a manager's unit; in sessionStorage so it ends with the tab), JSON reads,
// and downloads that carry the bearer header. The tenant is the token's: no request names
// one.

const SESSION_KEY = "ledger.console.session";

export function session() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return saved && saved.token ? saved : null;
  } catch {
    return null;
  }
}

/** Keep `token` for this tab; `who` is GET /v1/whoami's answer for it (null until known). */
export function signIn(token, who = null) {
  const known = who ? { tenant: who.tenant, role: who.role, unit_id: who.unit_id ?? null } : {};
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, ...known }));
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** An answer other than 2xx, with what the problem document (RFC 9457) said. */
export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

function headers(accept) {
  const current = session();
  const result = { Accept: accept };
  if (current) result.Authorization = `Bearer ${current.token}`;
  return result;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const detail = body && typeof body.detail === "string" ? body.detail
    : body && body.detail ? JSON.stringify(body.detail) : response.statusText;
  return new ApiError(response.status, body && body.title, detail);
}

async function request(path, accept) {
  let response;
  try {
    response = await fetch(path, { headers: headers(accept), cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "network", String(error.message || error));
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/** GET `path` with `params` (empty values left out) and return the parsed JSON. */
export async function getJson(path, params = {}) {
  const response = await request(withQuery(path, params), "application/json");
  return response.json();
}

export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * Download `path` and save it. A plain link can not send the bearer header, so the file is
 * fetched as a blob and saved through a temporary object URL. Returns {file, size}.
 */
export async function download(path, fallbackName) {
  const response = await request(path, "*/*");
  const blob = await response.blob();
  const file = filenameOf(response.headers.get("Content-Disposition")) || fallbackName;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { file, size: blob.size };
}

function filenameOf(disposition) {
  if (!disposition) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(disposition);
  return plain ? plain[1].trim() : null;
}
