// @ts-check
/** The device token: registering the device and keeping the token the server gives. */
import { getMeta, putMeta, deleteMeta, deviceSecret } from "./db.js";
import { pageUser } from "./outbox.js";
import { SyncStop, call } from "./transport.js";

/**
 * On a 401, a signed-in page registers again and runs `work` once more.
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
 * A signed-in page registers when the token is missing, expired or another user's (a shift
 * change); an offline shell can only use the stored token.
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
    // The secret (or the last token) proves this is the device that registered the id.
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

/** @param {string} deviceId */
function deviceLabel(deviceId) {
  const platform = /** @type {any} */ (navigator).userAgentData?.platform || navigator.platform || "device";
  return `${platform} ${String(deviceId).slice(0, 8)}`;
}
