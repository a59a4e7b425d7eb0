// @ts-check
/**
 * Pull: the reference data the floor needs offline (bins, operations, work orders,
 * locations, products, people, open transfers and inspections, plant settings), applied
 * page by page together with the server's cursor.
 */
import {
  openShopfloorDB,
  getMeta,
  inTransaction,
  notify,
  REFERENCE_STORES,
  REFERENCE_KEYS,
} from "./db.js";

/**
 * @typedef {object} PullPage
 * @property {Record<string, unknown>[]} [bins]
 * @property {Record<string, unknown>[]} [operations]
 * @property {Record<string, unknown>[]} [work_orders]
 * @property {Record<string, unknown>[]} [locations]
 * @property {Record<string, unknown>[]} [products]
 * @property {Record<string, string[]>} [deleted] tombstones: keys per store
 * @property {string | null} [cursor] opaque
 * @property {boolean} [has_more]
 * @property {boolean} [reset_required]
 * @property {number} [server_now]
 */

/**
 * Pull until the server has nothing more, starting from the stored cursor.
 * @param {(cursor: string | undefined) => Promise<PullPage>} fetchPage
 */
export async function pullAll(fetchPage) {
  let resets = 0;
  let changed = false;
  for (;;) {
    const cursor = (await getMeta("cursor")) ?? undefined;
    const page = await fetchPage(cursor);
    if (page.reset_required) {
      // Our cursor is older than the server's history: start again from nothing.
      if (resets++) throw new Error("pull: the server asked for a reset twice");
      await resetReference();
      changed = true;
      continue;
    }
    if (await applyPage(page)) changed = true;
    // A cursor that does not move would loop for ever: stop and let the next sync go on.
    if (!page.has_more || page.cursor == null || page.cursor === cursor) break;
  }
  if (changed) notify({ type: "pulled" });
}

/**
 * Apply one page and store its cursor in a single transaction, so a crash between the
 * two can never skip or half-apply a page. Returns whether any row changed.
 * @param {PullPage} page
 * @returns {Promise<boolean>}
 */
async function applyPage(page) {
  const db = await openShopfloorDB();
  const tx = db.transaction(["meta", ...REFERENCE_STORES], "readwrite");
  let rows = 0;
  await inTransaction(tx, async () => {
    const writes = [];
    for (const name of REFERENCE_STORES) {
      const store = tx.objectStore(name);
      // Requests on one store run in order: tombstones first, then the current rows.
      for (const key of page.deleted?.[name] ?? []) writes.push(store.delete(key));
      const list = /** @type {Record<string, unknown>[] | undefined} */ (page[/** @type {keyof PullPage} */ (name)]);
      for (const row of list ?? []) {
        if (row?.[REFERENCE_KEYS[name]] == null) continue; // a row without its key cannot be stored
        writes.push(store.put(row));
      }
    }
    rows = writes.length;
    if (page.cursor != null) writes.push(tx.objectStore("meta").put(page.cursor, "cursor"));
    await Promise.all(writes);
  });
  return rows > 0;
}

/** Forget all pulled data and the cursor, in one transaction. */
async function resetReference() {
  const db = await openShopfloorDB();
  const tx = db.transaction(["meta", ...REFERENCE_STORES], "readwrite");
  await inTransaction(tx, async () => {
    await Promise.all([
      ...REFERENCE_STORES.map((name) => tx.objectStore(name).clear()),
      tx.objectStore("meta").delete("cursor"),
    ]);
  });
}

/**
 * The pulled state of one bin, or undefined if this device has never heard of it.
 * @param {string} code
 * @returns {Promise<Record<string, any> | undefined>}
 */
export async function getBin(code) {
  return code ? (await openShopfloorDB()).get("bins", code) : undefined;
}

/**
 * The open transfer slips and inspections of one bin, as last pulled (a few hundred at most are open).
 * @param {string} code
 * @returns {Promise<{transfers: Record<string, any>[], inspections: Record<string, any>[]}>}
 */
export async function listOpenWork(code) {
  const db = await openShopfloorDB();
  const [transfers, inspections] = await Promise.all([db.getAll("transfers"), db.getAll("inspections")]);
  const mine = (/** @type {Record<string, any>} */ row) => row.bin_code === code && row.status === "open";
  return { transfers: transfers.filter(mine), inspections: inspections.filter(mine) };
}

/**
 * Every place a bin can go, as last pulled.
 * @returns {Promise<Record<string, any>[]>}
 */
export async function listLocations() {
  return (await openShopfloorDB()).getAll("locations");
}
