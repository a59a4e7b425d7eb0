// @ts-check
/**
 * Remember who is using this device. Signed-in pages store their user as the cached
 * session, so the offline shells (rendered for nobody) can show the name and stamp events
 * with the right actor. Signing out forgets the session and the device token, never the
 * outbox: unsent events are pushed under the next user's token.
 */
import { getMeta, putMeta, deleteMeta, notify, onChange } from "../offline/db.js";
import { pageUser } from "../offline/outbox.js";

export const selector = "[data-user-name]";

/**
 * Fill an empty name slot on a page the server rendered without a user (an offline shell).
 * @param {Element} el
 */
export async function attach(el) {
  if (pageUser() || el.textContent?.trim()) return;
  el.textContent = displayName(await getMeta("session"));
}

/** Store this page's user, and catch the sign-out form before it leaves the page. */
export function start() {
  const user = pageUser();
  if (user) putMeta({ session: user }).then(() => notify({ type: "session" }));
  onChange((change) => {
    if (change.type === "session" && !pageUser()) {
      getMeta("session").then((session) => {
        for (const el of document.querySelectorAll("[data-user-name]")) el.textContent = displayName(session);
      });
    }
  });
  // Capture phase: this runs before htmx or the browser act on the form.
  document.addEventListener("submit", onSignOut, true);
}

/** @param {{username?: string, display_name?: string} | undefined} user */
function displayName(user) {
  return user?.display_name || user?.username || "";
}

/**
 * Forget the session first (a page being left may abort IndexedDB work), then submit again.
 * @param {SubmitEvent} event
 */
async function onSignOut(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-sign-out")) return;
  if (form.hasAttribute("data-sign-out-forgotten")) return; // second pass: let it go
  event.preventDefault();
  event.stopPropagation();
  const submitter = event.submitter;
  try {
    // Never let a stuck database keep someone from signing out.
    await Promise.race([forget(), new Promise((resolve) => setTimeout(resolve, 1500))]);
  } catch (error) {
    console.warn("shopfloor: could not clear the session", error);
  }
  form.setAttribute("data-sign-out-forgotten", "");
  form.requestSubmit(submitter);
}

async function forget() {
  await deleteMeta("token", "token_user_id", "token_expires_at", "session");
  // Cached pages carry the signed-out user's data and name: not for the next person.
  await globalThis.caches?.delete("shopfloor-pages");
  notify({ type: "session" });
}
