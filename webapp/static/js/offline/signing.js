// @ts-check
/**
 * Signing for someone else (the scheme is webapp/domain/signing.py's; the README says how it is
 * used): a person who signs on a device they are not signed in on shows their staff badge (QR:
 * SFB1:<user id>:<badge code>:<secret>) and types their PIN. From both, WebCrypto derives a key
 * that signs the record's event id and content hash; the server, which holds the badge secret and
 * the PIN's slow hash, recomputes the proof. The badge secret, the PIN and the keys derived from
 * them live only in this module's locals while a proof is made: nothing secret is stored, shown
 * or logged. Also the online check (a wrong PIN is refused at once while the server answers).
 */
import { getMeta, openShopfloorDB } from "./db.js";
import { pageUser } from "./outbox.js";
import { t } from "../i18n.js";

export const PROOF_VERSION = "shopfloor-signature/1";
export const PIN_ITERATIONS = 100_000;
/** How long the online check may take before the device treats the server as out of reach. */
const CHECK_TIMEOUT_MS = 10_000;
const BADGE_RE = /^SFB1:([1-9][0-9]{0,9}):([A-Z2-7]{8}):([A-Za-z0-9_-]{43})$/;
const PIN_RE = /^[0-9]{4,8}$/;

/** @typedef {{userId: number, code: string, secret: string}} Badge what a staff badge's QR says */
/** @typedef {{id: number, badge: string, content_hash: string, proof: string}} Signer the payload's `signer` */
/**
 * A person as pulled onto the device (the users store).
 * @typedef {{id: number, username: string, display_name?: string, role?: string, pin_salt?: string | null,
 *   has_pin?: boolean, pin_iterations?: number, active?: boolean}} Person
 */
/**
 * What the server said to the online check:
 * - verified: the proof holds (the person's name and role as the server has them);
 * - refused (422): wrong PIN (attempts left), unknown or revoked badge, no PIN, inactive: save nothing;
 * - locked (429): too many wrong PINs: save nothing;
 * - unreachable: no network, a timeout, 5xx or anything odd: save, the push verifies.
 * @typedef {{outcome: "verified", signer?: {id: number, display_name?: string, role?: string}}
 *   | {outcome: "refused", reason: string, message: string, attemptsLeft?: number}
 *   | {outcome: "locked", message: string, retryAfterMs?: number}
 *   | {outcome: "unreachable"}} CheckAnswer
 */

/**
 * Read a staff badge's QR text (surrounding spaces and line ends ignored); null when it is not one.
 * @param {string} text
 * @returns {Badge | null}
 */
export function parseBadge(text) {
  const found = typeof text === "string" ? BADGE_RE.exec(text.trim()) : null;
  return found ? { userId: Number(found[1]), code: found[2], secret: found[3] } : null;
}

/** Whether a text looks like a staff badge at all (to take a scan meant for signing). */
export function isBadgeText(/** @type {string} */ text) {
  return typeof text === "string" && text.trim().startsWith("SFB1:");
}

/** Whether a PIN has the shape the server accepts: 4 to 8 digits. */
export function isPin(/** @type {string} */ pin) {
  return PIN_RE.test(pin);
}

/**
 * Canonical JSON, as the server writes it (`json.dumps(sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False)`): keys sorted by code point, no spaces, characters as themselves. Only
 * integers, strings, booleans, null, arrays and plain objects.
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isSafeInteger(value)) throw new TypeError(`canonical JSON holds integers only, not ${value}`);
      return String(value); // -0 too is "0", as Python writes int 0
    case "object": {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
      const object = /** @type {Record<string, unknown>} */ (value);
      const keys = Object.keys(object).filter((key) => object[key] !== undefined).sort(byCodePoint);
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/**
 * Order strings as Python does (by code point; JavaScript's sort compares UTF-16 units, which
 * differs for characters beyond the BMP).
 * @param {string} a
 * @param {string} b
 */
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => /** @type {number} */ (c.codePointAt(0)));
  const y = Array.from(b, (c) => /** @type {number} */ (c.codePointAt(0)));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

const utf8 = new TextEncoder();

/** @param {ArrayBuffer} buffer */
function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** @param {string} text */
function fromHex(text) {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) throw new TypeError("not hex");
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

/**
 * What a signer signs: hex SHA-256 of the canonical JSON of the event's type and its payload
 * without the signature itself.
 * @param {string} type
 * @param {Record<string, unknown>} payload
 * @returns {Promise<string>}
 */
export async function contentHash(type, payload) {
  const { signer: _signature, ...content } = payload;
  const text = canonicalJson({ payload: content, type });
  return hex(await crypto.subtle.digest("SHA-256", utf8.encode(text)));
}

/**
 * The payload's `signer`: the proof that the person holding `badge` and knowing `pin` confirmed
 * this content under this event id. The PIN and badge secret are used here and nowhere else;
 * the derived key bytes are wiped once used (CryptoKeys are non-extractable).
 * @param {{eventId: string, type: string, payload: Record<string, unknown>, badge: Badge, pin: string,
 *   person: Person}} what `person`: the badge's holder as pulled (their PIN salt and iterations)
 * @returns {Promise<Signer>}
 */
