// @ts-check
/**
 * The offline bin shell (<main data-offline-bin>), served by the worker for /b/<code> when
 * the server cannot be reached: fill in the bin from the pulled data on this device.
 * Counting works even for a bin the device has never heard of. Moving is offered to the roles
 * that move bins (data-move-roles, checked against the person signed in on this device), with
 * the destinations pulled onto the device and the bin's pulled place and version as what the
 * device saw.
 */
import { getMeta, notify, onChange } from "../offline/db.js";
import { getBin, listLocations, listOpenWork } from "../offline/pull.js";
import { pageLanguage, t } from "../i18n.js";

export const selector = "[data-offline-bin]";

/** @param {Element} main */
export function attach(main) {
  const code = binCode();
  for (const el of main.querySelectorAll('[data-bin-field="code"]')) el.textContent = code;
  for (const input of main.querySelectorAll('input[name="bin_code"]')) {
    /** @type {HTMLInputElement} */ (input).value = code;
  }
  for (const list of main.querySelectorAll("[data-pending-for-bin]")) {
    list.setAttribute("data-pending-for-bin", code);
  }
  notify({ type: "outbox" }, { localOnly: true }); // pending lists re-read their bin code
  show(main, code);
  const stop = onChange((change) => {
    if (!main.isConnected) stop();
    else if (change.type === "pulled" || change.type === "session") show(main, code);
  });
}

/** The bin code from /b/<code> (or ?code= when the shell is opened directly). */
function binCode() {
  const match = location.pathname.match(/^\/b\/([^/]+?)(?:\/transfer)?\/?$/);
  if (!match) return new URLSearchParams(location.search).get("code") ?? "";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1]; // malformed escapes: show it as typed
  }
}

/**
 * @param {Element} main
 * @param {string} code
 */
async function show(main, code) {
  const bin = await getBin(code);
  if (bin) {
    for (const el of main.querySelectorAll("[data-bin-field]")) {
      const field = el.getAttribute("data-bin-field") ?? "";
      if (field !== "code") el.textContent = format(field, bin[field]);
    }
  }
  const unknown = main.querySelector("[data-bin-unknown]");
  if (unknown instanceof HTMLElement) unknown.hidden = Boolean(bin);
  main.toggleAttribute("data-bin-disputed", Boolean(bin?.disputed));
  main.toggleAttribute("data-bin-retired", Boolean(bin?.retired));
  const retired = main.querySelector("p[data-bin-retired]");
  if (retired instanceof HTMLElement) retired.hidden = !bin?.retired;
  await Promise.all([offerCount(main), offerMove(main, bin), showOpenWork(main, code)]);
}

/**
 * Show the count form to someone whose role counts bins (data-count-roles).
 * @param {Element} main
 */
async function offerCount(main) {
  await offerTo(main, "[data-count-section]", "count-roles", "count");
}

/**
 * Show a form section and its action button only to the roles it names, as the server's bin page
 * does; the person is the one signed in on this device. Return the section when it is shown.
 * @param {Element} main
 * @param {string} selector the section
 * @param {string} roles its data-… attribute listing the roles
 * @param {string} action the data-action of its button
 * @returns {Promise<HTMLElement | null>}
 */
async function offerTo(main, selector, roles, action) {
  const section = main.querySelector(selector);
  if (!(section instanceof HTMLElement)) return null;
  const session = await getMeta("session");
  section.hidden = !(section.getAttribute(`data-${roles}`) ?? "").split(" ").includes(session?.role);
  const button = main.querySelector(`[data-action="${action}"]`);
  if (button instanceof HTMLElement) button.hidden = section.hidden;
  return section.hidden ? null : section;
}

/**
 * List the bin's open transfer slips and inspections from the pulled data.
 * @param {Element} main
 * @param {string} code
 */
