// @ts-check
/** UUIDv7 (RFC 9562): 48-bit Unix ms timestamp, then random bits; sorts by creation time. */

/**
 * Make a UUIDv7 string.
 * @param {number} [now] epoch milliseconds (for tests)
 * @returns {string}
 */
export function uuid7(now = Date.now()) {
  const b = crypto.getRandomValues(new Uint8Array(16));
  // Bytes 0-5: the timestamp, big-endian. Division, not bit shifts: JS shifts are 32-bit.
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
