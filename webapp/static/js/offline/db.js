// @ts-check
/**
 * The device database ("shopfloor", IndexedDB via idb) and the change notices that
 * keep every open tab in step with it.
 */
import { openDB } from "../../vendor/idb-8.0.4.js";
import { uuid7 } from "./uuid7.js";

/** Reference stores of schema version 1. */
const FIRST_STORES = ["bins", "operations", "work_orders", "locations", "products"];
/** Reference stores added in version 3. */
const THIRD_STORES = ["users", "transfers", "inspections", "settings"];

/** Stores filled by pull; cleared together when the server asks for a reset. */
export const REFERENCE_STORES = [...FIRST_STORES, ...THIRD_STORES];

/** Key path of each reference store (the key the server's pull names rows by). */
export const REFERENCE_KEYS = /** @type {Record<string, string>} */ ({
  bins: "code",
  operations: "code",
  work_orders: "number",
  locations: "code",
  products: "code",
  users: "username",
  transfers: "number",
  inspections: "id",
  settings: "key",
});

/**
 * Schema versions. Each step only adds; data of every earlier version survives.
 * 1: meta, outbox, sent and the reference stores.
 * 2: blobs (photos by SHA-256); sent gets the indexes "attachments" (multiEntry) and "status".
 * 3: people, open transfers and inspections, plant settings (pulled from the start again).
 */
const DB_VERSION = 3;

/** @typedef {Awaited<ReturnType<typeof openDB>>} ShopfloorDB */

/** @type {Promise<ShopfloorDB> | null} */
let dbPromise = null;

/**
 * Open (once per page) the device database, creating it on first use.
 * @returns {Promise<ShopfloorDB>}
 */
export function openShopfloorDB() {
  dbPromise ??= openDB("shopfloor", DB_VERSION, {
    upgrade(db, oldVersion, _newVersion, tx) {
      if (oldVersion < 1) {
        db.createObjectStore("meta");
        const outbox = db.createObjectStore("outbox", { keyPath: "id" });
        outbox.createIndex("seq", "seq", { unique: true });
        outbox.createIndex("state", "state");
        const sent = db.createObjectStore("sent", { keyPath: "id" });
        sent.createIndex("seq", "seq");
        sent.createIndex("sent_at", "sent_at");
        for (const name of FIRST_STORES) {
          db.createObjectStore(name, { keyPath: REFERENCE_KEYS[name] });
        }
        // A new database is a new device: its id, secret and seq counter are born with it,
        // so a wiped database can never reuse old seqs under the old id (nor claim that id).
        const meta = tx.objectStore("meta");
        meta.put(crypto.randomUUID?.() ?? uuid7(), "device_id");
        meta.put(newDeviceSecret(), "device_secret");
        meta.put(1, "next_seq");
      }
      if (oldVersion < 2) {
        // Photos as ArrayBuffer + MIME (never Blob: iOS loses them), named by their SHA-256.
        // "state" (pending | rejected | confirmed) is indexed because booleans cannot be keys.
        const blobs = db.createObjectStore("blobs", { keyPath: "sha256" });
        blobs.createIndex("state", "state");
        blobs.createIndex("confirmed_at", "confirmed_at");
        // Which sent events use a photo (records shown as "photo pending"), and which were
        // quarantined; both built from the sent events a version-1 device already holds.
        const sent = tx.objectStore("sent");
        sent.createIndex("attachments", "attachments", { multiEntry: true });
        sent.createIndex("status", "result.status");
      }
      if (oldVersion < 3) {
        for (const name of THIRD_STORES) {
          db.createObjectStore(name, { keyPath: REFERENCE_KEYS[name] });
        }
        // The pull cursor is past the changes that made these rows: pull from the start again.
        if (oldVersion >= 1) tx.objectStore("meta").delete("cursor");
      }
    },
    blocking() {
      // A newer build wants to upgrade the schema: close so it is not blocked; reopen lazily.
      dbPromise?.then((db) => db.close());
      dbPromise = null;
    },
    terminated() {
      dbPromise = null;
    },
  }).catch((error) => {
    dbPromise = null; // let the next call try again
    throw error;
  });
  return dbPromise;
}

