// @ts-check
/**
 * Transfer slips on this device, for the slip page and the bin page's "open a slip" (loaded only
 * there): the open slips pulled from the server, this device's own records of them (waiting to
 * sync, or sent), and a slip folded from both as the server folds it (webapp/domain/transfers.py):
 * the content and the hash its signatures sign, which of the four sign-offs hold, what comes next.
 * Also the strings those pages carry for their scripts (<script type="application/json"
 * data-strings>), so that the floor shell every page loads does not carry them.
 */
import { t } from "../i18n.js";
import { openShopfloorDB } from "./db.js";
import { sha256Hex } from "./photos.js";
import { canonicalJson } from "./signing.js";

/** The four sign-offs, in their order. */
export const STEPS = ["clerk", "inspector", "operator", "receiver"];
/** §3.3: similar parts go to one place at least this far apart, unless the plant's setting says otherwise. */
export const MIXUP_MINUTES = 30;
/** What a signature signs: these fields of the opening (webapp/domain/transfers.py CONTENT_FIELDS). */
const CONTENT_FIELDS = ["transfer_id", "bin_codes", "to", "quantity", "part"];

/** @typedef {import("./outbox.js").OutboxRecord} OutboxRecord */
/**
 * One sign-off as this device knows it.
 * @typedef {object} SlipSignature
 * @property {string} event_id
 * @property {string} step
 * @property {number} quantity
 * @property {string | null} [verdict]
 * @property {string | null} [defects]
 * @property {number} at when it was signed (epoch ms): the log's order
 * @property {string | null} content_hash the content it signed (null: void on the server)
 * @property {string | null} [signer] who signed, by name, as the server has it
 * @property {string | null} [verification] device_user | badge_pin | unverified (the server's word)
 * @property {string | null} [image] the drawing's SHA-256, for the server's copy
 * @property {OutboxRecord} [record] this device's record, when the server had not got it when the page was made
 * @property {string} [state] valid | replaced | void | out_of_order (folded here)
 */
/**
 * A slip as this device knows it now.
 * @typedef {object} DeviceSlip
 * @property {string} transfer_id
 * @property {Record<string, any>} content
 * @property {string} content_hash hex SHA-256 of its canonical JSON, computed here
 * @property {string} status open | discrepancy | refused | complete
 * @property {string | null} next_step
 * @property {SlipSignature[]} signatures in the log's order
 * @property {{text: string, step?: string, at: number, record?: OutboxRecord} | null} refusal
 * @property {boolean} changed something of this device's is not in what the server said
 * @property {Record<string, any> | null} pulled the slip as last pulled
 * @property {Record<string, any> | null} opened this device's own opening, when its content holds
 */

/** The page's string for `key` (its data-strings blocks, then every page's): i18n.js t(), by the name slip code uses. */
export const say = t;

/**
 * What a slip's signatures sign: the opening's content fields that are there, bin codes sorted.
 * @param {Record<string, any>} opened
 * @returns {Record<string, any>}
 */
export function slipContent(opened) {
  /** @type {Record<string, any>} */
  const content = {};
  for (const key of CONTENT_FIELDS) if (opened[key] !== undefined && opened[key] !== null) content[key] = opened[key];
  content.bin_codes = [...(content.bin_codes ?? [])].sort();
  return content;
}

/**
 * The hash a signature binds: hex SHA-256 of the content's canonical JSON, as the server computes it.
 * @param {Record<string, any>} content
 */
export async function contentHash(content) {
  return sha256Hex(new TextEncoder().encode(canonicalJson(content)).buffer);
}

/**
 * This device's records of transfer slips (waiting to sync, and those sent and still kept), in seq order.
 * @returns {Promise<OutboxRecord[]>}
 */
