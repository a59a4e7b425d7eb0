// @ts-check
/** Translated UI strings, rendered by the server: every page's (#shopfloor-i18n), then a page's own (data-strings). */

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
    strings = {};
    for (const block of document.querySelectorAll("#shopfloor-i18n, script[data-strings]")) {
      try {
        Object.assign(strings, JSON.parse(block.textContent || "{}"));
      } catch {
        // unreadable: its keys show as themselves
      }
    }
  }
  const value = strings?.[key];
  const text = typeof value === "string" && value ? value : key;
  if (!vars) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/**
 * The translated name of an event type ("bin.counted" → "Count"): the server renders one
 * "event:<type>" string per event type its areas declare (webapp/areas.py), the same name its
 * pages show; a type it does not know shows as itself.
 * @param {string} type
 */
export function typeLabel(type) {
  const key = `event:${type}`;
  const found = t(key);
  return found === key ? type : found;
}

/**
 * The translated name of a flag the server raised ("count_discrepancy" → "Count differs …").
 * @param {string} code
 */
export function flagLabel(code) {
  const key = `flag:${code}`;
  const found = t(key);
  return found === key ? code : found;
}

/** The page's language (the person's choice, rendered by the server), for number formats. */
export function pageLanguage() {
  return document.documentElement.lang || undefined;
}
