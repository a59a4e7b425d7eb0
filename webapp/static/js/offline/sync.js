// @ts-check
/**
 * The sync loop: register the device, push the outbox, pull reference data, upload photos.
 * It runs from the page, one tab at a time (a Web Lock), on save, at start-up, when the
 * page becomes visible, on `online`, on a tap of [data-sync-now] and on a timer while
 * anything is pending. `navigator.onLine` proves nothing: we always try, and a failure
 * is what "offline" means.
 *
 * This module decides when to sync and what the outcome means; transport.js talks to the
 * API, token.js keeps the device token, push.js pushes the outbox, pull.js and uploads.js
 * do the rest.
 */
import { getMeta, setMeta, notify, notice, onChange } from "./db.js";
import { pageUser, countUnsynced } from "./outbox.js";
import { pullAll } from "./pull.js";
import { uploadPending, uploadsDue } from "./uploads.js";
import { pageBuild } from "./build.js";
import { SyncStop, call, sender, listenForBuilds, saidTooOld, afterBusy, backoff } from "./transport.js";
import { withDeviceToken } from "./token.js";
import { pushAll, savedSincePush } from "./push.js";

const TIMER_MS = 15_000;

/** @typedef {import("./transport.js").ConnectionState} ConnectionState */
/** @typedef {import("./transport.js").Outcome} Outcome */

/** The loop in this tab. */
const loop = {
  /**
   * The connection state this tab last saw (its own sync, or another tab's).
   * @type {ConnectionState}
   */
  state: "syncing",
  /** Failed syncs in a row, for the back-off. */
  failures: 0,
  /** The scheduled retry (a window timer id), 0 when none. */
  retryTimer: 0,
  /** Retry-After: nothing automatic before this (epoch ms). */
  holdUntil: 0,
  /** After 401/403: only a tap or a new page tries again. */
  waitForPerson: false,
  /** An event was saved while a sync was under way (its push may have missed it). */
  again: false,
  /** @type {Promise<Outcome> | null} the sync under way */
  running: null,
  /** Listeners and the timer are in place. */
  started: false,
};

/** The connection state this tab last saw (its own sync, or another tab's). */
export function connectionState() {
  return loop.state;
}

/**
 * Ask for a sync. Concurrent requests share the run under way; automatic ones respect the
 * back-off and Retry-After, a "manual" one (a person tapped) does not.
 * @param {string} [reason] save | start | visible | online | timer | retry | background | manual
 * @returns {Promise<Outcome>}
 */
export function requestSync(reason = "manual") {
  const manual = reason === "manual";
  // A tap during an automatic run waits for it, then runs again if that one did not succeed.
  if (manual && loop.running) return loop.running.then((outcome) => (outcome === "ok" ? outcome : requestSync()));
  if (manual) {
    loop.waitForPerson = false;
    loop.holdUntil = 0;
  } else if (loop.waitForPerson || (reason !== "retry" && Date.now() < loop.holdUntil)) {
    return Promise.resolve("waiting");
  } else if ((reason === "timer" || reason === "background") && loop.retryTimer) {
    // Backing off: the scheduled retry will come. (Chromium fires Background Sync at
    // once whenever it believes it is online, captive portal or not.)
    return Promise.resolve("waiting");
  }
  loop.running ??= underLock(manual).finally(() => {
    loop.running = null;
  });
  return loop.running;
}

/**
 * Sync while holding the tab-wide lock. Automatic syncs skip when another tab is already
 * syncing (it will see our events too); a person's tap waits its turn.
 * @param {boolean} wait
 * @returns {Promise<Outcome>}
 */
async function underLock(wait) {
  if (!navigator.locks) return flushWhileSaved();
  return navigator.locks.request("shopfloor-sync", wait ? {} : { ifAvailable: true }, (lock) =>
    lock ? flushWhileSaved() : "busy",
  );
}

/**
 * Flush, and flush again while events were saved too late for the push before: one the push
 * sent needs no second round.
 * @returns {Promise<Outcome>}
 */
async function flushWhileSaved() {
  /** @type {Outcome} */
  let outcome;
  do {
    loop.again = false;
    outcome = await flush();
  } while (outcome === "ok" && (await savedMeanwhile()));
  return outcome;
}

/** Whether an event saved during the last flush is still in the outbox, unseen by its push. */
async function savedMeanwhile() {
  // A save heard while this looks is looked for once more.
  while (loop.again) {
    loop.again = false;
    if (await savedSincePush()) return true;
  }
  return false;
}

