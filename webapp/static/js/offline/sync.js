// @ts-check
/**
 * The sync loop: register the device, push the outbox, pull reference data, upload photos.
 * It runs from the page, one tab at a time (a Web Lock), on save, at start-up, when the
 * page becomes visible, on `online`, on a tap of [data-sync-now] and on a timer while
 * anything is pending. `navigator.onLine` proves nothing: we always try, and a failure
 * is what "offline" means.
 */
import { getMeta, putMeta, setMeta, deleteMeta, deviceSecret, notify, onChange } from "./db.js";
import { pageUser, countUnsynced, nextBatch, envelope, applyPushResponse } from "./outbox.js";
import { pullAll } from "./pull.js";
import { uploadPending, uploadsDue } from "./uploads.js";
import { pageBuild, noteServerBuilds } from "./build.js";

const BATCH = 200;
const TIMEOUT_MS = 20_000;
const TIMER_MS = 15_000;
const CLOCK_TOLERANCE_MS = 2 * 60_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;

/** @typedef {"online" | "offline" | "syncing"} ConnectionState */
/**
 * How a sync ended: ok; offline (network, 5xx, captive portal, 429/503); busy (another
 * push in flight, or another tab holds the lock); auth (sign in again); revoked.
 * @typedef {"ok" | "offline" | "busy" | "auth" | "revoked" | "waiting"} Outcome
 */

/**
 * Why a sync stopped early, and when to try again.
 * - retryIn: ms until the next try (else the back-off decides)
 * - honour: retryIn is the server's Retry-After: no automatic try before then
 * - unasked: decided on the device, without hearing from the server
 * - taken: registration refused: the server knows this device id as another device's
 */
class SyncStop extends Error {
  /**
   * @param {Outcome | "too_large" | "too_old"} outcome
   * @param {{retryIn?: number, honour?: boolean, unasked?: boolean, taken?: boolean}} [details]
   */
  constructor(outcome, { retryIn, honour = false, unasked = false, taken = false } = {}) {
    super(outcome);
    this.outcome = outcome;
    this.retryIn = retryIn;
    this.honour = honour;
    this.unasked = unasked;
    this.taken = taken;
  }
}

/** @type {ConnectionState} */
let state = "syncing";
let failures = 0;
let retryTimer = 0;
let holdUntil = 0; // Retry-After: nothing automatic before this
let waitForPerson = false; // after 401/403: only a tap or a new page tries again
let clockOff = false;
let again = false; // an event was saved while a sync was under way
/** @type {boolean | undefined} */
let saidTooOld; // what this flush's last sync answer said about this build (undefined: nothing)
/** @type {Promise<Outcome> | null} */
let running = null;

/**
 * Content of a <meta name> the server put in the page.
 * @param {string} name
 */
function head(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
}

/** The connection state this tab last saw (its own sync, or another tab's). */
export function connectionState() {
  return state;
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
  if (manual && running) return running.then((outcome) => (outcome === "ok" ? outcome : requestSync()));
  if (manual) {
    waitForPerson = false;
    holdUntil = 0;
  } else if (waitForPerson || (reason !== "retry" && Date.now() < holdUntil)) {
    return Promise.resolve("waiting");
  } else if ((reason === "timer" || reason === "background") && retryTimer) {
    // Backing off: the scheduled retry will come. (Chromium fires Background Sync at
    // once whenever it believes it is online, captive portal or not.)
    return Promise.resolve("waiting");
  }
  running ??= (async () => {
    /** @type {Outcome} */
    let outcome;
    do {
      again = false;
      outcome = await underLock(manual);
    } while (again && outcome === "ok");
    return outcome;
  })().finally(() => {
    running = null;
  });
  return running;
}

/**
 * Run one flush while holding the tab-wide lock. Automatic syncs skip when another tab
 * is already syncing (it will see our events too); a person's tap waits its turn.
 * @param {boolean} wait
 * @returns {Promise<Outcome>}
 */
async function underLock(wait) {
  if (!navigator.locks) return flush();
  return navigator.locks.request("shopfloor-sync", wait ? {} : { ifAvailable: true }, (lock) =>
    lock ? flush() : "busy",
  );
}