async function showOpenWork(main, code) {
  const transfersList = main.querySelector("[data-open-transfers]");
  const inspectionsList = main.querySelector("[data-open-inspections]");
  const none = main.querySelector("[data-open-none]");
  if (!transfersList || !inspectionsList) return;
  const [{ transfers, inspections }, places] = await Promise.all([listOpenWork(code), listLocations()]);
  const chinese = (pageLanguage() ?? "").startsWith("zh");
  const placeName = (/** @type {string | null} */ placeCode) => {
    const place = places.find((p) => p.code === placeCode);
    return (place && (chinese ? place.name_zh : place.name_en)) || placeCode || "—";
  };
  transfersList.replaceChildren(
    ...transfers.map((slip) => {
      const item = document.createElement("li");
      const head = document.createElement("strong");
      head.textContent = `${t("slip")} ${slip.number}`;
      item.append(head, ` · ${t(`transfer_kind_${slip.kind}`)}: ${placeName(slip.from_location)} → ` +
        `${placeName(slip.to_location)}, ${t("n_pieces", { n: slip.quantity })}`);
      return item;
    }),
  );
  inspectionsList.replaceChildren(
    ...inspections.map((inspection) => {
      const item = document.createElement("li");
      const head = document.createElement("strong");
      head.textContent = t(`inspection_kind_${inspection.kind}`);
      let text = ` · ${t("work_order")} ${inspection.work_order}`;
      if (inspection.sample_size) {
        text += ` · ${t("sample_of", { n: inspection.sample_size, lot: inspection.lot_size ?? "—", aql: inspection.aql ?? "—" })}`;
      }
      item.append(head, text);
      return item;
    }),
  );
  if (none instanceof HTMLElement) none.hidden = transfers.length + inspections.length > 0;
}

/** The order destinations are listed in, by kind of place. */
const KINDS = ["operation", "waiting", "warehouse"];

/**
 * Show the move form to someone whose role moves bins, with what the device knows.
 * @param {Element} main
 * @param {Record<string, any> | undefined} bin
 */
async function offerMove(main, bin) {
  const section = await offerTo(main, "[data-move-section]", "move-roles", "move");
  if (!section) return;
  const form = section.querySelector("form");
  if (!form) return;
  const seen = form.querySelector('input[name="seen_location"]');
  const version = form.querySelector('input[name="seen_version"]');
  // A form the person already used keeps what it recorded (data-follows) rather than stale pulled data.
  if (seen instanceof HTMLInputElement && !form.dataset.lastEventId) seen.value = bin?.location_code ?? "";
  if (version instanceof HTMLInputElement) version.value = String(bin?.version ?? 0);
  const select = form.querySelector("select[data-destinations]");
  if (select instanceof HTMLSelectElement) fillDestinations(select, await listLocations(), bin?.location_code);
}

/**
 * Replace the destination options by the pulled locations, grouped by kind, named in the page's language.
 * @param {HTMLSelectElement} select
 * @param {Record<string, any>[]} places
 * @param {string | undefined} here where the bin is: not a destination
 */
function fillDestinations(select, places, here) {
  const chosen = select.value;
  const chinese = (pageLanguage() ?? "").startsWith("zh");
  const groups = KINDS.map((kind) => {
    const group = document.createElement("optgroup");
    group.label = t(`kind_${kind}`);
    const members = places
      .filter((place) => place.kind === kind && place.code !== here)
      .sort((a, b) => String(a.code).localeCompare(String(b.code)));
    for (const place of members) {
      const name = (chinese ? place.name_zh : place.name_en) || place.code;
      group.append(new Option(name, place.code, false, place.code === chosen));
    }
    return group;
  }).filter((group) => group.children.length > 0);
  const placeholder = select.options[0]?.value === "" ? select.options[0] : new Option("", "");
  select.replaceChildren(placeholder, ...groups);
}

/**
 * @param {string} field
 * @param {unknown} value
 */
function format(field, value) {
  if (value == null) return "";
  if (field === "location_since") {
    const when = new Date(/** @type {string | number} */ (value));
    if (!Number.isNaN(when.getTime())) return when.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
  }
  return String(value);
}
