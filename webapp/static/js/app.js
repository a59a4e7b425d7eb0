// @ts-check
/** Wire up the page: the service worker, the behaviours and the sync loop. */
import * as sessionCache from "./behaviours/session-cache.js";
import * as syncStatus from "./behaviours/sync-status.js";
import * as syncPanel from "./behaviours/sync-panel.js";
import * as offlineBin from "./behaviours/offline-bin.js";
import * as offlineForm from "./behaviours/offline-form.js";
import * as appUpdate from "./behaviours/app-update.js";
import * as codeEntry from "./behaviours/code-entry.js";
import * as scanScreen from "./behaviours/scan-screen.js";
import * as wedgeScanner from "./behaviours/wedge-scanner.js";
import { startSync } from "./offline/sync.js";

/**
 * A behaviour binds to elements (`selector`, `attach`), or listens to the whole page (`start`), or both.
 * @typedef {{selector?: string, attach?(el: Element): void, start?(): void}} Behaviour
 */

/**
 * A second person's confirmation (badge + PIN): its code (camera, decoder, WebCrypto) loads
 * when someone first opens it, so no page pays for it while it loads.
 * @type {Behaviour}
 */
const signer = {
  selector: "[data-signer]",
  attach(el) {
    const root = /** @type {HTMLElement} */ (el);
    const opener = root.querySelector("[data-signer-open]");
    if (!opener) return;
    root.hidden = false; // without JavaScript there is nothing to confirm with
    opener.addEventListener(
      "click",
      async () => {
        const module = await import("./behaviours/signer.js");
        module.attach(root);
        /** @type {HTMLElement} */ (opener).click(); // the panel listens now: open it
      },
      { once: true },
    );
  },
};

/**
 * A behaviour of one kind of page, loaded only there: behaviours/<name(el)>.js.
 * @param {string} selector
 * @param {(el: Element) => string} name
 * @returns {Behaviour}
 */
const lazy = (selector, name) => ({
  selector,
  attach: (el) => void import(`./behaviours/${name(el)}.js`).then((m) => m.attach(el)),
});

/**
 * Each binds to the elements matching its selector, once per element. Order matters:
 * offline-bin fills in the bin code that offline-form's pending list reads.
 * @type {Record<string, Behaviour>}
 */
const behaviours = {
  "session-cache": sessionCache,
  "sync-status": syncStatus,
  "sync-panel": syncPanel,
  "offline-bin": offlineBin,
  "offline-form": offlineForm,
  signer,
  pad: lazy("[data-signature-pad]", () => "signature-pad"),
  slip: lazy("[data-slip-opener],[data-slip]", (el) => (el.matches("form") ? "slip-open" : "slip-page")),
  stocktake: lazy("[data-stocktake]", () => "stocktake"),
  inspection: lazy("[data-inspection]", () => "inspection"),
  "app-update": appUpdate,
  "code-entry": codeEntry,
  "scan-screen": scanScreen,
  "wedge-scanner": wedgeScanner,
};

/** Elements already attached, per behaviour. */
const attached = new Map(Object.keys(behaviours).map((name) => [name, new WeakSet()]));

/**
 * Attach every behaviour to matching elements in `root` not attached yet (htmx:load also
 * fires for the initial body, so this runs more than once over the same elements).
 * The data-<name>-ready mark is for people and tests; the WeakSet is the truth, because
 * htmx's history snapshots bring back copies of elements with the mark but no listeners.
 * @param {Element} root
 */
function init(root) {
  for (const [name, behaviour] of Object.entries(behaviours)) {
    if (!behaviour.selector || !behaviour.attach) continue;
    const done = /** @type {WeakSet<Element>} */ (attached.get(name));
    const found = [...root.querySelectorAll(behaviour.selector)];
    if (root.matches(behaviour.selector)) found.unshift(root);
    for (const el of found) {
      if (done.has(el)) continue;
      done.add(el);
      el.setAttribute(`data-${name}-ready`, "");
      behaviour.attach(el);
    }
  }
}

function main() {
  for (const behaviour of Object.values(behaviours)) behaviour.start?.();
  init(document.documentElement);
  document.addEventListener("htmx:load", (event) => {
    if (event.target instanceof Element) init(event.target);
  });
  registerWorker();
  startSync();
}

/** Seconds before asking again for a worker whose install failed (the server or the Wi-Fi dropped). */
const REINSTALL_AFTER = 15;

let watching = false; // the first registration watches for updates; retries need not

/**
 * Register the service worker. An install that fails (a shell file could not be fetched) leaves
 * this page without offline support, so it is tried again a little later and when the network
 * comes back, until a worker is active.
 */
function registerWorker() {
  if (!navigator.serviceWorker) return;
  let retry = 0;
  const again = () => {
    clearTimeout(retry);
    retry = window.setTimeout(registerWorker, REINSTALL_AFTER * 1000);
  };
  // Chromium leaves a page uncontrolled when the worker activates (and claims its clients) while
  // that page is still being navigated to, as after signing in: ask the active worker to claim it.
  navigator.serviceWorker.ready.then((registration) => {
    if (!navigator.serviceWorker.controller) registration.active?.postMessage({ type: "CLAIM" });
  });
  navigator.serviceWorker
    .register("/sw.js", { scope: "/" })
    .then((registration) => {
      if (!watching) appUpdate.watchForUpdates(registration);
      watching = true;
      const installing = registration.installing;
      installing?.addEventListener("statechange", () => {
        if (installing.state === "redundant" && !registration.active) {
          console.warn("shopfloor: the service worker did not install; trying again");
          again();
          window.addEventListener("online", registerWorker, { once: true });
        }
      });
    })
    .catch((error) => {
      console.warn("shopfloor: no service worker", error);
      again();
    });
}

// Module scripts run after parsing, but possibly before DOMContentLoaded.
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
else main();
