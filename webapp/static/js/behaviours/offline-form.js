// @ts-check
/**
 * Forms that record an event on the device instead of posting to the server:
 * <form data-offline-form data-event-type="bin.counted" data-event-v="1">. The form's
 * action stays the no-JavaScript fallback. Files from <input type="file" data-attachment="photo">
 * are downscaled, kept with the event in the same transaction and named in the payload
 * ("photos": [sha256…]); a drawing in [data-signature-pad] is kept too, as drawn. Also the list
 * of this device's records for a bin that the server does not fully have yet: <ul data-pending-for-bin="CODE">.
 */
import { t, typeLabel } from "../i18n.js";
import { onChange } from "../offline/db.js";
import { saveEvent, listOnDevice } from "../offline/outbox.js";
import { preparePhoto } from "../offline/photos.js";
import { unconfirmedOf } from "../offline/uploads.js";
import { signatureText } from "../offline/signature-note.js";
import { uuid7 } from "../offline/uuid7.js";

/** At most this many files per attachment field (the server's limit for photos). */
const MAX_FILES = 10;

export const selector = "form[data-offline-form], [data-pending-for-bin]";

/** @param {Element} el */
export function attach(el) {
  if (el instanceof HTMLFormElement && el.hasAttribute("data-offline-form")) bindForm(el);
  if (el.hasAttribute("data-pending-for-bin")) bindPendingList(el);
}

/** @param {HTMLFormElement} form */
function bindForm(form) {
  let saving = false;
  const status = form.querySelector("[data-save-status]");
  // Capture: at the form itself, capture listeners run before htmx's, which we stop.
  form.addEventListener(
    "submit",
    async (event) => {
      event.preventDefault();
      event.stopImmediatePropagation();
      if (saving) return; // a double tap must not record twice
      explainQuantity(form);
      if (!form.reportValidity()) return;
      saving = true;
      // At once: the previous record's "synced" must not stand for this one while it is saved.
      setStatus(status, "working", t("saving"));
      /** @type {typeof import("./signer.js") | null} */
      let signer = null;
      const buttons = submitButtons(form);
      for (const button of buttons) button.disabled = true;
      try {
        const pad = form.querySelector("[data-signature-pad]") ? await import("./signature-pad.js") : null;
        /** @type {Record<string, unknown>} */
        const payload = payloadOf(form);
        const attachments = await attachmentsOf(form, payload, status, pad);
        const type = form.dataset.eventType ?? "";
        // The id comes first: a second person's signature (signer.js) signs it with the content.
        const id = uuid7();
        const progress = (/** @type {string} */ text) => setStatus(status, "working", text);
        // The signing code loads only on a form a second person can confirm.
        signer = form.querySelector("[data-signer]") ? await import("./signer.js") : null;
        const confirmation = signer ? await signer.confirmSave(form, { id, type, payload, progress }) : null;
        if (confirmation) payload.signer = confirmation.signer;
        const record = await saveEvent(type, Number(form.dataset.eventV ?? 1), payload, attachments, {
          id,
          signature: confirmation?.signature,
        });
        form.dataset.lastEventId = record.id;
        form.dataset.lastAttachments = record.attachments.join(" ");
        setStatus(status, "saved", t("saved_on_device"));
        signer?.recordSaved(form, record);
        followSaved(form, payload);
        resetVisibleFields(form);
        pad?.clearSignature(form);
        // The sync loop pushes it: it hears the outbox's "saved" notice (sync.js).
      } catch (error) {
        // A confirmation that stopped the save says why beside the badge or the PIN.
        if (signer && error instanceof signer.SaveStopped) setStatus(status, "stopped", "");
        else setStatus(status, "error", error instanceof Error ? error.message : String(error));
      } finally {
        for (const button of buttons) button.disabled = false;
        saving = false;
      }
    },
    true,
  );
  form.addEventListener("input", (event) => {
    const field = event.target;
    if (field instanceof HTMLInputElement && field.name === "quantity") field.setCustomValidity("");
  });
  /**
   * The event is on the server: say "synced", or "photo pending" while its photos are not.
   * @param {string} eventId
   */
  const showSynced = async (eventId) => {
    const shas = (form.dataset.lastAttachments ?? "").split(" ").filter(Boolean);
    const waiting = (await unconfirmedOf(shas)).length > 0;
    if (eventId !== form.dataset.lastEventId) return; // saved again meanwhile
    setStatus(status, waiting ? "photo-pending" : "synced", t(waiting ? "photo_pending" : "synced"));
  };
  const stop = onChange((change) => {
    if (!form.isConnected) return stop();
    const last = form.dataset.lastEventId;
    if (!last) return;
    if (change.type === "blobs" && status?.getAttribute("data-state") === "photo-pending") showSynced(last);
    if (change.type !== "results") return;
    const result = change.results.find((/** @type {{id: string}} */ r) => r.id === last);
    if (result?.status === "quarantined") setStatus(status, "quarantined", t("quarantined"));
    else if (result) showSynced(last);
  });
}