/** @returns {Promise<Outcome>} */
async function flush() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  setState("syncing");
  try {
    await pushPullUpload();
    failures = 0;
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
      waitForPerson = true;
      // No token and nobody signed in: we never asked the server, so only guess.
      setState(stop.unasked && !navigator.onLine ? "offline" : "online");
      // Nobody to blame on a signed-out page with nothing pending (e.g. the login page).
      if (pageUser() || (await countUnsynced()) > 0) notice("sign_in_again", true);
      return "auth";
    }
    case "revoked":
      waitForPerson = true;
      setState("online");
      // Refused for good either way: the records stay here, to be exported for the office.
      notice(stop.taken ? "device_taken" : "device_revoked", true);
      return "revoked";
    case "busy":
      setState("syncing");
      retryLater(stop.retryIn ?? jitter(1_500));
      return "busy";
    default: {
      failures++;
      setState("offline");
      if (stop.honour && stop.retryIn) holdUntil = Date.now() + stop.retryIn;
      retryLater(stop.retryIn ?? jitter(Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS)));
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
  for (let attempt = 0; ; attempt++) {
    const token = await deviceToken(deviceId, attempt > 0);
    try {
      saidTooOld = undefined;
      const missing = await pushAll(token, deviceId);
      if (saidTooOld !== true) await pullUnlessRefused(token);
      const uploads = await uploadPending(
        (method, path, { headers, body, timeout } = {}) => send(method, path, { headers, body, timeout, token }),
        missing,
      );
      if (uploads.rejected) notice("photo_rejected", true, false);
      return;
    } catch (error) {
      // The cookie session of a signed-in page can always get a fresh token.
      if (error instanceof SyncStop && error.outcome === "auth" && attempt === 0 && pageUser()) {
        await deleteMeta("token");
        continue;
      }
      throw error;
    }
  }
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

/**
 * The device token to push with. A signed-in page (re)registers the device when there is
 * no token, it has expired, or it belongs to another user (a shift change); an offline
 * shell has no session, so it can only use the stored token.
 * @param {string} deviceId
 * @param {boolean} renew
 * @returns {Promise<string>}
 */
async function deviceToken(deviceId, renew) {
  const user = pageUser();
  const [token, tokenUserId, expiresAt] = await Promise.all([
    getMeta("token"),
    getMeta("token_user_id"),
    getMeta("token_expires_at"),
  ]);
  const expired = typeof expiresAt === "number" && expiresAt <= Date.now();
  if (user && (renew || !token || tokenUserId !== user.id || expired)) {
    // The secret (or the last token the server gave) proves this is the device that registered the id.
    const device = await call("POST", "/devices", {
      body: {
        device_id: deviceId,
        device_secret: await deviceSecret(),
        ...(typeof token === "string" && token ? { token } : {}),
        label: deviceLabel(deviceId),
      },
      session: true,
    });
    if (typeof device.token !== "string") throw new SyncStop("offline");
    const expires = typeof device.expires_at === "number" ? device.expires_at : Date.parse(device.expires_at);
    await putMeta({
      token: device.token,
      token_user_id: device.user?.id ?? user.id,
      token_expires_at: Number.isFinite(expires) ? expires : null,
    });
    return device.token;
  }
  if (!token) throw new SyncStop("auth", { unasked: true });
  return token;
}

/**
 * A name for this device in the office's device list.
 * @param {string} deviceId
 */
function deviceLabel(deviceId) {
  const platform = /** @type {any} */ (navigator).userAgentData?.platform || navigator.platform || "device";
  return `${platform} ${String(deviceId).slice(0, 8)}`;
}

/**
 * Push pending events in seq order, at most 200 at a time (fewer after a 413). Resolves with
 * the photos the server said it is missing, to upload those first.
 *
 * Pushes go one at a time (the server serialises a device's pushes anyway), but writing a
 * response into IndexedDB overlaps the next push: the next batch is read after the last seq
 * sent, and a response is applied only once the one before it has been. A round ends when
 * nothing is left after the last seq sent; another round picks up whatever stayed in the
 * outbox (events the server asked for again, or answered oddly) as long as rounds progress.
 * @param {string} token
 * @param {string} deviceId
 * @returns {Promise<Set<string>>}
 */
