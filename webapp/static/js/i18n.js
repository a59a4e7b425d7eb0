// @ts-check
/** Translated UI strings, rendered by the server into #shopfloor-i18n in the user's language. */

/** @type {Record<string, string> | null} */
let strings = null;

/**
 * Return the translation of `key` with its `{name}` placeholders filled from `vars`, or the
 * key itself when the page has none (so a missing string shows up as a readable key
 * instead of a blank).
 * @param {string} key
 * @param {Record<string, string | number>} [vars]
 * @returns {string}
 */
export function t(key, vars) {
  if (strings === null) {
    try {
      strings = JSON.parse(document.getElementById("shopfloor-i18n")?.textContent || "{}");
    } catch {
      strings = {};
    }
  }
  const value = strings?.[key];
  const text = typeof value === "string" && value ? value : key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** i18n keys naming event types; any other type is looked up by its own name. */
const TYPE_LABELS = /** @type {Record<string, string>} */ ({ "bin.counted": "count", "bin.moved": "move" });

/**
 * The translated name of an event type ("bin.counted" → "Count").
 * @param {string} type
 */
export function typeLabel(type) {
  return t(TYPE_LABELS[type] ?? type);
}

/** The page's language (the person's choice, rendered by the server), for number formats. */
export function pageLanguage() {
  return document.documentElement.lang || undefined;
}