/**
 * A device secret: 32 random bytes as unpadded base64url (43 characters). The server keeps only
 * its hash and re-registers a device id it knows only for the holder of the secret.
 * @returns {string}
 */
function newDeviceSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * This device's secret, made (once) for a device whose database predates secrets. Read and
 * written in one transaction, so two tabs asking at once agree on one secret.
 * @returns {Promise<string>}
 */
export async function deviceSecret() {
  const tx = (await openShopfloorDB()).transaction("meta", "readwrite", { durability: "strict" });
  return inTransaction(tx, async () => {
    const held = await tx.store.get("device_secret");
    if (typeof held === "string" && held) return held;
    const made = newDeviceSecret();
    await tx.store.put(made, "device_secret");
    return made;
  });
}

/**
 * Read one value from the key-value `meta` store.
 * @param {string} key
 * @returns {Promise<any>}
 */
export async function getMeta(key) {
  return (await openShopfloorDB()).get("meta", key);
}

/**
 * Write one value to the `meta` store.
 * @param {string} key
 * @param {any} value
 */
export async function setMeta(key, value) {
  await (await openShopfloorDB()).put("meta", value, key);
}

/**
 * Write several `meta` values in one transaction (all or none).
 * @param {Record<string, any>} entries
 */
export async function putMeta(entries) {
  const tx = (await openShopfloorDB()).transaction("meta", "readwrite");
  await Promise.all([...Object.entries(entries).map(([key, value]) => tx.store.put(value, key)), tx.done]);
}

/**
 * Delete keys from the `meta` store in one transaction.
 * @param {...string} keys
 */
export async function deleteMeta(...keys) {
  const tx = (await openShopfloorDB()).transaction("meta", "readwrite");
  await Promise.all([...keys.map((key) => tx.store.delete(key)), tx.done]);
}

/**
 * Run `body` inside `tx` and resolve with its result once the transaction has committed.
 * A JavaScript error in `body` aborts the transaction, so nothing is half-written.
 * @template T
 * @param {{abort(): void, done: Promise<void>}} tx
 * @param {() => Promise<T>} body
 * @returns {Promise<T>}
 */
export async function inTransaction(tx, body) {
  const work = (async () => {
    try {
      return await body();
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // already aborted by the failed request
      }
      throw error;
    }
  })();
  const [result] = await Promise.all([work, tx.done]);
  return result;
}

/** @typedef {{type: string, [field: string]: any}} Change */

// The channel reaches the other tabs; the EventTarget reaches listeners in this tab,
// which a BroadcastChannel never echoes back to.
const channel = "BroadcastChannel" in self ? new BroadcastChannel("shopfloor-sync") : null;
const here = new EventTarget();

/**
 * Tell listeners in this tab and (unless `localOnly`) in every other tab what changed.
 * @param {Change} change
 * @param {{localOnly?: boolean}} [options]
 */
export function notify(change, { localOnly = false } = {}) {
  if (!localOnly) channel?.postMessage(change);
  here.dispatchEvent(new CustomEvent("change", { detail: change }));
}

/**
 * Show or withdraw a message (a key of the i18n strings) in every tab.
 * @param {string} key
 * @param {boolean} show
 * @param {boolean} [persistent] stays until withdrawn
 */
export function notice(key, show, persistent = true) {
  notify({ type: "notice", key, show, persistent });
}

/**
 * Listen to changes from this tab and the others; returns the function that stops listening.
 * @param {(change: Change, remote: boolean) => void} listener
 * @returns {() => void}
 */
export function onChange(listener) {
  /** @param {Event} event */
  const fromHere = (event) => listener(/** @type {CustomEvent<Change>} */ (event).detail, false);
  /** @param {MessageEvent<Change>} event */
  const fromThere = (event) => listener(event.data, true);
  here.addEventListener("change", fromHere);
  channel?.addEventListener("message", fromThere);
  return () => {
    here.removeEventListener("change", fromHere);
    channel?.removeEventListener("message", fromThere);
  };
}
