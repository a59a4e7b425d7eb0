// @ts-check
/**
 * "Export unsynced": one JSON file with every event the server has not accepted and every
 * photo it has not confirmed, for a device that cannot reach the server (offline for good,
 * revoked). The office imports it through the same push path. Reads only this device's
 * database, so it works without a network, and removes nothing.
 */
import { openShopfloorDB } from "./db.js";
import { envelope, pageUser, unconfirmedKeys } from "./outbox.js";

/**
 * @typedef {object} UnsyncedExport
 * @property {"shopfloor-outbox"} format
 * @property {1} version
 * @property {number} exported_at epoch ms
 * @property {string} device_id
 * @property {string} build
 * @property {{id: number, username: string, display_name?: string, role?: string} | null} user
 * @property {import("./outbox.js").SyncEvent[]} events envelopes exactly as pushed, in seq order
 * @property {{sha256: string, mime: string, data_base64: string}[]} attachments
 */

/**
 * Gather what the file holds, or null when there is nothing to export.
 * @param {{build?: string, now?: number}} [options]
 * @returns {Promise<{filename: string, contents: UnsyncedExport} | null>}
 */
export async function buildExport({ build = "", now = Date.now() } = {}) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["meta", "outbox", "blobs"]);
  const meta = tx.objectStore("meta");
  const [deviceId, session, records, shas] = await Promise.all([
    meta.get("device_id"),
    meta.get("session"),
    tx.objectStore("outbox").index("seq").getAll(),
    unconfirmedKeys(tx.objectStore("blobs")),
  ]);
  /** @type {import("./outbox.js").StoredBlob[]} */
  const blobs = (await Promise.all(shas.map((sha) => tx.objectStore("blobs").get(sha)))).filter((b) => b?.data);
  await tx.done;
  if (!records.length && !blobs.length) return null;
  return {
    filename: `shopfloor-unsynced-${String(deviceId).slice(0, 8)}-${stamp(new Date(now))}.json`,
    contents: {
      format: "shopfloor-outbox",
      version: 1,
      exported_at: now,
      device_id: deviceId,
      build,
      user: pageUser() ?? session ?? null,
      events: records.map(envelope),
      attachments: blobs.map((blob) => ({
        sha256: blob.sha256,
        mime: blob.mime,
        data_base64: base64(/** @type {ArrayBuffer} */ (blob.data)),
      })),
    },
  };
}

/**
 * Local date and time as yyyymmdd-hhmm, for the file name.
 * @param {Date} when
 */
function stamp(when) {
  const two = (/** @type {number} */ n) => String(n).padStart(2, "0");
  return (
    `${when.getFullYear()}${two(when.getMonth() + 1)}${two(when.getDate())}` +
    `-${two(when.getHours())}${two(when.getMinutes())}`
  );
}

/**
 * Standard base64 of some bytes, in slices (String.fromCharCode takes only so many arguments).
 * @param {ArrayBuffer} data
 */
function base64(data) {
  const bytes = new Uint8Array(data);
  const native = /** @type {any} */ (bytes).toBase64;
  if (typeof native === "function") return native.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
