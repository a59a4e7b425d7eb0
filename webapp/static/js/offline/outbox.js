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
/**
 * Who confirmed a record on this device (a second person's badge and PIN): their id and name and
 * how the signature stood when saved ("verified": the server checked it at once; "to-verify":
 * the push will). Kept beside the envelope, never sent; nothing secret.
 * @typedef {{id: number, name: string, state: "verified" | "to-verify"}} SignatureNote
 */
/** @typedef {SyncEvent & {state: string, result?: PushResult, sent_at?: number, signature?: SignatureNote}} OutboxRecord */
/** @typedef {{acked_through_seq?: number, missing_seqs?: number[], results?: PushResult[]}} PushResponse */
/**
 * A photo ready to keep: JPEG bytes named by their SHA-256 (see photos.js).
 * @typedef {{sha256: string, mime: string, size: number, data: ArrayBuffer}} Attachment
 */
/**
 * A record in the `blobs` store. `state` mirrors `confirmed` for the index (booleans cannot
 * be keys). A confirmed blob is a stub without `data`, kept 14 days after `confirmed_at`.
 * @typedef {object} StoredBlob
 * @property {string} sha256
 * @property {string} mime
 * @property {number} size
 * @property {ArrayBuffer} [data]
 * @property {number} uploaded bytes the server held when last asked
 * @property {boolean} confirmed
 * @property {"pending" | "rejected" | "confirmed"} state
 * @property {number} created_at
 * @property {number} [confirmed_at]
 * @property {number} [rejected_at]
 * @property {string} [reason] why the server refused it
 * @property {number} [lost_at] a push listed it missing after it was confirmed
 */
/**
 * How a record on this device stands: waiting to sync; synced but held for office review;
 * synced with photos still to upload; synced with a photo the server refused.
 * @typedef {"pending" | "quarantined" | "photo-pending" | "photo-rejected"} DeviceState
 */
/** @typedef {{record: OutboxRecord, state: DeviceState, code?: string}} OnDevice */

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
 * Record one event on this device, with its photos. Resolves only once the transaction that
 * assigned its id and seq and stored the photos has durably committed: that is the moment
 * the UI may say "saved". Either everything is saved or nothing is.
 * @param {string} type
 * @param {number} v
 * @param {Record<string, unknown>} payload
 * @param {Attachment[]} [attachments]
 * @param {{id?: string, signature?: SignatureNote}} [options] `id`: made beforehand, for a record
 *   whose signature signs its id; `signature`: who confirmed it (kept on the device only)
 * @returns {Promise<OutboxRecord>}
 */
export async function saveEvent(type, v, payload, attachments = [], { id, signature } = {}) {
  const db = await openShopfloorDB();
  const user = pageUser();
  // Reading next_seq and writing the event in one readwrite transaction makes seq
  // gapless across tabs: IndexedDB runs overlapping readwrite transactions one at a time.
  const tx = db.transaction(["meta", "outbox", "blobs"], "readwrite", { durability: "strict" });
  const meta = tx.objectStore("meta");
  try {
    const record = await inTransaction(tx, async () => {
      const [deviceId, nextSeq, session] = await Promise.all([
        meta.get("device_id"),
        meta.get("next_seq"),
        meta.get("session"),
      ]);
      const now = Date.now();
      /** @type {OutboxRecord} */
      const record = {
        id: id ?? uuid7(now),
        device_id: deviceId,
        seq: nextSeq ?? 1,
        type,
        v,
        occurred_at: now,
        actor_id: user?.id ?? session?.id ?? null,
        payload: { ...payload },
        attachments: [...new Set(attachments.map((a) => a.sha256))],
        state: "pending",
        ...(signature ? { signature: { ...signature } } : {}),
      };
      await tx.objectStore("outbox").add(record);
      await meta.put(record.seq + 1, "next_seq");
      const blobs = tx.objectStore("blobs");
      for (const { sha256, mime, size, data } of attachments) {
        /** @type {StoredBlob | undefined} */
        const held = await blobs.get(sha256);
        // The same photo kept already keeps its state; a confirmed stub gets its bytes back
        // until the server confirms again (it may have lost the file since).
        if (held && held.state !== "confirmed") continue;
        /** @type {StoredBlob} */
        const blob = { sha256, mime, size, data, uploaded: 0, confirmed: false, state: "pending", created_at: now };
        await blobs.put(blob);
      }
      return record;
    });
    notify({ type: "saved", id: record.id, seq: record.seq });
    return record;
  } catch (error) {
    if (isQuotaError(error) || isQuotaError(tx.error)) {
      throw new Error(t("storage_full"), { cause: error });
    }
    throw error;
  }
}

/**
 * Whether an error means the device's storage is full (or this origin's share of it).
 * @param {unknown} error
 */
function isQuotaError(error) {
  return /quota/i.test(/** @type {Error} */ (error)?.name ?? "");
}

/**
 * How many events this device holds that the server has not accepted yet.
 * @returns {Promise<number>}
 */
export async function countUnsynced() {
  return (await openShopfloorDB()).count("outbox");
}

/**
 * The next pending events to push, at most `limit`, in seq order, after seq `after`.
 * Every record in the outbox is pending (accepted ones move to `sent`).
 * @param {number} limit
 * @param {number} [after]
 * @returns {Promise<OutboxRecord[]>}
 */