export async function transferRecords() {
  const db = await openShopfloorDB();
  const tx = db.transaction(["outbox", "sent"]);
  const [waiting, sent] = await Promise.all([tx.objectStore("outbox").getAll(), tx.objectStore("sent").getAll()]);
  /** @type {Map<string, OutboxRecord>} */
  const found = new Map();
  for (const record of [...sent, ...waiting]) {
    if (typeof record.type === "string" && record.type.startsWith("transfer.")) found.set(record.id, record);
  }
  return [...found.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The signatures the server listed (on its page, or pulled) in one shape.
 * @param {Record<string, any>[]} listed
 * @param {string | null} hash the content hash the server judged them against (pulled rows carry no hash each)
 * @returns {SlipSignature[]}
 */
function serverSignatures(listed, hash) {
  return listed.map((s) => ({
    event_id: s.event_id,
    step: s.step,
    quantity: s.quantity,
    verdict: s.verdict ?? null,
    defects: s.defects ?? null,
    at: Date.parse(s.signed_at) || 0,
    content_hash: s.content_hash ?? (s.state === "void" ? null : hash),
    signer: typeof s.signer === "string" ? s.signer : (s.signer?.name ?? null),
    verification: s.verification ?? null,
    image: s.signature_sha256 ?? null,
  }));
}

/**
 * Fold signatures in log order against the current content hash, as fold_signatures does: a
 * signature over other content is void; one that skips a step or comes under a later one is out
 * of order; a later valid signature of a step replaces the earlier one.
 * @param {SlipSignature[]} signatures
 * @param {string} hash
 * @returns {{valid: Map<string, SlipSignature>, next: string | null}}
 */
export function foldSignatures(signatures, hash) {
  /** @type {Map<string, SlipSignature>} */
  const valid = new Map();
  for (const sig of signatures) {
    if (!STEPS.includes(sig.step)) continue;
    if (sig.content_hash !== hash) {
      sig.state = "void";
      continue;
    }
    const expected = STEPS.find((step) => !valid.has(step));
    const behind = valid.has(sig.step) && STEPS.indexOf(sig.step) < valid.size - 1;
    if ((sig.step !== expected && !valid.has(sig.step)) || behind) {
      sig.state = "out_of_order";
      continue;
    }
    const replaced = valid.get(sig.step);
    if (replaced) replaced.state = "replaced";
    valid.set(sig.step, sig);
    sig.state = "valid";
  }
  return { valid, next: STEPS.find((step) => !valid.has(step)) ?? null };
}

/**
 * A slip as this device knows it: what the server said (its page's copy `server`, else what was
 * pulled) with this device's own records of it that the server had not got. Null when the device
 * knows nothing of it (or nothing it can sign: a slip from before signatures, without content).
 * @param {string} id
 * @param {Record<string, any> | null} server the server's slip (GET /api/v1/transfers/<id>), if the page has it
 * @returns {Promise<DeviceSlip | null>}
 */
export async function deviceSlip(id, server) {
  const db = await openShopfloorDB();
  const [pulled, records] = await Promise.all([db.get("transfers", id), transferRecords()]);
  const mine = records.filter((record) => record.payload?.transfer_id === id);
  const base = server?.content ? server : pulled?.content ? pulled : null;
  let content = base?.content ?? null;
  let openedAt = base ? Date.parse(base.changed_at ?? base.opened_at ?? base.created_at) || 0 : 0;
  /** @type {Map<string, SlipSignature>} */
  const signatures = new Map();
  for (const sig of serverSignatures(base?.signatures ?? [], base?.content_hash ?? null)) signatures.set(sig.event_id, sig);
  if (server && base === server && pulled && pulled.content_hash === server.content_hash) {
    // Signed on other devices since the page was made, and pulled here since.
    for (const sig of serverSignatures(pulled.signatures ?? [], pulled.content_hash)) {
      if (!signatures.has(sig.event_id)) signatures.set(sig.event_id, sig);
    }
  }
  const said = server?.refusal;
  /** @type {DeviceSlip["refusal"]} */
  let refusal = said ? { text: said.text, step: said.step, at: Date.parse(said.at) || 0 } : null;
  let changed = false;
  /** @type {Record<string, any> | null} */
  let opened = null;
  for (const record of mine) {
    const p = record.payload;
    if (record.type === "transfer.opened" && record.occurred_at >= openedAt) {
      opened = p;
      openedAt = record.occurred_at;
      content = slipContent(p);
    } else if (record.type === "transfer.signed" && !signatures.has(record.id)) {
      signatures.set(record.id, {
        event_id: record.id, step: String(p.step), quantity: Number(p.quantity), verdict: /** @type {string} */ (p.verdict) ?? null,
        defects: /** @type {string} */ (p.defects) ?? null, at: record.occurred_at,
        content_hash: /** @type {string} */ (p.content_hash), record,
      });
      changed = true;
    } else if (record.type === "transfer.refused" && !refusal) {
      refusal = { text: String(p.reason ?? ""), step: String(p.step ?? ""), at: record.occurred_at, record };
      changed = true;
    }
  }
  if (!content) return null;
  const hash = await contentHash(content);
  if (hash !== base?.content_hash) {
    changed = true; // opened (or opened again) here
    // The same content hashed otherwise than on the server: every signature made here would be void.
    if (base && !opened) console.warn(`shopfloor: slip ${id}: content hash ${hash}, the server's ${base.content_hash}`);
  }
  const ordered = [...signatures.values()].sort((a, b) => a.at - b.at);
  const { valid, next } = foldSignatures(ordered, hash);
  const differs = [...valid.values()].some((sig) => sig.quantity !== content?.quantity);
  let status = "open";
  if (refusal) status = "refused";
  else if (!changed && base) status = base.status;
  else if (next === null) status = differs ? "discrepancy" : "complete";
  return {
    transfer_id: id, content, content_hash: hash, status, next_step: status === "open" ? next : null,
    signatures: ordered, refusal, changed, pulled: pulled ?? null, opened,
  };
}
