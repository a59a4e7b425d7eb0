// @ts-check
/**
 * How a record's signature stands, in a few words: small on purpose, since every page with
 * a records list shows it, while the signing itself (signing.js, signer.js) loads only on a
 * page with a form a second person can confirm.
 */
import { t } from "../i18n.js";

/** Flags after which a record's signature does not stand as it was given: the office decides. */
const SIGNATURE_FLAGS = new Set(["signature_unverified", "signer_not_allowed"]);

/**
 * How a record's signature stands: null (nobody confirmed it), "to-verify" (the push has not
 * answered, and the server did not check it at saving), "verified", or "unverified" (the server
 * stored it with `signature_unverified` or `signer_not_allowed`, or kept it for review: the office
 * decides).
 * @param {import("./outbox.js").OutboxRecord} record
 * @returns {"to-verify" | "verified" | "unverified" | null}
 */
export function signatureState(record) {
  if (!record.signature) return null;
  const result = record.result;
  if (result && ["stored", "duplicate", "quarantined"].includes(result.status)) {
    const flagged = (result.exceptions ?? []).some((e) => SIGNATURE_FLAGS.has(e?.code));
    return flagged || result.status === "quarantined" ? "unverified" : "verified";
  }
  return record.signature.state === "verified" ? "verified" : "to-verify";
}

/**
 * "Confirmed by 刘洋 Liu Yang — to be verified" (or verified, or could not be verified), or "".
 * @param {import("./outbox.js").OutboxRecord} record
 */
export function signatureText(record) {
  const state = signatureState(record);
  if (!state || !record.signature) return "";
  return t(`signature_${state.replace("-", "_")}`, { name: record.signature.name });
}
