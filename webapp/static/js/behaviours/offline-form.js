// @ts-check
/**
 * Forms that record an event on the device instead of posting to the server:
 * <form data-offline-form data-event-type="bin.counted" data-event-v="1">. The form's
 * action stays the no-JavaScript fallback. Also the list of this device's unsent events
 * for a bin: <ul data-pending-for-bin="CODE">.
 */
import { t } from "../i18n.js";
import { onChange } from "../offline/db.js";
import { saveEvent, listUnsynced } from "../offline/outbox.js";
import { requestSync } from "../offline/sync.js";

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
      const buttons = submitButtons(form);
      for (const button of buttons) button.disabled = true;
      try {
        const record = await saveEvent(
          form.dataset.eventType ?? "",
          Number(form.dataset.eventV ?? 1),
          payloadOf(form),
        );
        form.dataset.lastEventId = record.id;
        setStatus(status, "saved", t("saved_on_device"));
        resetVisibleFields(form);
        requestSync("save");
      } catch (error) {
        setStatus(status, "error", error instanceof Error ? error.message : String(error));
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
  const stop = onChange((change) => {
    if (!form.isConnected) return stop();
    if (change.type !== "results") return;
    const result = change.results.find((/** @type {{id: string}} */ r) => r.id === form.dataset.lastEventId);
    if (result?.status === "quarantined") setStatus(status, "quarantined", t("quarantined"));
    else if (result) setStatus(status, "synced", t("synced"));
  });
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
    const records = code ? (await listUnsynced()).filter((r) => r.payload?.bin_code === code) : [];
    if (mine !== round) return; // a newer render is on its way
    list.replaceChildren(...records.map(pendingItem));
    list.setAttribute("data-count", String(records.length));
  };
  render();
  const stop = onChange((change) => {
    if (!list.isConnected) stop();
    else if (["saved", "results", "outbox"].includes(change.type)) render();
  });
}

/** i18n keys naming event types; any other type is looked up by its own name. */
const TYPE_LABELS = /** @type {Record<string, string>} */ ({ "bin.counted": "count" });

/**
 * One unsent event: "Count · 23 pcs · 14:05 · waiting to sync".
 * @param {import("../offline/outbox.js").OutboxRecord} record
 */
function pendingItem(record) {
  const item = document.createElement("li");
  item.setAttribute("data-event-id", record.id);
  item.setAttribute("data-state", "pending");
  const when = new Date(record.occurred_at);
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const quantity = record.payload?.quantity;
  item.append(t(TYPE_LABELS[record.type] ?? record.type), " · ");
  if (quantity !== undefined) item.append(`${quantity} ${t("pieces")}`, " · ");
  item.append(time, " · ", t("pending"));
  return item;
}
