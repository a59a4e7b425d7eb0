// @ts-check
/**
 * New builds of the app itself. A new service worker (a new build) waits; once the outbox is
 * empty the page offers "update available", and only a person's tap switches to it and reloads:
 * never a reload under someone's hands, never a switch with records unsent.
 *
 * When the server says this build is too old (its min_build is above our release), every
 * [data-build-too-old] shows (the banner on every page, the line in the sync panel) until the
 * update; pushing goes on meanwhile. [data-update-now] buttons show once the outbox is empty.
 * When a sync answer names a build other than ours, the page asks the browser to look for the
 * new service worker at once instead of at the next navigation.
 */
import { t } from "../i18n.js";
import { onChange } from "../offline/db.js";
import { countUnsynced } from "../offline/outbox.js";
import { knownTooOld, pageBuild } from "../offline/build.js";
import { toast, dismiss } from "./sync-status.js";

export const selector = "[data-build-too-old], [data-update-now]";

/** Changes to the outbox, after which "is it empty?" is asked again. */
const OUTBOX_CHANGES = ["saved", "results", "outbox"];

/** @type {ServiceWorkerRegistration | null} */
let registration = null;
let accepted = false; // a person tapped "update": reload when the new worker takes over
let tooOld = false;
let outboxEmpty = false;
/** @type {Set<string>} server builds already looked for */
const lookedFor = new Set();

/** Show the current state on a newly inserted element (e.g. after an htmx swap). */
export function attach() {
  render();
}

/** Follow what the server says about builds and the outbox, in every tab. */
export function start() {
  refresh();
  onChange((change) => {
    if (change.type === "build") {
      if (typeof change.server === "string" && change.server !== pageBuild()) lookFor(change.server);
      refresh();
    } else if (OUTBOX_CHANGES.includes(change.type)) {
      refresh();
    }
  });
  document.addEventListener("click", (event) => {
    const button = /** @type {Element} */ (event.target).closest?.("[data-update-now]");
    if (button && !button.hasAttribute("aria-busy")) {
      button.setAttribute("aria-busy", "true");
      switchBuild().finally(() => button.removeAttribute("aria-busy"));
    }
  });
}

let round = 0;
async function refresh() {
  const mine = ++round;
  const [old, unsynced] = await Promise.all([knownTooOld(), countUnsynced()]);
  if (mine !== round) return; // a later refresh is on its way
  tooOld = old;
  outboxEmpty = unsynced === 0;
  render();
  offer();
  if (tooOld) lookFor("too old");
}

function render() {
  for (const el of document.querySelectorAll("[data-build-too-old]")) {
    if (el instanceof HTMLElement) el.hidden = !tooOld;
  }
  for (const el of document.querySelectorAll("[data-update-now]")) {
    if (el instanceof HTMLElement) el.hidden = !(tooOld && outboxEmpty);
  }
}

/**
 * Ask the browser to fetch /sw.js now, once per reason: a new worker installs in the background
 * and waits.
 * @param {string} reason the server's build, or "too old"
 */
function lookFor(reason) {
  if (!registration || lookedFor.has(reason)) return;
  lookedFor.add(reason);
  registration.update().catch(() => {}); // offline: the next navigation looks again
}

/** Offer the waiting worker (a new build) when the outbox is empty; withdraw the offer otherwise. */
async function offer() {
  const waiting = registration?.waiting;
  // No controller yet: this is the first install, nothing old to replace.
  if (!waiting || !navigator.serviceWorker.controller || accepted) return;
  if ((await countUnsynced()) > 0) {
    dismiss("update");
    return;
  }
  toast(t("update_available"), {
    key: "update",
    persistent: true,
    action: { label: t("update_now"), run: () => void switchBuild() },
  });
}

/**
 * A person tapped "update": switch to the waiting worker (looking for one first if there is
 * none yet) and reload once it has taken over. With records unsent it only asks again later.
 */
async function switchBuild() {
  if ((await countUnsynced()) > 0) {
    dismiss("update"); // saved meanwhile: offered again once the outbox is empty
    return refresh();
  }
  let waiting = registration?.waiting;
  if (!waiting && registration) {
    await registration.update().catch(() => {});
    waiting = await installed(registration);
  }
  if (!waiting) {
    toast(t("no_update_yet"));
    return;
  }
  accepted = true;
  dismiss("update");
  waiting.postMessage({ type: "SKIP_WAITING" });
}

/**
 * The worker that is installing, once installed (null if it fails), else the waiting one.
 * @param {ServiceWorkerRegistration} reg
 * @returns {Promise<ServiceWorker | null>}
 */
function installed(reg) {
  const worker = reg.installing;
  if (!worker) return Promise.resolve(reg.waiting);
  return new Promise((resolve) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed") resolve(reg.waiting);
      else if (worker.state === "redundant") resolve(null);
    });
  });
}

/**
 * Watch the page's service worker registration for a new build (called once it is registered).
 * @param {ServiceWorkerRegistration} reg
 */
export function watchForUpdates(reg) {
  registration = reg;
  offer();
  if (tooOld) lookFor("too old");
  reg.addEventListener("updatefound", () => {
    const worker = reg.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed") offer();
    });
  });
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (accepted) location.reload();
  });
}
