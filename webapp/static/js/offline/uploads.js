// @ts-check
/**
 * Photo uploads, after the events that name them (the sync loop calls this after a push).
 * Resumable: ask the server how much it holds (HEAD), then PATCH the rest in 512 KiB
 * chunks; a reload or a lost connection continues from the server's offset. The bytes stay
 * on the device until the server says the file is complete; then only a small stub is
 * kept, for 14 days. A file the server refuses (422/415) is kept and shown, never deleted.
 * "Not now" answers keep the bytes and wait as long as the server's Retry-After says: 409
 * upload_in_progress (another device is sending the same file) and 413 upload_quota put
 * off that file, 413 daily_quota (this device sent its day's bytes) every upload.
 */
import { openShopfloorDB, inTransaction, notify } from "./db.js";
import { unconfirmedKeys } from "./outbox.js";

const CHUNK = 512 * 1024;
const MIN_CHUNK = 64 * 1024;
const PATCH_TIMEOUT_MS = 60_000; // half a MB on a weak floor Wi-Fi takes a while
const MAX_CONFLICTS = 5;
const KEEP_STUB_MS = 14 * 24 * 3600 * 1000;
const LATER_FIRST_MS = 30_000;
const LATER_MAX_MS = 30 * 60_000;
const RETRY_AFTER_MAX_MS = 24 * 3600_000;

/** @typedef {import("./outbox.js").StoredBlob} StoredBlob */
/**
 * One request to the blob API with the device token. Network failures, 401, 403, 429, 5xx
 * and the like are thrown by the sync loop (which backs off); every other answer is returned.
 * @typedef {(method: string, path: string, init?: {headers?: Record<string, string>, body?: ArrayBuffer, timeout?: number}) => Promise<Response>} Send
 */
/** @typedef {{confirmed: number, rejected: number, waiting: number}} UploadSummary */

/**
 * Blobs that got an answer we did not expect (a 404 on PATCH, say), and when to try them
 * again: kept in memory, so a reload tries at once.
 * @type {Map<string, {failures: number, at: number}>}
 */
const later = new Map();
/** No upload before this (epoch ms): the server's daily quota for this device is spent. */
let pausedUntil = 0;

/**
 * Upload every blob the server has not confirmed, those a push just listed as missing first.
 * @param {Send} send
 * @param {Iterable<string>} [first] SHA-256s to upload before the others
 * @returns {Promise<UploadSummary>}
 */
export async function uploadPending(send, first = []) {
  await forgetOldStubs();
  const db = await openShopfloorDB();
  const pending = /** @type {string[]} */ (await db.getAllKeysFromIndex("blobs", "state", "pending"));
  const urgent = new Set(first);
  pending.sort((a, b) => Number(urgent.has(b)) - Number(urgent.has(a)));
  /** @type {UploadSummary} */
  const summary = { confirmed: 0, rejected: 0, waiting: 0 };
  for (const sha of pending) {
    if (pausedUntil > Date.now() || (later.get(sha)?.at ?? 0) > Date.now()) {
      summary.waiting++;
      continue;
    }
    const outcome = await uploadOne(send, sha);
    if (outcome === "confirmed") summary.confirmed++;
    else if (outcome === "rejected") summary.rejected++;
    else if (outcome === "later") summary.waiting++;
  }
  return summary;
}

/**
 * How many blobs are waiting for an upload that may be tried now (not refused, not put off).
 * @returns {Promise<number>}
 */
export async function uploadsDue() {
  const db = await openShopfloorDB();
  const pending = /** @type {string[]} */ (await db.getAllKeysFromIndex("blobs", "state", "pending"));
  const now = Date.now();
  if (pausedUntil > now) return 0;
  return pending.filter((sha) => (later.get(sha)?.at ?? 0) <= now).length;
}

/**
 * How many photos the server has not confirmed (waiting to upload or refused).
 * @returns {Promise<number>}
 */
export async function countUnconfirmedBlobs() {
  const db = await openShopfloorDB();
  const [pending, rejected] = await Promise.all([
    db.countFromIndex("blobs", "state", "pending"),
    db.countFromIndex("blobs", "state", "rejected"),
  ]);
  return pending + rejected;
}

/**
 * Which of these photos the server has not confirmed yet.
 * @param {string[]} shas
 * @returns {Promise<string[]>}
 */