export async function nextBatch(limit, after = 0) {
  const db = await openShopfloorDB();
  return db.getAllFromIndex("outbox", "seq", IDBKeyRange.lowerBound(after, true), limit);
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
  // Relaxed: if a crash loses this write, the events are still in the outbox and the server
  // answers "duplicate" when they are sent again.
  const tx = db.transaction(["outbox", "sent", "meta", "blobs"], "readwrite", { durability: "relaxed" });
  const outbox = tx.objectStore("outbox");
  const sent = tx.objectStore("sent");
  const meta = tx.objectStore("meta");
  const blobs = tx.objectStore("blobs");
  const now = Date.now();
  let accepted = 0;
  let requeued = 0;
  let lost = 0;
  await inTransaction(tx, async () => {
    /** @type {PushResult[]} */
    const results = response.results ?? [];
    // Requests in one transaction run in the order they are made: make them all, then wait,
    // rather than wait for each (a push of 200 would otherwise take 600 round trips).
    const [confirmedKeys, records] = await Promise.all([
      blobs.index("state").getAllKeys("confirmed"),
      Promise.all(results.map((result) => outbox.get(result.id))),
    ]);
    const confirmed = new Set(confirmedKeys);
    /** @type {Promise<unknown>[]} */
    const writes = [];
    for (const [i, result] of results.entries()) {
      // Missing files are uploaded after this push. One the device already counted as
      // confirmed (bytes deleted) means the server lost it: say so, there is nothing to resend.
      for (const sha of result.missing_attachments ?? []) {
        if (!confirmed.has(sha)) continue;
        /** @type {StoredBlob | undefined} */
        const stub = await blobs.get(sha);
        if (stub && !stub.lost_at) {
          await blobs.put({ ...stub, lost_at: now });
          lost++;
        }
      }
      const record = records[i];
      if (!record) continue;
      if (ACCEPTED.has(result.status)) {
        writes.push(outbox.delete(result.id), sent.put({ ...record, state: "sent", result, sent_at: now }));
        accepted++;
      } else {
        writes.push(outbox.put({ ...record, result })); // unknown status: keep it and try again later
      }
    }
    await Promise.all(writes);

    const lostSeqs = new Set(response.missing_seqs ?? []);
    const ack = response.acked_through_seq;
    const previousAck = await meta.get("acked_through_seq");
    if (typeof ack === "number") {
      if (typeof previousAck === "number" && ack < previousAck) {
        // The server forgot events it had (restored from a backup): send them again.
        for (const record of await sent.index("seq").getAll(IDBKeyRange.lowerBound(ack, true))) {
          lostSeqs.add(record.seq);
        }
      }
      await meta.put(ack, "acked_through_seq");
    }
    for (const seq of lostSeqs) {
      if (alreadyResent.has(seq)) continue; // the server keeps asking: don't loop, the timer retries
      const record = await sent.index("seq").get(seq);
      if (!record || (await outbox.index("seq").count(seq))) continue;
      await sent.delete(record.id);
      await outbox.put({ ...envelope(record), state: "pending" });
      alreadyResent.add(seq);
      requeued++;
    }

    // A record whose photos are not on the server yet stays listed ("photo pending").
    const unconfirmed = new Set(await unconfirmedKeys(blobs));
    let old = await sent.index("sent_at").openCursor(IDBKeyRange.upperBound(now - KEEP_SENT_MS));
    while (old) {
      if (!old.value.attachments?.some((/** @type {string} */ sha) => unconfirmed.has(sha))) await old.delete();
      old = await old.continue();
    }
  });
  if (lost) console.warn(`shopfloor: the server lost ${lost} photo(s) it had confirmed`);
  notify({
    type: "results",
    results: (response.results ?? []).map(({ id, status, exceptions, missing_attachments }) => ({
      id,
      status,
      exceptions,
      missing_attachments,
    })),
  });
  return { accepted, requeued };
}

/**
 * SHA-256 of every blob the server has not confirmed (pending upload or refused), without
 * reading their bytes.
 * @param {{index(name: string): {getAllKeys(query: string): Promise<IDBValidKey[]>}}} blobs the store
 * @returns {Promise<string[]>}
 */
export async function unconfirmedKeys(blobs) {
  const [pending, rejected] = await Promise.all([
    blobs.index("state").getAllKeys("pending"),
    blobs.index("state").getAllKeys("rejected"),
  ]);
  return /** @type {string[]} */ ([...pending, ...rejected]);
}

/**
 * Records on this device the person should know about, in seq order: every event still in
 * the outbox; synced events whose photos the server has not confirmed; and (with
 * `quarantined`) synced events the server holds for office review.
 * @param {{binCode?: string, quarantined?: boolean}} [filter]
 * @returns {Promise<OnDevice[]>}
 */
export async function listOnDevice({ binCode, quarantined = false } = {}) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["outbox", "sent", "blobs"]);
  const blobs = tx.objectStore("blobs");
  const sent = tx.objectStore("sent");
  const [pending, rejected] = await Promise.all([
    blobs.index("state").getAllKeys("pending"),
    blobs.index("state").getAllKeys("rejected"),
  ]);
  const refused = new Set(rejected);
  /** @type {Map<string, OnDevice>} */
  const found = new Map();
  for (const record of await tx.objectStore("outbox").index("seq").getAll()) {
    found.set(record.id, { record, state: "pending" });
  }
  for (const sha of [...pending, ...rejected]) {
    for (const record of await sent.index("attachments").getAll(sha)) {
      const state = found.get(record.id)?.state;
      if (state === "pending" || state === "photo-rejected") continue;
      found.set(record.id, { record, state: refused.has(sha) ? "photo-rejected" : "photo-pending" });
    }
  }
  if (quarantined) {
    for (const record of await sent.index("status").getAll("quarantined")) {
      found.set(record.id, { record, state: "quarantined", code: record.result?.exceptions?.[0]?.code });
    }
  }
  await tx.done;
  return [...found.values()]
    .filter(({ record }) => binCode === undefined || record.payload?.bin_code === binCode)
    .sort((a, b) => a.record.seq - b.record.seq);
}