export async function makeSigner({ eventId, type, payload, badge, pin, person }) {
  if (!isPin(pin)) throw new TypeError("the PIN must be 4 to 8 digits");
  if (!person.pin_salt) throw new TypeError("this person has no PIN salt on the device");
  const hash = await contentHash(type, payload);
  const subtle = crypto.subtle;
  const pinMaterial = await subtle.importKey("raw", utf8.encode(pin), "PBKDF2", false, ["deriveBits"]);
  const iterations = Number.isSafeInteger(person.pin_iterations) && Number(person.pin_iterations) > 0
    ? Number(person.pin_iterations) : PIN_ITERATIONS;
  const pinKey = await subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: fromHex(person.pin_salt), iterations },
    pinMaterial,
    256,
  );
  const hmac = { name: "HMAC", hash: "SHA-256" };
  const badgeKey = await subtle.importKey("raw", utf8.encode(badge.secret), hmac, false, ["sign"]);
  const signBytes = await subtle.sign("HMAC", badgeKey, pinKey);
  new Uint8Array(pinKey).fill(0);
  const signKey = await subtle.importKey("raw", signBytes, hmac, false, ["sign"]);
  new Uint8Array(signBytes).fill(0);
  const message = [PROOF_VERSION, eventId, String(badge.userId), badge.code, hash].join("\n");
  const proof = hex(await subtle.sign("HMAC", signKey, utf8.encode(message)));
  return { id: badge.userId, badge: badge.code, content_hash: hash, proof };
}

/**
 * A person pulled onto this device, by id (a few hundred people at most).
 * @param {number} id
 * @returns {Promise<Person | undefined>}
 */
export async function findPerson(id) {
  const people = /** @type {Person[]} */ (await (await openShopfloorDB()).getAll("users"));
  return people.find((person) => person.id === id);
}

/**
 * Whether this device holds what it needs to ask this person's PIN (their salt, pulled once they set a PIN).
 * @param {Person} person
 */
export function hasPin(person) {
  return person.has_pin !== false && typeof person.pin_salt === "string" && /^(?:[0-9a-f]{2})+$/i.test(person.pin_salt);
}

/** Whether this page may compute proofs: WebCrypto exists only on https:// (or localhost) pages. */
export function canSign() {
  return Boolean(window.isSecureContext && globalThis.crypto?.subtle);
}

/**
 * Ask the server whether a signature holds, while the person waits: a wrong PIN is refused at
 * once. Authenticated like the sync: this device's token, else the page's session and CSRF
 * token. Anything but a clear answer means the server is out of reach.
 * @param {string} eventId
 * @param {Signer} signer
 * @returns {Promise<CheckAnswer>}
 */
export async function checkOnline(eventId, signer) {
  const head = (/** @type {string} */ name) =>
    document.querySelector(`meta[name="${name}"]`)?.getAttribute("content") ?? "";
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const [token, expiresAt] = await Promise.all([getMeta("token"), getMeta("token_expires_at")]);
  if (typeof token === "string" && token && !(typeof expiresAt === "number" && expiresAt <= Date.now())) {
    headers.Authorization = `Bearer ${token}`;
  } else if (pageUser()) {
    headers["X-CSRFToken"] = head("csrf-token");
  } else {
    return { outcome: "unreachable" }; // nothing to prove who asks: the push will verify
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CHECK_TIMEOUT_MS);
  try {
    const response = await fetch(`${head("shopfloor-api") || "/api/v1"}/signatures/check`, {
      method: "POST",
      headers,
      body: JSON.stringify({ event_id: eventId, signer }),
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
    });
    const body = await response.json().catch(() => null);
    if (!body || typeof body !== "object") return { outcome: "unreachable" }; // a captive portal, say
    if (response.status === 200 && body.verified === true) return { outcome: "verified", signer: body.signer };
    if (response.status === 422 && body.error === "signature_unverified" && typeof body.reason === "string") {
      return {
        outcome: "refused",
        reason: body.reason,
        message: typeof body.message === "string" ? body.message : "",
        attemptsLeft: typeof body.attempts_left === "number" ? body.attempts_left : undefined,
      };
    }
    if (response.status === 429) {
      const after = Number(response.headers.get("Retry-After"));
      return {
        outcome: "locked",
        message: typeof body.message === "string" ? body.message : "",
        retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : undefined,
      };
    }
    return { outcome: "unreachable" }; // 401/403 (sign in again, revoked), 5xx, an unknown route
  } catch {
    return { outcome: "unreachable" }; // no network, or our timeout
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Why a signature was refused at once, in the person's language, and that nothing was saved. The
 * server's own message comes first (translated there, with the tries left); the device's words
 * stand in when it sent none.
 * @param {Extract<CheckAnswer, {outcome: "refused" | "locked"}>} answer
 */
export function refusalText(answer) {
  return `${answer.message || ownReason(answer)} ${t("signer_nothing_saved")}`;
}

/** @param {Extract<CheckAnswer, {outcome: "refused" | "locked"}>} answer */
function ownReason(answer) {
  if (answer.outcome === "locked") {
    const minutes = answer.retryAfterMs ? Math.max(1, Math.ceil(answer.retryAfterMs / 60_000)) : 15;
    return t("signer_locked", { minutes });
  }
  const keys = /** @type {Record<string, string>} */ ({
    wrong_pin: "signer_wrong_pin",
    unknown_badge: "signer_unknown_badge_server",
    unknown_signer: "signer_unknown_badge_server",
    badge_revoked: "signer_badge_revoked",
    no_pin: "signer_no_pin_server",
    inactive: "signer_inactive",
  });
  return t(keys[answer.reason] ?? "signer_refused");
}

export { signatureState, signatureText } from "./signature-note.js";
