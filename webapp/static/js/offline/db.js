// @ts-check
/** The device database (IndexedDB via idb) and the change notices that keep every tab in step. */
import { openDB } from "../../vendor/idb-8.0.4.js";
import { uuid7 } from "./uuid7.js";

const FIRST_STORES = ["bins", "operations", "work_orders", "locations", "products"];
const THIRD_STORES = ["users", "transfers", "inspections", "settings"];
const FOURTH_STORES = ["inspection_templates", "defect_types", "references"];

/** Stores filled by pull; cleared together when the server asks for a reset. */
export const REFERENCE_STORES = [...FIRST_STORES, ...THIRD_STORES, ...FOURTH_STORES];

export const REFERENCE_KEYS = /** @type {Record<string, string>} */ ({
  bins: "code",
  operations: "code",
  work_orders: "number",
  locations: "code",
  products: "code",
  users: "username",
  transfers: "number",
  inspections: "inspection_id",
  settings: "key",
  inspection_templates: "code",
  defect_types: "code",
  references: "key",
});

/** Schema versions; each step only adds (version 4 also re-keys the inspections, which nothing wrote to). */
const DB_VERSION = 4;

/** @typedef {Awaited<ReturnType<typeof openDB>>} ShopfloorDB */

/** @type {Promise<ShopfloorDB> | null} */
let dbPromise = null;

/** @returns {Promise<ShopfloorDB>} */
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
        // A new database is a new device, so a wiped one never reuses old seqs under the old id.
        const meta = tx.objectStore("meta");
        meta.put(crypto.randomUUID?.() ?? uuid7(), "device_id");
        meta.put(newDeviceSecret(), "device_secret");
        meta.put(1, "next_seq");
      }
      if (oldVersion < 2) {
        // Photos as ArrayBuffer + MIME (never Blob: iOS loses them); state is a string: booleans cannot be keys.
        const blobs = db.createObjectStore("blobs", { keyPath: "sha256" });
        blobs.createIndex("state", "state");
        blobs.createIndex("confirmed_at", "confirmed_at");
        const sent = tx.objectStore("sent");
        sent.createIndex("attachments", "attachments", { multiEntry: true });
        sent.createIndex("status", "result.status");
      }
      if (oldVersion < 3) {
        for (const name of THIRD_STORES) {
          db.createObjectStore(name, { keyPath: REFERENCE_KEYS[name] });
        }
        // The pull cursor is past the changes that made these rows.
        if (oldVersion >= 1) tx.objectStore("meta").delete("cursor");
      }
      if (oldVersion < 4) {
        // Inspections are known by the id their device made (they were the server's row number):
        // the old store held only pulled rows, so it is made again, empty, and pulled again.
        if (oldVersion >= 3) {
          db.deleteObjectStore("inspections");
          db.createObjectStore("inspections", { keyPath: REFERENCE_KEYS.inspections });
        }
        for (const name of FOURTH_STORES) {
          db.createObjectStore(name, { keyPath: REFERENCE_KEYS[name] });
        }
        if (oldVersion >= 1) tx.objectStore("meta").delete("cursor");
      }
    },
    blocking() {
      // A newer build wants to upgrade: close so it is not blocked; reopen lazily.
      dbPromise?.then((db) => db.close());
      dbPromise = null;
    },
    terminated() {
      dbPromise = null;
    },
  }).catch((error) => {
    dbPromise = null;
    throw error;
  });
  return dbPromise;
}

/**
 * 32 random bytes as base64url; the server keeps only its hash.
 * @returns {string}
 */
function newDeviceSecret() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * This device's secret, made once (in one transaction, so two tabs agree) if the database predates secrets.
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
 * @param {string} key
 * @returns {Promise<any>}
 */
export async function getMeta(key) {
  return (await openShopfloorDB()).get("meta", key);
}

/**
 * @param {string} key
 * @param {any} value
 */
export async function setMeta(key, value) {
  await (await openShopfloorDB()).put("meta", value, key);
}

/** @param {Record<string, any>} entries */
export async function putMeta(entries) {
  const tx = (await openShopfloorDB()).transaction("meta", "readwrite");
  await Promise.all([...Object.entries(entries).map(([key, value]) => tx.store.put(value, key)), tx.done]);
}

/** @param {...string} keys */
export async function deleteMeta(...keys) {
  const tx = (await openShopfloorDB()).transaction("meta", "readwrite");
  await Promise.all([...keys.map((key) => tx.store.delete(key)), tx.done]);
}

/**
 * Run `body` in `tx`, resolving once it commits; an error in `body` aborts it.
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
        // already aborted
      }
      throw error;
    }
  })();
  const [result] = await Promise.all([work, tx.done]);
  return result;
}

/** @typedef {{type: string, [field: string]: any}} Change */

// The channel reaches the other tabs; the EventTarget, this one (a channel never echoes).
const channel = "BroadcastChannel" in self ? new BroadcastChannel("shopfloor-sync") : null;
const here = new EventTarget();

/**
 * @param {Change} change
 * @param {{localOnly?: boolean}} [options]
 */
export function notify(change, { localOnly = false } = {}) {
  if (!localOnly) channel?.postMessage(change);
  here.dispatchEvent(new CustomEvent("change", { detail: change }));
}

/**
 * Show or withdraw a message (an i18n key) in every tab.
 * @param {string} key
 * @param {boolean} show
 * @param {boolean} [persistent]
 */
export function notice(key, show, persistent = true) {
  notify({ type: "notice", key, show, persistent });
}

/**
 * @param {(change: Change, remote: boolean) => void} listener
 * @returns {() => void} stops listening
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
