// @ts-check
/**
 * The device token: registering this device with the server (its id, its secret and the last
 * token), keeping the token the server gives in the `meta` store, and registering again when it
 * expires, is refused or belongs to another user. A registration the server refuses with 409
 * (device_taken: the id is another device's) ends as a SyncStop "revoked" with `taken`.
 */
import { getMeta, putMeta, deleteMeta, deviceSecret } from "./db.js";
import { pageUser } from "./outbox.js";
import { SyncStop, call } from "./transport.js";

/**
 * Run `work` with the device token; when the server refuses the token (401) on a signed-in page,
 * register again and run `work` once more: the cookie session can always get a fresh token.
 * @template T
 * @param {string} deviceId
 * @param {(token: string) => Promise<T>} work
 * @returns {Promise<T>}
 */
export async function withDeviceToken(deviceId, work) {
  for (let attempt = 0; ; attempt++) {
    const token = await deviceToken(deviceId, attempt > 0);
    try {
      return await work(token);
    } catch (error) {
      if (error instanceof SyncStop && error.outcome === "auth" && attempt === 0 && pageUser()) {
        await deleteMeta("token");
        continue;
      }
      throw error;
    }
  }
}

/**
 * The device token to push with. A signed-in page (re)registers the device when there is
 * no token, it has expired, or it belongs to another user (a shift change); an offline
 * shell has no session, so it can only use the stored token.
 * @param {string} deviceId
 * @param {boolean} renew
 * @returns {Promise<string>}
 */
async function deviceToken(deviceId, renew) {
  const user = pageUser();
  const [token, tokenUserId, expiresAt] = await Promise.all([
    getMeta("token"),
    getMeta("token_user_id"),
    getMeta("token_expires_at"),
  ]);
  const expired = typeof expiresAt === "number" && expiresAt <= Date.now();
  if (user && (renew || !token || tokenUserId !== user.id || expired)) {
    // The secret (or the last token the server gave) proves this is the device that registered the id.
    const device = await call("POST", "/devices", {
      body: {
        device_id: deviceId,
        device_secret: await deviceSecret(),
        ...(typeof token === "string" && token ? { token } : {}),
        label: deviceLabel(deviceId),
      },
      session: true,
    });
    if (typeof device.token !== "string") throw new SyncStop("offline");
    const expires = typeof device.expires_at === "number" ? device.expires_at : Date.parse(device.expires_at);
    await putMeta({
      token: device.token,
      token_user_id: device.user?.id ?? user.id,
      token_expires_at: Number.isFinite(expires) ? expires : null,
    });
    return device.token;
  }
  if (!token) throw new SyncStop("auth", { unasked: true });
  return token;
}

/**
 * A name for this device in the office's device list.
 * @param {string} deviceId
 */
function deviceLabel(deviceId) {
  const platform = /** @type {any} */ (navigator).userAgentData?.platform || navigator.platform || "device";
  return `${platform} ${String(deviceId).slice(0, 8)}`;
}
