// @ts-check
/** The push: every pending event of the outbox to the server, in seq order and in batches. */
import { notice } from "./db.js";
import { countUnsynced, nextBatch, envelope, applyPushResponse } from "./outbox.js";
import { pageBuild } from "./build.js";
import { SyncStop, call } from "./transport.js";

const BATCH = 200;

const push = {
  readThrough: 0, // the highest seq the push has read from the outbox
};

export async function savedSincePush() {
  return (await nextBatch(1, push.readThrough)).length > 0;
}

/**
 * @param {number} limit
 * @param {number} after
 */
async function readBatch(limit, after) {
  const batch = await nextBatch(limit, after);
  if (batch.length) push.readThrough = Math.max(push.readThrough, batch[batch.length - 1].seq);
  return batch;
}

/**
 * Resolves with the photos the server is missing. Applying a response overlaps the next push.
 * @param {string} token
 * @param {string} deviceId
 * @returns {Promise<Set<string>>}
 */
export async function pushAll(token, deviceId) {
  push.readThrough = 0;
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
  let batch = await readBatch(limit, after);
  let pending = await countUnsynced();
  for (;;) {
    if (!batch.length) {
      await settle();
      pending = await countUnsynced();
      // The server kept nothing new: stop here, the timer tries again.
      if (!progress || pending === 0) return missing;
      after = 0;
      progress = false;
      batch = await readBatch(limit, after);
      continue;
    }
    /** @type {import("./outbox.js").PushResponse} */
    let response;
    try {
      response = await call("POST", "/sync/push", {
        token,
        body: {
          device_id: deviceId,
          build: pageBuild(),
          sent_at: Date.now(), // for the server to measure this device's clock
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
    [batch, pending] = await Promise.all([readBatch(limit, after), countUnsynced()]);
    pending = Math.max(0, pending - (response.results?.length ?? 0));
    applying = applyPushResponse(response, resent);
    /** @type {import("./outbox.js").PushResult[]} */
    const results = Array.isArray(response.results) ? response.results : [];
    if (results.some((r) => r.status === "quarantined")) notice("quarantined", true, false);
    for (const result of results) for (const sha of result.missing_attachments ?? []) missing.add(sha);
  }
}