export async function unconfirmedOf(shas) {
  if (!shas.length) return [];
  const tx = (await openShopfloorDB()).transaction("blobs");
  const open = new Set(await unconfirmedKeys(tx.store));
  return shas.filter((sha) => open.has(sha));
}

/**
 * @param {Send} send
 * @param {string} sha
 * @returns {Promise<"confirmed" | "rejected" | "later" | "gone">}
 */
async function uploadOne(send, sha) {
  /** @type {StoredBlob | undefined} */
  const blob = await (await openShopfloorDB()).get("blobs", sha);
  if (!blob || blob.state !== "pending" || !blob.data) return "gone";
  const data = blob.data;
  const size = data.byteLength;
  const path = `/blobs/${sha}`;

  const head = await send("HEAD", path);
  let offset = 0;
  if (head.ok) {
    const held = progress(head, size);
    if (!held) return putOff(sha, `HEAD ${head.status} without Upload-Offset`);
    if (held.complete) return confirm(sha);
    offset = held.offset;
  } else if (head.status !== 404) {
    return putOff(sha, `HEAD ${head.status}`);
  }
  if (offset !== blob.uploaded) await saveProgress(sha, offset);

  let chunk = CHUNK;
  let conflicts = 0;
  for (;;) {
    if (offset > size) return putOff(sha, `the server holds ${offset} of ${size} bytes`);
    const end = Math.min(offset + chunk, size);
    const response = await send("PATCH", path, {
      headers: {
        "Upload-Offset": String(offset),
        "Upload-Length": String(size),
        "Content-Type": "application/offset+octet-stream",
      },
      body: data.slice(offset, end),
      timeout: PATCH_TIMEOUT_MS,
    });
    const status = response.status;
    if (status === 200 || status === 201 || status === 204) {
      const held = progress(response, size) ?? { offset: end, complete: end >= size };
      if (held.complete) return confirm(sha);
      if (held.offset <= offset && ++conflicts > MAX_CONFLICTS) return putOff(sha, "no progress");
      offset = held.offset;
      await saveProgress(sha, offset);
    } else if (status === 409) {
      // Someone (this device before a reload, say) got further or less far: go on from there.
      const body = headerInt(response, "Upload-Offset") === undefined ? await jsonBody(response) : {};
      if (body?.error === "upload_in_progress") {
        // Another device is sending this very file: it is complete once either finishes.
        return putOff(sha, "another device is uploading it", retryAfterMs(response));
      }
      const at = headerInt(response, "Upload-Offset") ?? bodyOffset(body);
      if (at === undefined || ++conflicts > MAX_CONFLICTS) return putOff(sha, "409 without a usable offset");
      offset = at;
    } else if (status === 413) {
      const body = await jsonBody(response);
      if (body?.error === "daily_quota") {
        pausedUntil = Date.now() + (retryAfterMs(response) ?? LATER_MAX_MS);
        return putOff(sha, "this device's upload quota for today is spent", retryAfterMs(response));
      }
      if (body?.error === "upload_quota") {
        return putOff(sha, "this device holds too many unfinished uploads", retryAfterMs(response));
      }
      if (chunk <= MIN_CHUNK) return putOff(sha, "PATCH 413");
      chunk = Math.max(MIN_CHUNK, chunk / 2);
    } else if (status === 415 || status === 422) {
      return reject(sha, await reason(response));
    } else {
      return putOff(sha, `PATCH ${status}`);
    }
  }
}

/**
 * What the server says it holds: Upload-Offset, and complete once Upload-Complete is ?1 or
 * (without that header) the offset reached Upload-Length (our size when it is not given).
 * @param {Response} response
 * @param {number} size
 * @returns {{offset: number, complete: boolean} | undefined}
 */
function progress(response, size) {
  const offset = headerInt(response, "Upload-Offset");
  if (offset === undefined) return undefined;
  const length = headerInt(response, "Upload-Length") ?? size;
  const flag = response.headers.get("Upload-Complete");
  const complete = flag ? /^\s*\?1\s*$/.test(flag) : offset >= length;
  return { offset, complete };
}

/**
 * @param {Response} response
 * @param {string} name
 * @returns {number | undefined}
 */
