// @ts-check
/**
 * How the sync loop talks to the API: one request with the device token or the cookie session,
 * under a timeout; what every way a request can end means (a SyncStop: offline, busy, auth,
 * revoked, too large, too old), Retry-After included; the back-off between tries; and what the
 * answers say on the side (the server's clock, the builds it accepts).
 */
import { notice } from "./db.js";
import { noteServerBuilds } from "./build.js";

const TIMEOUT_MS = 20_000;
const CLOCK_TOLERANCE_MS = 2 * 60_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;
const BUSY_MS = 1_500;

/** @typedef {"online" | "offline" | "syncing"} ConnectionState */
/**
 * How a sync ended: ok; offline (network, 5xx, captive portal, 429/503); busy (another
 * push in flight, or another tab holds the lock); auth (sign in again); revoked.
 * @typedef {"ok" | "offline" | "busy" | "auth" | "revoked" | "waiting"} Outcome
 */
/**
 * One request to the API under the device token, for the uploads (see uploads.js).
 * @typedef {import("./uploads.js").Send} Send
 */

/**
 * Why a sync stopped early, and when to try again.
 * - retryIn: ms until the next try (else the back-off decides)
 * - honour: retryIn is the server's Retry-After: no automatic try before then
 * - unasked: decided on the device, without hearing from the server
 * - taken: registration refused: the server knows this device id as another device's
 */
export class SyncStop extends Error {
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

/** What the answers said on the side, across calls. */
const heard = {
  /**
   * Whether this build is too old, by the last answer since `listenForBuilds` that said
   * (undefined: none said anything about builds).
   * @type {boolean | undefined}
   */
  tooOld: undefined,
  /** Whether the device clock is off the server's (the warning is showing). */
  clockOff: false,
};

/** Forget what earlier answers said about this build: a new sync listens afresh. */
export function listenForBuilds() {
  heard.tooOld = undefined;
}

/** What the answers since `listenForBuilds` said about this build (undefined: nothing). */
export function saidTooOld() {
  return heard.tooOld;
}

/**
 * Content of a <meta name> the server put in the page.
 * @param {string} name
 */
function head(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
}

/**
 * One JSON call to the API. Resolves with the parsed body of a 2xx JSON answer; every other
 * ending is a SyncStop saying what to do about it.
 * @param {string} method
 * @param {string} path under the API base
 * @param {{body?: unknown, token?: string, session?: boolean}} options `session`: cookie + CSRF
 * @returns {Promise<any>}
 */
export async function call(method, path, { body, token, session = false }) {
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
    if (status === 409) throw new SyncStop("busy", { retryIn: afterBusy() });
    if (status === 413) throw new SyncStop("too_large");
    if (status === 426) {
      // Below the server's min_build: keep what the refusal says, for the page to show.
      heard.tooOld = await noteServerBuilds(await response.json().catch(() => ({})));
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
    heard.tooOld = (await noteServerBuilds(data)) ?? heard.tooOld;
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
export async function send(method, path, { headers = {}, body, token, session = false, timeout = TIMEOUT_MS, signal }) {
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
 * The uploads' way to the API: `send` with the device token.
 * @param {string} token
 * @returns {Send}
 */
export function sender(token) {
  return (method, path, { headers, body, timeout } = {}) => send(method, path, { headers, body, timeout, token });
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
  if (off !== heard.clockOff) notice("clock_off", off);
  heard.clockOff = off;
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

/** How long to wait when another push (or another tab's sync) was under way. */
export function afterBusy() {
  return jitter(BUSY_MS);
}

/**
 * How long to wait after the `failures`-th failure in a row: doubling from 1 s up to 5 minutes.
 * @param {number} failures 1 or more
 */
export function backoff(failures) {
  return jitter(Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS));
}
