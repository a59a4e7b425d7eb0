// @ts-check
/** The API calls of the sync: requests under a timeout, every ending as a SyncStop, the back-off. */
import { notice } from "./db.js";
import { noteServerBuilds } from "./build.js";

const TIMEOUT_MS = 20_000;
const CLOCK_TOLERANCE_MS = 2 * 60_000;
const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;
const BUSY_MS = 1_500;

/** @typedef {"online" | "offline" | "syncing"} ConnectionState */
/** @typedef {"ok" | "offline" | "busy" | "auth" | "revoked" | "waiting"} Outcome */

/**
 * Why a sync stopped. honour: retryIn is a Retry-After; unasked: the server was not asked;
 * taken: the server knows this device id as another device's.
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

const heard = {
  /** @type {boolean | undefined} */
  tooOld: undefined,
  clockOff: false,
};

export function listenForBuilds() {
  heard.tooOld = undefined;
}

export function saidTooOld() {
  return heard.tooOld;
}

/** @param {string} name */
function head(name) {
  return document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{body?: unknown, token?: string, session?: boolean}} options
 * @returns {Promise<any>}
 */
export async function call(method, path, { body, token, session = false }) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // The timeout covers reading the body too.
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
      heard.tooOld = await noteServerBuilds(await response.json().catch(() => ({})));
      throw new SyncStop("too_old");
    }
    if (!response.ok) throw new SyncStop("offline");
    let data;
    try {
      data = await response.json();
    } catch {
      throw new SyncStop("offline"); // not JSON (a captive portal), or our timeout
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
 * @param {string} method
 * @param {string} path
 * @param {{headers?: Record<string, string>, body?: BodyInit, token?: string, session?: boolean,
 *   timeout?: number, signal?: AbortSignal}} options `signal` replaces `timeout`
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
      throw new SyncStop("offline");
    }
    const status = response.status;
    if (status === 401) throw new SyncStop("auth");
    if (status === 429 || status === 503) {
      const wait = retryAfter(response.headers.get("Retry-After"));
      throw new SyncStop("offline", { retryIn: wait, honour: wait !== undefined });
    }
    // Registering (the cookie session): 409 is device_taken; 400/403, a stale CSRF token or session.
    if (session && status === 409) throw new SyncStop("revoked", { taken: true });
    if (session && status >= 400 && status < 500) throw new SyncStop("auth");
    if (status === 403) throw new SyncStop("revoked");
    if (status >= 500) throw new SyncStop("offline");
    // Redirected to our login page.
    if (response.redirected && new URL(response.url).origin === location.origin) {
      throw new SyncStop("auth");
    }
    return response;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * @param {string} token
 * @returns {import("./uploads.js").Send}
 */
export function sender(token) {
  return (method, path, { headers, body, timeout } = {}) => send(method, path, { headers, body, timeout, token });
}

/**
 * @param {unknown} serverNow
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
 * @param {string | null} value
 * @returns {number | undefined}
 */
function retryAfter(value) {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 1_000), 60 * 60_000) : undefined;
}

/**
 * ±30%, so devices that failed together do not retry together.
 * @param {number} ms
 */
function jitter(ms) {
  return Math.round(ms * (0.7 + Math.random() * 0.6));
}

export function afterBusy() {
  return jitter(BUSY_MS);
}

/** @param {number} failures */
export function backoff(failures) {
  return jitter(Math.min(BACKOFF_FIRST_MS * 2 ** (failures - 1), BACKOFF_MAX_MS));
}
