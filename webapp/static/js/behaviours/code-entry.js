// @ts-check
/**
 * Typing a bin code (<form data-code-entry> with its <input name="code">): the check character
 * is checked as the person types, so a mistyped or swapped character shows at once, and a good
 * code opens its bin without asking the server (offline too: the service worker serves the
 * bin page or the offline bin shell). Without JavaScript the form asks the server, which
 * applies the same rules.
 */
import { t } from "../i18n.js";
import { readCode } from "../scan/codes.js";
import { binUrl, messageFor, offerToScanScreen, readHere } from "../scan/route.js";

export const selector = "form[data-code-entry]";

/** A code is 7 characters (B, five digits, the check character): judge it once it is that long. */
const CODE_LENGTH = 7;
const URL_START = /^[a-z][a-z0-9+.-]*:/i;

/** @param {Element} form */
export function attach(form) {
  if (!(form instanceof HTMLFormElement)) return;
  const input = form.elements.namedItem("code");
  if (!(input instanceof HTMLInputElement)) return;
  const error = errorElement(form, input);

  /** @param {string} message */
  const show = (message) => {
    error.textContent = message;
    error.hidden = !message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };

  input.addEventListener("input", () => {
    const text = input.value.trim();
    form.removeAttribute("data-code-state");
    if (!text || URL_START.test(text)) return show(""); // a scanner typing a URL: judged on Enter
    const scan = readCode(text);
    if (scan.kind === "bin") {
      form.setAttribute("data-code-state", "valid");
      show("");
    } else if (scan.kind === "wrong_check") {
      form.setAttribute("data-code-state", "wrong-check");
      show(t("scan_wrong_check"));
    } else if (text.replace(/\s+/g, "").length >= CODE_LENGTH) {
      form.setAttribute("data-code-state", "invalid");
      show(t("scan_not_a_bin"));
    } else {
      show("");
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return show(t("scan_not_a_bin"));
    const scan = readHere(text);
    if (scan.kind !== "bin") {
      show(messageFor(scan));
      input.select();
      return;
    }
    show("");
    // The scan screen may take it (continuous mode lists it); else open the bin.
    if (offerToScanScreen(text, "typed")) {
      input.value = "";
      form.removeAttribute("data-code-state");
      return;
    }
    location.assign(binUrl(scan.code));
  });
}

/**
 * The form's error line (<p data-code-error>), made when the page has none.
 * @param {HTMLFormElement} form
 * @param {HTMLInputElement} input
 * @returns {HTMLElement}
 */
function errorElement(form, input) {
  const held = form.querySelector("[data-code-error]");
  const error = held instanceof HTMLElement ? held : document.createElement("p");
  if (error !== held) {
    error.className = "error";
    error.setAttribute("data-code-error", "");
    error.setAttribute("role", "alert");
    error.hidden = true;
    (input.closest("label") ?? input).after(error);
  }
  if (!error.id) error.id = `code-error-${Math.random().toString(36).slice(2, 8)}`;
  input.setAttribute("aria-describedby", error.id);
  return error;
}
