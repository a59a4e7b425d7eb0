// @ts-check
/**
 * The offline bin shell (<main data-offline-bin>), served by the worker for /b/<code> when
 * the server cannot be reached: fill in the bin from the pulled data on this device.
 * Counting works even for a bin the device has never heard of.
 */
import { notify, onChange } from "../offline/db.js";
import { getBin } from "../offline/pull.js";

export const selector = "[data-offline-bin]";

/** @param {Element} main */
export function attach(main) {
  const code = binCode();
  for (const el of main.querySelectorAll('[data-bin-field="code"]')) el.textContent = code;
  for (const input of main.querySelectorAll('input[name="bin_code"]')) {
    /** @type {HTMLInputElement} */ (input).value = code;
  }
  for (const list of main.querySelectorAll("[data-pending-for-bin]")) {
    list.setAttribute("data-pending-for-bin", code);
  }
  notify({ type: "outbox" }, { localOnly: true }); // pending lists re-read their bin code
  show(main, code);
  const stop = onChange((change) => {
    if (!main.isConnected) stop();
    else if (change.type === "pulled") show(main, code);
  });
}

/** The bin code from /b/<code> (or ?code= when the shell is opened directly). */
function binCode() {
  const match = location.pathname.match(/^\/b\/([^/]+)\/?$/);
  if (!match) return new URLSearchParams(location.search).get("code") ?? "";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1]; // malformed escapes: show it as typed
  }
}

/**
 * @param {Element} main
 * @param {string} code
 */
async function show(main, code) {
  const bin = await getBin(code);
  if (bin) {
    for (const el of main.querySelectorAll("[data-bin-field]")) {
      const field = el.getAttribute("data-bin-field") ?? "";
      if (field !== "code") el.textContent = format(field, bin[field]);
    }
  }
  const unknown = main.querySelector("[data-bin-unknown]");
  if (unknown instanceof HTMLElement) unknown.hidden = Boolean(bin);
  main.toggleAttribute("data-bin-disputed", Boolean(bin?.disputed));
  main.toggleAttribute("data-bin-retired", Boolean(bin?.retired));
}

/**
 * @param {string} field
 * @param {unknown} value
 */
function format(field, value) {
  if (value == null) return "";
  if (field === "location_since") {
    const when = new Date(/** @type {string | number} */ (value));
    if (!Number.isNaN(when.getTime())) return when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }
  return String(value);
}
