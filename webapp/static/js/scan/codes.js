// @ts-check
/**
 * Bin codes and what a scan means, on the device: the same rules as webapp/domain/label_codes.py
 * (ISO/IEC 7064 MOD 37-2 check character) and webapp/domain/scanning.py. Pure functions; the
 * browser tests run them against the Python versions.
 */

export const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";
const MAX_CODE = 40;
const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
/** What mint() makes: B, five or more digits, the check character. */
const CODE_SHAPE_RE = /^B\d{5,}[0-9A-Z*]$/;
const BIN_PATH_RE = /^\/b\/([^/]+)\/?$/;

/** @param {string} text */
function weighted(text) {
  let value = 0;
  for (const char of text) value = (value * 2 + ALPHABET.indexOf(char)) % 37;
  return value;
}

/**
 * The MOD 37-2 check character for `body` (catches one wrong or two swapped characters).
 * @param {string} body
 */
export function checkChar(body) {
  return ALPHABET[(((1 - 2 * weighted(body)) % 37) + 37) % 37];
}

/**
 * Whether a code's last character is its correct check character (any case).
 * @param {string} code
 */
export function isValid(code) {
  const upper = code.toUpperCase();
  return upper.length >= 2 && [...upper].every((c) => ALPHABET.includes(c)) && weighted(upper) === 1;
}

/**
 * @typedef {{kind: "bin", code: string} | {kind: "foreign", host: string} |
 *   {kind: "wrong_check", code: string} | {kind: "not_a_bin"}} Scan
 */

/**
 * scheme://host[:port] of a URL, lower case, without the scheme's default port ("" if none).
 * @param {string} text
 */
export function originOf(text) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    return "";
  }
  if (!url.hostname) return "";
  return `${url.protocol}//${url.host}`.toLowerCase();
}

/**
 * A bare code as typed or scanned: spaces ignored, any case; only the shape of minted codes.
 * @param {string} text
 * @returns {Scan}
 */
export function readCode(text) {
  const code = text.replace(/\s+/g, "").toUpperCase();
  // Only the shape codes are minted in is a code: any text passes the check one time in 37.
  if (!CODE_SHAPE_RE.test(code) || code.length > MAX_CODE) return { kind: "not_a_bin" };
  return isValid(code) ? { kind: "bin", code } : { kind: "wrong_check", code };
}

/**
 * What a scan means: this server's …/b/<code> URL or a bare code opens a bin; another
 * server's URL is refused, naming its host.
 * @param {string} text
 * @param {Iterable<string>} ownOrigins this page's origin and PUBLIC_URL
 * @returns {Scan}
 */
export function readScan(text, ownOrigins) {
  const trimmed = text.trim();
  if (!URL_RE.test(trimmed)) return readCode(trimmed);
  const origin = originOf(trimmed);
  if (!origin) return { kind: "not_a_bin" };
  const own = new Set([...ownOrigins].filter(Boolean).map(originOf));
  if (!own.has(origin)) return { kind: "foreign", host: origin.split("://")[1] };
  const match = new URL(trimmed).pathname.match(BIN_PATH_RE);
  if (!match) return { kind: "not_a_bin" };
  let segment;
  try {
    segment = decodeURIComponent(match[1]);
  } catch {
    return { kind: "not_a_bin" };
  }
  const scan = readCode(segment);
  return scan.kind === "bin" ? scan : { kind: "not_a_bin" };
}