async function pushAll(token, deviceId) {
  let limit = BATCH;
  /** @type {Set<number>} */
  const resent = new Set();
  /** @type {Set<string>} */
  const missing = new Set();
  let after = 0;
  let progress = false;
  /** @type {Promise<{accepted: number, requeued: number}> | null} */
  let applying = null;
  const settle = async () => {
    if (!applying) return;
    const pending = applying;
    applying = null;
    const { accepted, requeued } = await pending;
    if (accepted || requeued) progress = true;
  };
  // Read before a response is applied: a read of the outbox waits for a write to it.
  let batch = await nextBatch(limit, after);
  let pending = await countUnsynced();
  for (;;) {
    if (!batch.length) {
      await settle();
      pending = await countUnsynced();
      // The server kept nothing new (odd, but possible): stop here, the timer tries again.
      if (!progress || pending === 0) return missing;
      after = 0;
      progress = false;
      batch = await nextBatch(limit, after);
      continue;
    }
    let response;
    try {
      response = await call("POST", "/sync/push", {
        token,
        body: {
          device_id: deviceId,
          build: head("shopfloor-build"),
          // sent_at lets the server measure this device's clock offset; pending feeds its device list.
          sent_at: Date.now(),
          pending,
          events: batch.map(envelope),
        },
      });
    } catch (error) {
      await settle();
      if (error instanceof SyncStop && error.outcome === "too_large" && batch.length > 1) {
        limit = Math.ceil(batch.length / 2);
        batch = batch.slice(0, limit);
        continue;
      }
      throw error;
    }
    await settle();
    after = batch[batch.length - 1].seq;
    [batch, pending] = await Promise.all([nextBatch(limit, after), countUnsynced()]);
    pending = Math.max(0, pending - (response.results?.length ?? 0));
    applying = applyPushResponse(response, resent);
    /** @type {import("./outbox.js").PushResult[]} */
    const results = Array.isArray(response.results) ? response.results : [];
    if (results.some((r) => r.status === "quarantined")) notice("quarantined", true, false);
    for (const result of results) for (const sha of result.missing_attachments ?? []) missing.add(sha);
  }
}

/**
 * One JSON call to the API. Resolves with the parsed body of a 2xx JSON answer; every other
 * ending is a SyncStop saying what to do about it.
 * @param {string} method
 * @param {string} path under the API base
 * @param {{body?: unknown, token?: string, session?: boolean}} options `session`: cookie + CSRF
 * @returns {Promise<any>}
 */
