// A row of download buttons (one per format) with the message of the last download. The
// file is fetched with the bearer header (api.js download) in the console's language.

import { download, withQuery } from "./api.js";
import { formatBytes, h } from "./dom.js";
import { apiLanguage, t } from "./i18n.js";
import { errorNotice } from "./pages/common.js";

export const FORMATS = [["json", "JSON"], ["csv", "CSV"], ["xlsx", "XLSX"], ["pdf", "PDF"]];

/**
 * formats: [[format, label]]; path: the route; params: its query (format and lang added);
 * name(format): the file name when the answer names none; button(label): the button text.
 */
export function downloadButtons({ formats, path, params = {}, name, button, attributes = {},
  messageClass = "export-message" }) {
  const message = h("p", { class: messageClass, role: "status", "aria-live": "polite" });
  const buttons = formats.map(([format, label]) => {
    const element = h("button", { type: "button", class: "export", "data-format": format,
      ...attributes }, button(label));
    element.addEventListener("click", async () => {
      element.disabled = true;
      element.setAttribute("aria-busy", "true");
      const url = withQuery(path, { ...params, format, lang: apiLanguage() });
      try {
        const saved = await download(url, name(format));
        message.replaceChildren(t("download.done", { file: saved.file, size: formatBytes(saved.size) }));
      } catch (error) {
        message.replaceChildren(errorNotice(error));
      } finally {
        element.disabled = false;
        element.removeAttribute("aria-busy");
      }
    });
    return element;
  });
  return { buttons: h("div", { class: "actions" }, buttons), message };
}

/** The trace report of a case (责任追溯报告) as JSON, PDF and XLSX. */
export function traceReportButtons(caseId, { messageClass = "report-message" } = {}) {
  return downloadButtons({
    messageClass,
    formats: [["pdf", "PDF"], ["xlsx", "XLSX"], ["json", "JSON"]],
    path: `/v1/cases/${encodeURIComponent(caseId)}/report`,
    name: (format) => `trace-report-${caseId}.${format}`,
    button: (label) => t("case.report.button", { format: label }),
    attributes: { "data-case": caseId },
  });
}
