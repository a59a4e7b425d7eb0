// @ts-check
/**
 * The sync panel (page /sync, also offline): what this device holds that the server has not confirmed.
 * The unsynced count, last sync and "sync now" belong to sync-status.
 */
import { t, typeLabel, flagLabel, pageLanguage } from "../i18n.js";
import { getMeta, onChange } from "../offline/db.js";
import { listOnDevice } from "../offline/outbox.js";
import { countUnconfirmedBlobs } from "../offline/uploads.js";
import { buildExport } from "../offline/export.js";
import { pageBuild } from "../offline/build.js";
import { signatureText } from "../offline/signature-note.js";
import { toast } from "./sync-status.js";

export const selector = "[data-sync-panel]";

const REFRESH_ON = ["saved", "results", "outbox", "blobs", "synced", "session"];

/** @param {Element} panel */
export function attach(panel) {
  const hint = panel.querySelector("[data-ios-install-hint]");
  if (hint instanceof HTMLElement && needsInstallHint()) hint.hidden = false;
  let round = 0;
  const render = async () => {
    const mine = ++round;
    const [records, photos, deviceId, storage] = await Promise.all([
      listOnDevice({ quarantined: true }),
      countUnconfirmedBlobs(),
      getMeta("device_id"),
      storageUsed(),
    ]);
    if (mine !== round) return; // a newer render is on its way
    for (const el of panel.querySelectorAll("[data-pending-photos]")) el.textContent = String(photos);
    for (const el of panel.querySelectorAll("[data-device-id]")) el.textContent = String(deviceId ?? "—");
    for (const el of panel.querySelectorAll("[data-storage-used]")) el.textContent = storage;
    for (const list of panel.querySelectorAll("[data-outbox-list]")) list.replaceChildren(...records.map(row));
    for (const el of panel.querySelectorAll("[data-outbox-empty]")) {
      if (el instanceof HTMLElement) el.hidden = records.length > 0;
    }
    panel.setAttribute("data-records", String(records.length));
  };
  render();
  const stop = onChange((change) => {
    if (!panel.isConnected) stop();
    else if (REFRESH_ON.includes(change.type)) render();
  });
}

export function start() {
  document.addEventListener("click", async (event) => {
    const button = /** @type {Element} */ (event.target).closest?.("[data-export-unsynced]");
    if (!button || button.hasAttribute("aria-busy")) return;
    button.setAttribute("aria-busy", "true");
    try {
      const file = await buildExport({ build: pageBuild() });
      if (!file) {
        toast(t("nothing_to_export"));
        return;
      }
      download(file.filename, JSON.stringify(file.contents));
      toast(t("export_done"));
    } catch (error) {
      console.warn("shopfloor: export failed", error);
      toast(error instanceof Error ? error.message : String(error));
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
}

/**
 * @param {string} filename
 * @param {string} text
 */
function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** @param {import("../offline/outbox.js").OnDevice} item */
function row({ record, state, code }) {
  const tr = document.createElement("tr");
  tr.setAttribute("data-event-id", record.id);
  tr.setAttribute("data-seq", String(record.seq));
  tr.setAttribute("data-state", state);

  const what = document.createElement("td");
  what.textContent = `${typeLabel(record.type)} #${record.seq}`;
  const bin = record.payload?.bin_code;
  if (typeof bin === "string" && bin) {
    const span = document.createElement("span");
    span.className = "code";
    span.textContent = bin;
    what.append(" · ", span);
  }

  const saved = document.createElement("td");
  const when = new Date(record.occurred_at);
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  saved.append(time);

  const how = document.createElement("td");
  how.textContent = t(STATE_TEXT[state]);
  if (state === "quarantined" && code) {
    const reason = document.createElement("span");
    reason.className = "tag warn";
    reason.dataset.flag = code;
    reason.textContent = flagLabel(code);
    how.append(" · ", reason);
  }
  const confirmed = signatureText(record);
  if (confirmed) how.append(" · ", confirmed);
  tr.append(what, saved, how);
  return tr;
}

const STATE_TEXT = /** @type {Record<import("../offline/outbox.js").DeviceState, string>} */ ({
  pending: "pending",
  quarantined: "quarantined",
  "photo-pending": "photo_pending",
  "photo-rejected": "photo_rejected",
});

async function storageUsed() {
  try {
    const estimate = await navigator.storage?.estimate?.();
    if (!estimate || typeof estimate.usage !== "number" || typeof estimate.quota !== "number") return "—";
    return t("storage_used_of", { used: bytes(estimate.usage), quota: bytes(estimate.quota) });
  } catch {
    return "—";
  }
}

/** @param {number} n bytes */
function bytes(n) {
  const units = /** @type {const} */ (["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"]);
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return new Intl.NumberFormat(pageLanguage(), {
    style: "unit",
    unit: units[i],
    unitDisplay: "short",
    maximumFractionDigits: i === 0 ? 0 : 1,
  }).format(n);
}

/** iOS Safari in a tab may delete this site's data after a week without a visit. */
function needsInstallHint() {
  const nav = /** @type {Navigator & {standalone?: boolean}} */ (navigator);
  const ua = nav.userAgent;
  // iPadOS presents itself as a Mac.
  const ios = /iPhone|iPad|iPod/.test(ua) || (nav.platform === "MacIntel" && nav.maxTouchPoints > 1);
  const safari = /Safari\//.test(ua) && !/CriOS|FxiOS|EdgiOS|OPiOS|GSA\//.test(ua);
  const standalone = nav.standalone === true || matchMedia("(display-mode: standalone)").matches;
  return ios && safari && !standalone;
}
