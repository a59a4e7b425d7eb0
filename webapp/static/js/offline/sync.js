// @ts-check
/** The sync loop. `navigator.onLine` proves nothing: we always try, and a failure is "offline". */
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

const loop = {
  /** @type {ConnectionState} */
  state: "syncing",
  failures: 0,
  retryTimer: 0,
  holdUntil: 0, // Retry-After: nothing automatic before this
  waitForPerson: false, // after 401/403: only a tap or a new page tries again
  again: false, // an event was saved during a sync (its push may have missed it)
  /** @type {Promise<Outcome> | null} */
  running: null,
  started: false,
};

export function connectionState() {
  return loop.state;
}

/**
 * Only automatic syncs respect the back-off and Retry-After.
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
    // Backing off (Chromium fires Background Sync whenever it believes it is online).
    return Promise.resolve("waiting");
  }
  loop.running ??= underLock(manual).finally(() => {
    loop.running = null;
  });
  return loop.running;
}

/**
 * Automatic syncs skip when another tab holds the lock; a person's tap waits its turn.
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
 * Flush again while an event saved during a flush was missed by its push.
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

async function savedMeanwhile() {
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

/** A build below min_build still pushes and uploads (to drain the outbox) but pulls nothing. */
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

/** @param {string} token */
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

async function anythingToSend() {
  return (await countUnsynced()) > 0 || (await uploadsDue()) > 0;
}

function registerBackgroundSync() {
  navigator.serviceWorker?.ready
    .then((registration) => /** @type {any} */ (registration).sync?.register("shopfloor-sync"))
    .catch(() => {});
}

export function startSync() {
  if (loop.started) return;
  loop.started = true;
  navigator.storage?.persist?.().catch(() => {});
  onChange((change, remote) => {
    if (change.type === "saved") {
      // A sync under way may have read the outbox before this event: it looks again.
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