/**
 * Downscale and hash the files picked in the form's [data-attachment] inputs, and name them
 * in the payload: data-attachment="photo" → payload.photos = [sha256…]; a drawn signature too (signature-pad.js).
 * @param {HTMLFormElement} form
 * @param {Record<string, unknown>} payload
 * @param {Element | null} status
 * @param {typeof import("./signature-pad.js") | null} pad
 * @returns {Promise<import("../offline/outbox.js").Attachment[]>}
 */
async function attachmentsOf(form, payload, status, pad) {
  /** @type {import("../offline/outbox.js").Attachment[]} */
  const all = pad ? await pad.attachmentsOf(form, payload) : [];
  for (const input of form.querySelectorAll("input[type=file][data-attachment]")) {
    if (!(input instanceof HTMLInputElement) || input.disabled || !input.files?.length) continue;
    setStatus(status, "working", t("preparing_photo"));
    const prepared = [];
    for (const file of [...input.files].slice(0, MAX_FILES)) prepared.push(await preparePhoto(file));
    const shas = [...new Set(prepared.map((p) => p.sha256))];
    payload[`${input.dataset.attachment}s`] = shas;
    all.push(...prepared);
  }
  return all;
}

/**
 * Say what a bad quantity means in the page's language (the browser's own message follows
 * the browser's language, which on a shared floor device is often not the person's).
 * @param {HTMLFormElement} form
 */
function explainQuantity(form) {
  const field = form.elements.namedItem("quantity");
  if (!(field instanceof HTMLInputElement)) return;
  field.setCustomValidity("");
  if (!field.validity.valid) field.setCustomValidity(t("invalid_quantity"));
}

/**
 * Enabled submit buttons of the form (those we disable while saving, then re-enable).
 * @param {HTMLFormElement} form
 * @returns {(HTMLButtonElement | HTMLInputElement)[]}
 */
function submitButtons(form) {
  return /** @type {(HTMLButtonElement | HTMLInputElement)[]} */ (
    [...form.elements].filter(
      (el) => (el instanceof HTMLButtonElement || el instanceof HTMLInputElement) && el.type === "submit" && !el.disabled,
    )
  );
}

/**
 * The event payload from the form's named fields: `data-payload="int"` (or "number") fields
 * become numbers, the rest strings; empty optional fields are left out, and so are the CSRF
 * token and fields marked `data-payload="omit"`.
 * @param {HTMLFormElement} form
 * @returns {Record<string, string | number>}
 */
function payloadOf(form) {
  /** @type {Record<string, string | number>} */
  const payload = {};
  for (const field of form.elements) {
    if (!(field instanceof HTMLInputElement || field instanceof HTMLSelectElement || field instanceof HTMLTextAreaElement)) {
      continue;
    }
    const kind = field.dataset.payload;
    if (!field.name || field.disabled || field.name === "csrf_token" || kind === "omit") continue;
    if (field instanceof HTMLInputElement) {
      if (["submit", "button", "reset", "image", "file"].includes(field.type)) continue;
      if ((field.type === "checkbox" || field.type === "radio") && !field.checked) continue;
    }
    const value = field.value.trim();
    if (value === "" && !field.required) continue;
    const number = kind === "int" ? Number.parseInt(value, 10) : kind === "number" ? Number(value) : NaN;
    payload[field.name] = Number.isFinite(number) ? number : value;
  }
  return payload;
}

