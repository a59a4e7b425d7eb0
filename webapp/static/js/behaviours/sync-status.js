// @ts-check
/**
 * The header's sync status, kept current in every tab: [data-connection-state],
 * [data-unsynced-count], [data-last-sync], the [data-sync-now] button and the [data-toast]
 * messages (the offer to switch to a new build is app-update's).
 */
import { t } from "../i18n.js";
import { getMeta, onChange } from "../offline/db.js";
import { countUnsynced } from "../offline/outbox.js";
import { connectionState, requestSync } from "../offline/sync.js";

export const selector = "[data-connection-state], [data-unsynced-count], [data-last-sync]";

const TOAST_MS = 4000;

/** Render a newly inserted header element (e.g. after an htmx swap). */
export function attach() {
  renderState(connectionState());
  renderCount();
  renderLastSync();
}

/** Listen for changes from the sync loop, the outbox and other tabs. */
export function start() {
  onChange((change) => {
    if (change.type === "state") renderState(change.state);
    else if (["saved", "results", "outbox"].includes(change.type)) renderCount();
    else if (change.type === "synced") renderLastSync();
    else if (change.type === "notice") {
      if (change.show) toast(t(change.key), { key: change.key, persistent: change.persistent });
      else dismiss(change.key);
    }
  });
  document.addEventListener("click", async (event) => {
    const button = /** @type {Element} */ (event.target).closest?.("[data-sync-now]");
    if (!button || button.hasAttribute("aria-busy")) return;
    button.setAttribute("aria-busy", "true");
    try {
      const outcome = await requestSync("manual");
      if (outcome === "ok") toast(t("sync_done"));
      else if (outcome === "offline") toast(t("sync_failed"));
      // auth and revoked already show their own persistent message
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
}

/** @param {string} state online | offline | syncing */
function renderState(state) {
  for (const el of document.querySelectorAll("[data-connection-state]")) {
    el.textContent = t(state);
    el.setAttribute("data-state", state);
  }
}

let countRound = 0;
async function renderCount() {
  const round = ++countRound;
  const count = await countUnsynced();
  if (round !== countRound) return; // a later count is on its way
  for (const el of document.querySelectorAll("[data-unsynced-count]")) {
    el.textContent = String(count);
    el.setAttribute("title", t("unsynced"));
  }
}

async function renderLastSync() {
  const at = await getMeta("last_sync_at");
  for (const el of document.querySelectorAll("[data-last-sync]")) {
    el.textContent = typeof at === "number" ? formatTime(at) : t("never");
    if (typeof at === "number") el.setAttribute("title", new Date(at).toLocaleString());
  }
}

/**
 * Time of day for today, date and time otherwise.
 * @param {number} at epoch ms
 */
function formatTime(at) {
  const when = new Date(at);
  const today = when.toDateString() === new Date().toDateString();
  return today
    ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

/** @typedef {{text: string, key?: string, action?: {label: string, run: () => void}}} Toast */

/** Messages that stay until withdrawn, by key; the newest is shown when nothing else is. */
const sticky = /** @type {Map<string, Toast>} */ (new Map());
let passing = 0; // timer of the short message on show, if any

/**
 * Show a message in [data-toast]: briefly, or until `dismiss(key)` when persistent.
 * @param {string} text
 * @param {{key?: string, persistent?: boolean, action?: Toast["action"]}} [options]
 */
export function toast(text, { key, persistent = false, action } = {}) {
  if (persistent && key) {
    if (sticky.get(key)?.text === text && !action) return; // repeated notice: leave it be
    sticky.delete(key); // re-inserting makes it the newest
    sticky.set(key, { text, key, action });
  }
  if (persistent && passing) return; // the short message finishes first, then this shows
  paint({ text, key, action });
  if (!persistent) {
    clearTimeout(passing);
    passing = window.setTimeout(() => {
      passing = 0;
      paint([...sticky.values()].at(-1));
    }, TOAST_MS);
  }
}

/**
 * Withdraw a persistent message.
 * @param {string} key
 */
export function dismiss(key) {
  if (sticky.delete(key) && !passing) paint([...sticky.values()].at(-1));
}

/** @param {Toast | undefined} message */
function paint(message) {
  for (const el of document.querySelectorAll("[data-toast]")) {
    if (!(el instanceof HTMLElement)) continue;
    if (!message) {
      el.hidden = true;
      el.replaceChildren();
      el.removeAttribute("data-toast-key");
      continue;
    }
    const text = document.createElement("span");
    text.textContent = message.text;
    el.replaceChildren(text);
    if (message.action) {
      const button = document.createElement("button");
      button.type = "button";
      button.setAttribute("data-toast-action", "");
      button.textContent = message.action.label;
      button.addEventListener("click", message.action.run, { once: true });
      el.append(" ", button);
    }
    el.setAttribute("data-toast-key", message.key ?? "");
    el.hidden = false;
  }
}