function headerInt(response, name) {
  const value = response.headers.get(name);
  return value !== null && /^\s*\d+\s*$/.test(value) ? Number(value) : undefined;
}

/**
 * The JSON body of an answer, or undefined if it has none.
 * @param {Response} response
 * @returns {Promise<any>}
 */
async function jsonBody(response) {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

/**
 * The offset in a JSON 409 body ({"offset": n} or {"upload_offset": n}), if any.
 * @param {any} body
 * @returns {number | undefined}
 */
function bodyOffset(body) {
  const value = body?.upload_offset ?? body?.offset;
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

/**
 * Retry-After as milliseconds (delta-seconds or an HTTP date), at most a day; undefined without one.
 * @param {Response} response
 * @returns {number | undefined}
 */
function retryAfterMs(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return undefined;
  const ms = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 1_000), RETRY_AFTER_MAX_MS) : undefined;
}

/**
 * The server's reason for refusing a file, for the office and the log.
 * @param {Response} response
 */
async function reason(response) {
  try {
    const body = await response.json();
    return String(body?.error ?? body?.message ?? response.status);
  } catch {
    return String(response.status);
  }
}

/**
 * The server holds the whole file: forget its bytes, keep a stub for 14 days.
 * @param {string} sha
 * @returns {Promise<"confirmed">}
 */
async function confirm(sha) {
  later.delete(sha);
  await update(sha, (blob) => ({
    sha256: blob.sha256,
    mime: blob.mime,
    size: blob.size,
    uploaded: blob.size,
    confirmed: true,
    state: "confirmed",
    created_at: blob.created_at,
    confirmed_at: Date.now(),
  }));
  return "confirmed";
}

/**
 * The server refuses the file: keep it (bytes and all) and show it.
 * @param {string} sha
 * @param {string} why
 * @returns {Promise<"rejected">}
 */
async function reject(sha, why) {
  later.delete(sha);
  await update(sha, (blob) => ({ ...blob, state: "rejected", rejected_at: Date.now(), reason: why }));
  return "rejected";
}

/**
 * An answer we did not expect, or "not now": try this blob again later, longer each time, and
 * not before the server's Retry-After.
 * @param {string} sha
 * @param {string} why
 * @param {number} [atLeast] ms (the server's Retry-After)
 * @returns {"later"}
 */
function putOff(sha, why, atLeast = 0) {
  const failures = (later.get(sha)?.failures ?? 0) + 1;
  const backoff = Math.min(LATER_FIRST_MS * 2 ** (failures - 1), LATER_MAX_MS);
  const wait = Math.round(backoff * (0.7 + Math.random() * 0.6));
  later.set(sha, { failures, at: Date.now() + Math.max(wait, atLeast) });
  console.warn(`shopfloor: photo ${sha.slice(0, 12)} not uploaded (${why}); trying again later`);
  return "later";
}

/**
 * Remember how much the server holds (for the record; a resume always asks the server).
 * @param {string} sha
 * @param {number} uploaded
 */
async function saveProgress(sha, uploaded) {
  await update(sha, (blob) => ({ ...blob, uploaded }), { quiet: true });
}

/**
 * Rewrite a pending blob in one transaction; nothing happens if it is no longer pending.
 * @param {string} sha
 * @param {(blob: StoredBlob) => StoredBlob} change
 * @param {{quiet?: boolean}} [options] quiet: no change notice
 */
async function update(sha, change, { quiet = false } = {}) {
  const tx = (await openShopfloorDB()).transaction("blobs", "readwrite");
  const changed = await inTransaction(tx, async () => {
    /** @type {StoredBlob | undefined} */
    const blob = await tx.store.get(sha);
    if (blob?.state !== "pending") return false;
    await tx.store.put(change(blob));
    return true;
  });
  if (changed && !quiet) notify({ type: "blobs", sha });
}

/** Delete the stubs of photos confirmed more than 14 days ago. */
async function forgetOldStubs() {
  const tx = (await openShopfloorDB()).transaction("blobs", "readwrite");
  await inTransaction(tx, async () => {
    let cursor = await tx.store.index("confirmed_at").openCursor(IDBKeyRange.upperBound(Date.now() - KEEP_STUB_MS));
    while (cursor) {
      await cursor.delete();
      cursor = await cursor.continue();
    }
  });
}
