// @ts-check
/**
 * The outbox: facts recorded on this device, kept until the server has them.
 * Saving never touches the network; the sync loop hears the "saved" notice and pushes.
 */
import { openShopfloorDB, inTransaction, notify } from "./db.js";
import { uuid7 } from "./uuid7.js";
import { t } from "../i18n.js";

/** @typedef {{id: number, username: string, display_name?: string, role?: string}} User */
/**
 * @typedef {object} SyncEvent the envelope pushed to the server
 * @property {string} id UUIDv7
 * @property {string} device_id
 * @property {number} seq gapless per device, from 1
 * @property {string} type
 * @property {number} v
 * @property {number} occurred_at device epoch ms
 * @property {number | null} actor_id
 * @property {Record<string, unknown>} payload
 * @property {string[]} attachments
 */
/** @typedef {{code: string, [detail: string]: unknown}} EventException */
/** @typedef {{id: string, status: string, exceptions?: EventException[], missing_attachments?: string[]}} PushResult */
/** @typedef {SyncEvent & {state: string, result?: PushResult, sent_at?: number}} OutboxRecord */
/** @typedef {{acked_through_seq?: number, missing_seqs?: number[], results?: PushResult[]}} PushResponse */

/** Results after which the server holds the event for good (quarantine is still kept). */
const ACCEPTED = new Set(["stored", "duplicate", "quarantined"]);

/** How long accepted events are kept for re-sending after a server restore. */
const KEEP_SENT_MS = 14 * 24 * 3600 * 1000;

/**
 * The signed-in user the server rendered into this page, or null (signed out, offline shell).
 * @returns {User | null}
 */
export function pageUser() {
  const content = document.querySelector('meta[name="shopfloor-user"]')?.getAttribute("content");
  try {
    const user = content ? JSON.parse(content) : null;
    return user && typeof user.id === "number" ? user : null;
  } catch {
    return null;
  }
}

/**
 * Record one event on this device. Resolves only once the transaction that assigned its
 * id and seq has durably committed: that is the moment the UI may say "saved".
 * @param {string} type
 * @param {number} v
 * @param {Record<string, unknown>} payload
 * @returns {Promise<OutboxRecord>}
 */
export async function saveEvent(type, v, payload) {
  const db = await openShopfloorDB();
  const user = pageUser();
  // Reading next_seq and writing the event in one readwrite transaction makes seq
  // gapless across tabs: IndexedDB runs overlapping readwrite transactions one at a time.
  const tx = db.transaction(["meta", "outbox"], "readwrite", { durability: "strict" });
  const meta = tx.objectStore("meta");
  try {
    const record = await inTransaction(tx, async () => {
      const [deviceId, nextSeq, session] = await Promise.all([
        meta.get("device_id"),
        meta.get("next_seq"),
        meta.get("session"),
      ]);
      /** @type {OutboxRecord} */
      const record = {
        id: uuid7(),
        device_id: deviceId,
        seq: nextSeq ?? 1,
        type,
        v,
        occurred_at: Date.now(),
        actor_id: user?.id ?? session?.id ?? null,
        payload: { ...payload },
        attachments: [],
        state: "pending",
      };
      await tx.objectStore("outbox").add(record);
      await meta.put(record.seq + 1, "next_seq");
      return record;
    });
    notify({ type: "saved", id: record.id, seq: record.seq });
    return record;
  } catch (error) {
    if (/quota/i.test(/** @type {Error} */ (error)?.name ?? "")) {
      throw new Error(t("storage_full"), { cause: error });
    }
    throw error;
  }
}

/**
 * How many events this device holds that the server has not accepted yet.
 * @returns {Promise<number>}
 */
export async function countUnsynced() {
  return (await openShopfloorDB()).count("outbox");
}

/**
 * Every event still in the outbox, oldest (lowest seq) first.
 * @returns {Promise<OutboxRecord[]>}
 */
export async function listUnsynced() {
  return (await openShopfloorDB()).getAllFromIndex("outbox", "seq");
}

/**
 * The next pending events to push, at most `limit`, in seq order.
 * @param {number} limit
 * @returns {Promise<OutboxRecord[]>}
 */
export async function nextBatch(limit) {
  const tx = (await openShopfloorDB()).transaction("outbox");
  /** @type {OutboxRecord[]} */
  const batch = [];
  let cursor = await tx.store.index("seq").openCursor();
  while (cursor && batch.length < limit) {
    if (cursor.value.state === "pending") batch.push(cursor.value);
    cursor = await cursor.continue();
  }
  return batch;
}

/**
 * The envelope of a record, without the device-only bookkeeping fields.
 * @param {OutboxRecord} record
 * @returns {SyncEvent}
 */
export function envelope({ id, device_id, seq, type, v, occurred_at, actor_id, payload, attachments }) {
  return { id, device_id, seq, type, v, occurred_at, actor_id, payload, attachments };
}

/**
 * Apply a push response in one transaction: move accepted events to `sent` (kept 14 days),
 * keep the others with their result, and put back in the outbox whatever the server says it
 * lost (missing seqs, or every seq past an acked_through_seq that went backwards).
 * @param {PushResponse} response
 * @param {Set<number>} alreadyResent seqs re-queued earlier in this flush (re-sent once only)
 * @returns {Promise<{accepted: number, requeued: number}>}
 */
export async function applyPushResponse(response, alreadyResent) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["outbox", "sent", "meta"], "readwrite");
  const outbox = tx.objectStore("outbox");
  const sent = tx.objectStore("sent");
  const meta = tx.objectStore("meta");
  const now = Date.now();
  let accepted = 0;
  let requeued = 0;
  await inTransaction(tx, async () => {
    for (const result of response.results ?? []) {
      const record = await outbox.get(result.id);
      if (!record) continue;
      if (ACCEPTED.has(result.status)) {
        await outbox.delete(result.id);
        await sent.put({ ...record, state: "sent", result, sent_at: now });
        accepted++;
      } else {
        await outbox.put({ ...record, result }); // unknown status: keep it and try again later
      }
    }

    const lost = new Set(response.missing_seqs ?? []);
    const ack = response.acked_through_seq;
    const previousAck = await meta.get("acked_through_seq");
    if (typeof ack === "number") {
      if (typeof previousAck === "number" && ack < previousAck) {
        // The server forgot events it had (restored from a backup): send them again.
        for (const record of await sent.index("seq").getAll(IDBKeyRange.lowerBound(ack, true))) {
          lost.add(record.seq);
        }
      }
      await meta.put(ack, "acked_through_seq");
    }
    for (const seq of lost) {
      if (alreadyResent.has(seq)) continue; // the server keeps asking: don't loop, the timer retries
      const record = await sent.index("seq").get(seq);
      if (!record || (await outbox.index("seq").count(seq))) continue;
      await sent.delete(record.id);
      await outbox.put({ ...envelope(record), state: "pending" });
      alreadyResent.add(seq);
      requeued++;
    }

    let old = await sent.index("sent_at").openCursor(IDBKeyRange.upperBound(now - KEEP_SENT_MS));
    while (old) {
      await old.delete();
      old = await old.continue();
    }
  });
  notify({
    type: "results",
    results: (response.results ?? []).map(({ id, status, exceptions }) => ({ id, status, exceptions })),
  });
  return { accepted, requeued };
}