/** @returns {Promise<Outcome>} */
async function flush() {
  clearTimeout(loop.retryTimer);
  loop.retryTimer = 0;
  setState("syncing");
  try {
    await pushPullUpload();
    loop.failures = 0;
    const at = Date.now();
    await setMeta("last_sync_at", at);
    notify({ type: "synced", at });
    notice("sign_in_again", false);
    notice("device_revoked", false);
    setState("online");
    return "ok";
  } catch (error) {
    return stopped(error);
  }
}

/**
 * Decide what a failed sync means for the person and when to try again.
 * @param {unknown} error
 * @returns {Promise<Outcome>}
 */
async function stopped(error) {
  if (!(error instanceof SyncStop)) {
    console.warn("shopfloor sync failed", error);
    error = new SyncStop("offline");
  }
  const stop = /** @type {SyncStop} */ (error);
  switch (stop.outcome) {
    case "auth": {
      loop.waitForPerson = true;
      // No token and nobody signed in: we never asked the server, so only guess.
      setState(stop.unasked && !navigator.onLine ? "offline" : "online");
      // Nobody to blame on a signed-out page with nothing pending (e.g. the login page).
      if (pageUser() || (await countUnsynced()) > 0) notice("sign_in_again", true);
      return "auth";
    }
    case "revoked":
      loop.waitForPerson = true;
      setState("online");
      // Refused for good either way: the records stay here, to be exported for the office.
      notice(stop.taken ? "device_taken" : "device_revoked", true);
      return "revoked";
    case "busy":
      setState("syncing");
      retryLater(stop.retryIn ?? afterBusy());
      return "busy";
    default: {
      loop.failures++;
      setState("offline");
      if (stop.honour && stop.retryIn) loop.holdUntil = Date.now() + stop.retryIn;
      retryLater(stop.retryIn ?? backoff(loop.failures));
      if (await anythingToSend()) registerBackgroundSync();
      return "offline";
    }
  }
}

/**
 * Push every pending event, pull, then upload photos (files after the events that name
 * them); renew an expired device token once. A build the server calls too old (below its
 * min_build) still pushes and uploads, to drain what it holds, but pulls nothing.
 */
async function pushPullUpload() {
  const deviceId = await getMeta("device_id");
  await withDeviceToken(deviceId, async (token) => {
    listenForBuilds();
    const missing = await pushAll(token, deviceId);
    if (saidTooOld() !== true) await pullUnlessRefused(token);
    const uploads = await uploadPending(sender(token), missing);
    if (uploads.rejected) notice("photo_rejected", true, false);
  });
}

/**
 * Pull reference data. A 426 (this build is below the server's min_build) ends the pull
 * quietly: the page shows the warning, and pushing and uploading go on.
 * @param {string} token
 */
async function pullUnlessRefused(token) {
  try {
    await pullAll((cursor) => {
      const query = new URLSearchParams({ ...(cursor ? { cursor } : {}), build: pageBuild() });
      return call("GET", `/sync/pull?${query}`, { token });
    });
  } catch (error) {
    if (!(error instanceof SyncStop && error.outcome === "too_old")) throw error;
  }
}

/** @param {number} ms */
function retryLater(ms) {
  clearTimeout(loop.retryTimer);
  loop.retryTimer = window.setTimeout(() => {
    loop.retryTimer = 0;
    requestSync("retry");
  }, ms);
}

/** @param {ConnectionState} next */
function setState(next) {
  loop.state = next;
  notify({ type: "state", state: next }); // every tab shows the syncing tab's view
}

/** Whether events or photos wait to be sent (the timer and Background Sync only run then). */
async function anythingToSend() {
  return (await countUnsynced()) > 0 || (await uploadsDue()) > 0;
}

/** Background Sync (Chromium) wakes the worker when the network returns; it asks a page to sync. */
function registerBackgroundSync() {
  navigator.serviceWorker?.ready
    .then((registration) => /** @type {any} */ (registration).sync?.register("shopfloor-sync"))
    .catch(() => {});
}

/**
 * Start the loop in this tab: listeners, the timer and a first sync. A save (here or in
 * another tab) is heard as the outbox's "saved" notice: that notice is what syncs it.
 */
export function startSync() {
  if (loop.started) return;
  loop.started = true;
  navigator.storage?.persist?.().catch(() => {}); // ask once; the answer changes nothing here
  onChange((change, remote) => {
    if (change.type === "saved") {
      // A sync already under way may have read the outbox before this event: it looks again at its end.
      if (loop.running) loop.again = true;
      else requestSync("save");
    } else if (change.type === "state" && remote) {
      loop.state = change.state;
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") requestSync("visible");
  });
  window.addEventListener("online", () => requestSync("online"));
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "SYNC") requestSync("background");
  });
  window.setInterval(async () => {
    if (await anythingToSend()) requestSync("timer");
  }, TIMER_MS);
  requestSync("start");
}
