// @ts-check
/** Translated UI strings, rendered by the server into #shopfloor-i18n in the user's language. */

/** @type {Record<string, string> | null} */
let strings = null;

/**
 * Return the translation of `key`, or the key itself when the page has none
 * (so a missing string shows up as a readable key instead of a blank).
 * @param {string} key
 * @returns {string}
 */
export function t(key) {
  if (strings === null) {
    try {
      strings = JSON.parse(document.getElementById("shopfloor-i18n")?.textContent || "{}");
    } catch {
      strings = {};
    }
  }
  const value = strings?.[key];
  return typeof value === "string" && value ? value : key;
}