/**
 * What the page believed is now what this device recorded: <input data-follows="to_location">
 * takes the saved payload's to_location, so a second move from the same page starts where the
 * first one left the bin (and does not raise a conflict with this device's own move).
 * @param {HTMLFormElement} form
 * @param {Record<string, unknown>} payload
 */
function followSaved(form, payload) {
  for (const field of form.querySelectorAll("input[data-follows]")) {
    const value = payload[/** @type {HTMLInputElement} */ (field).dataset.follows ?? ""];
    if (value !== undefined) /** @type {HTMLInputElement} */ (field).value = String(value);
  }
}

/**
 * Clear what the person typed, keeping hidden fields (the bin code) for the next count.
 * @param {HTMLFormElement} form
 */
function resetVisibleFields(form) {
  for (const field of form.elements) {
    if (field instanceof HTMLInputElement) {
      if (["hidden", "submit", "button", "reset", "image"].includes(field.type)) continue;
      if (field.type === "checkbox" || field.type === "radio") field.checked = field.defaultChecked;
      else field.value = field.defaultValue;
    } else if (field instanceof HTMLTextAreaElement) {
      field.value = field.defaultValue;
    } else if (field instanceof HTMLSelectElement) {
      for (const option of field.options) option.selected = option.defaultSelected;
    }
  }
  const first = form.querySelector("[autofocus]");
  if (first instanceof HTMLElement) first.focus(); // ready for the next scan
}

/**
 * @param {Element | null} el
 * @param {string} state saved | synced | quarantined | error
 * @param {string} text
 */
function setStatus(el, state, text) {
  if (!el) return;
  el.textContent = text;
  el.setAttribute("data-state", state);
}

/** @param {Element} list */
function bindPendingList(list) {
  let round = 0;
  const render = async () => {
    const mine = ++round;
    const code = list.getAttribute("data-pending-for-bin");
    const items = code ? await listOnDevice({ binCode: code }) : [];
    if (mine !== round) return; // a newer render is on its way
    list.replaceChildren(...items.map(pendingItem));
    list.setAttribute("data-count", String(items.length));
  };
  render();
  const stop = onChange((change) => {
    if (!list.isConnected) stop();
    else if (["saved", "results", "outbox", "blobs"].includes(change.type)) render();
  });
}

/** i18n key of the text of each state a record in the pending list can be in. */
const STATE_TEXT = /** @type {Record<string, string>} */ ({
  pending: "pending",
  "photo-pending": "photo_pending",
  "photo-rejected": "photo_rejected",
});

/**
 * One record the server does not fully have: "Count · 23 pcs · 14:05 · waiting to sync",
 * "Move · → L-OP20 · 14:06 · waiting to sync"
 * (or "photo pending" once the event is synced and its photos are not).
 * @param {import("../offline/outbox.js").OnDevice} item
 */
function pendingItem({ record, state }) {
  const item = document.createElement("li");
  item.setAttribute("data-event-id", record.id);
  item.setAttribute("data-state", state);
  const when = new Date(record.occurred_at);
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const quantity = record.payload?.quantity;
  const destination = record.payload?.to_location;
  item.append(typeLabel(record.type), " · ");
  if (destination !== undefined) item.append(`→ ${destination}`, " · ");
  if (quantity !== undefined) item.append(`${quantity} ${t("pieces")}`, " · ");
  item.append(time, " · ", t(STATE_TEXT[state] ?? state));
  const confirmed = signatureText(record);
  if (confirmed) item.append(" · ", confirmed);
  return item;
}