async function call(method, path, { body, token, session = false }) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // The timeout covers reading the body too: a stalled answer is no answer.
  const abort = new AbortController();
  const timeout = setTimeout(() => abort.abort(), TIMEOUT_MS);
  const sentAt = Date.now();
  try {
    const response = await send(method, path, {
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      token,
      session,
      signal: abort.signal,
    });
    const status = response.status;
    if (status === 409) throw new SyncStop("busy", { retryIn: jitter(1_500) });
    if (status === 413) throw new SyncStop("too_large");
    if (status === 426) {
      // Below the server's min_build: keep what the refusal says, for the page to show.
      saidTooOld = await noteServerBuilds(await response.json().catch(() => ({})));
      throw new SyncStop("too_old");
    }
    if (!response.ok) throw new SyncStop("offline");
    let data;
    try {
      data = await response.json();
    } catch {
      throw new SyncStop("offline"); // a 200 that is not JSON (a captive portal), or our timeout
    }
    if (!data || typeof data !== "object") throw new SyncStop("offline");
    checkClock(data.server_now, sentAt, Date.now());
    saidTooOld = (await noteServerBuilds(data)) ?? saidTooOld;
    return data;
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * One request to the API. Throws a SyncStop for what ends every kind of call (no network
 * or our timeout, 401, 403, 429/503, 5xx, a redirect to the login page); resolves with the
 * response otherwise, for the caller to read its status.
 * @param {string} method
 * @param {string} path under the API base
 * @param {{headers?: Record<string, string>, body?: BodyInit, token?: string, session?: boolean,
 *   timeout?: number, signal?: AbortSignal}} options `signal`: the caller's own timeout instead of `timeout`
 * @returns {Promise<Response>}
 */
async function send(method, path, { headers = {}, body, token, session = false, timeout = TIMEOUT_MS, signal }) {
  const all = { ...headers };
  if (token) all.Authorization = `Bearer ${token}`;
  if (session) all["X-CSRFToken"] = head("csrf-token");
  const abort = new AbortController();
  const timer = signal ? 0 : setTimeout(() => abort.abort(), timeout);
  try {
    let response;
    try {
      response = await fetch(`${head("shopfloor-api") || "/api/v1"}${path}`, {
        method,
        headers: all,
        body,
        credentials: "same-origin",
        cache: "no-store",
        signal: signal ?? abort.signal,
      });
    } catch {
      throw new SyncStop("offline"); // network error or our timeout
    }
    const status = response.status;
    if (status === 401) throw new SyncStop("auth");
    if (status === 429 || status === 503) {
      const wait = retryAfter(response.headers.get("Retry-After"));
      throw new SyncStop("offline", { retryIn: wait, honour: wait !== undefined });
    }
    // Registering: 409 means this id is another device's (the server wants its secret).
    if (session && status === 409) throw new SyncStop("revoked", { taken: true });
    // Registering with the cookie session: 400/403 mean a stale CSRF token or session.
    if (session && status >= 400 && status < 500) throw new SyncStop("auth");
    if (status === 403) throw new SyncStop("revoked");
    if (status >= 500) throw new SyncStop("offline");
    // Redirected to one of our pages: the login page, so the session is gone.
    if (response.redirected && new URL(response.url).origin === location.origin) {
      throw new SyncStop("auth");
    }
    return response;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Warn (persistently) while the device clock is more than 2 minutes off the server's.
 * @param {unknown} serverNow epoch ms
 * @param {number} sentAt
 * @param {number} receivedAt
 */
function checkClock(serverNow, sentAt, receivedAt) {
  if (typeof serverNow !== "number") return;
  const offset = serverNow - (sentAt + receivedAt) / 2;
  // Half the round trip is how little we know about when the server read its clock.
  const off = Math.abs(offset) > CLOCK_TOLERANCE_MS + (receivedAt - sentAt) / 2;
  if (off !== clockOff) notice("clock_off", off);
  clockOff = off;
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date.
 * @param {string | null} value
 * @returns {number | undefined}
 */
function retryAfter(value) {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 1_000), 60 * 60_000) : undefined;
}

/**
 * `ms` give or take 30%, so devices that failed together do not all retry together.
 * @param {number} ms
 */
function jitter(ms) {
  return Math.round(ms * (0.7 + Math.random() * 0.6));
}

/** @param {number} ms */
function retryLater(ms) {
  clearTimeout(retryTimer);
  retryTimer = window.setTimeout(() => {
    retryTimer = 0;
    requestSync("retry");
  }, ms);
}

/** @param {ConnectionState} next */
function setState(next) {
  state = next;
  notify({ type: "state", state }); // every tab shows the syncing tab's view
}

/**
 * Show or withdraw a message (a key of the i18n strings) in every tab.
 * @param {string} key
 * @param {boolean} show
 * @param {boolean} [persistent] stays until withdrawn
 */
function notice(key, show, persistent = true) {
  notify({ type: "notice", key, show, persistent });
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

let started = false;

/** Start the loop in this tab: listeners, the timer and a first sync. */
export function startSync() {
  if (started) return;
  started = true;
  navigator.storage?.persist?.().catch(() => {}); // ask once; the answer changes nothing here
  onChange((change, remote) => {
    if (change.type === "saved") {
      // A sync already under way may have read the outbox before this event: go round again.
      if (running) again = true;
      else requestSync("save");
    } else if (change.type === "state" && remote) {
      state = change.state;
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
