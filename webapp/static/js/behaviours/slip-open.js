// @ts-check
/**
 * "Open a transfer slip" (form[data-slip-opener], transfers/_open.html) on the bin page and in the
 * offline bin shell. The device makes the slip's id and nothing else, refuses before saving what
 * §3.3 forbids (similar parts, one similar-specification group, on one slip, or sent to one place
 * within the plant's interval: 30 minutes unless the setting mixup_minutes says otherwise, judged
 * against the open slips pulled from the server and those opened on this device), saves
 * `transfer.opened` in the outbox, and opens the slip to be signed (the slip shell when offline).
 * The server page fills the form in; in the shell (rendered for nobody) it is filled from the data
 * pulled onto the device and shown to the roles in data-move-roles. Before the first piece of the
 * bin's order passed at the operation it leaves, it warns (or refuses: setting first_piece_gate).
 */
import { getMeta, openShopfloorDB } from "../offline/db.js";
import { saveEvent } from "../offline/outbox.js";
import { MIXUP_MINUTES, say, transferRecords } from "../offline/slips.js";
import { uuid7 } from "../offline/uuid7.js";
import { readHere } from "../scan/route.js";
import { pageLanguage, t } from "../i18n.js";

export const selector = "form[data-slip-opener]";

/** A slip's bins at most (the server's limit). */
const MAX_BINS = 20;

/**
 * What the device knows that the form needs.
 * @typedef {object} Reference
 * @property {Map<string, Record<string, any>>} bins by code, those asked for
 * @property {Map<string, Record<string, any>>} products by code
 * @property {Record<string, any>[]} locations
 * @property {Record<string, any>[]} operations
 * @property {Record<string, any>[]} transfers the open slips pulled
 * @property {number} minutes the §3.3 interval
 * @property {Map<string, Record<string, any>>} orders work orders by number, with their quality summary
 */

/** @param {Element} form */
export function attach(form) {
  if (form instanceof HTMLFormElement) new SlipOpener(form).start();
}

/**
 * @param {string[]} codes
 * @returns {Promise<Reference>}
 */
async function reference(codes) {
  const db = await openShopfloorDB();
  const [bins, products, locations, operations, transfers, setting, orders] = await Promise.all([
    Promise.all(codes.map((code) => db.get("bins", code))),
    db.getAll("products"),
    db.getAll("locations"),
    db.getAll("operations"),
    db.getAll("transfers"),
    db.get("settings", "mixup_minutes"),
    db.getAll("work_orders"),
  ]);
  const minutes = Number.parseInt(String(setting?.value ?? ""), 10);
  return {
    bins: new Map(bins.filter(Boolean).map((bin) => [bin.code, bin])),
    products: new Map(products.map((product) => [product.code, product])),
    locations,
    operations,
    transfers,
    minutes: minutes > 0 ? minutes : MIXUP_MINUTES,
    orders: new Map(orders.map((order) => [order.number, order])),
  };
}

/**
 * A thing's name in the page's language.
 * @param {Record<string, any> | undefined} thing
 */
function localName(thing) {
  if (!thing) return "";
  return ((pageLanguage() ?? "").startsWith("zh") ? thing.name_zh : thing.name_en) || thing.code || "";
}

/**
 * The operation after the one the bin is at, on its part's route (undefined at the route's end or off it).
 * @param {Record<string, any> | undefined} bin
 * @param {Reference} ref
 */
function nextOperation(bin, ref) {
  const route = ref.products.get(bin?.product_code)?.route ?? [];
  const here = ref.locations.find((place) => place.code === bin?.location_code)?.operation;
  const at = route.indexOf(here);
  return at >= 0 ? route[at + 1] : undefined;
}

/**
 * Where a slip goes, as one key to compare: "op:<operation code>", "area:waiting", "area:warehouse".
 * @param {Record<string, any>} to the payload's `to`
 * @param {Record<string, any> | undefined} bin its first bin as pulled (for "next")
 * @param {Reference} ref
 */
function destinationKey(to, bin, ref) {
  if (to.area) return `area:${to.area}`;
  if (to.operation) return `op:${to.operation}`;
  const next = to.next ? nextOperation(bin, ref) : undefined;
  return next ? `op:${next}` : "";
}

/**
 * The same key for a place the server named.
 * @param {string | null | undefined} code
 * @param {Reference} ref
 */
function placeKey(code, ref) {
  const place = ref.locations.find((p) => p.code === code);
  if (!place) return "";
  return place.kind === "operation" ? `op:${place.operation}` : `area:${place.kind}`;
}

class SlipOpener {
  /** @param {HTMLFormElement} form */
  constructor(form) {
    this.form = form;
    this.section = /** @type {HTMLElement | null} */ (form.closest("section"));
    this.status = /** @type {HTMLElement | null} */ (form.querySelector("[data-save-status]"));
    this.select = /** @type {HTMLSelectElement} */ (form.elements.namedItem("to"));
    this.saving = false;
    this.warnedFirstPiece = false; // "warn": the first tap says so, the next saves
  }

  start() {
    const { form } = this;
    form.addEventListener("submit", (event) => this.submit(event), true);
    form.addEventListener("input", () => this.problem(""));
    // A scanner types a code and Enter: the next bin, not "open the slip".
    const extra = form.elements.namedItem("extra_bins");
    if (extra instanceof HTMLInputElement) {
      extra.addEventListener("keydown", (event) => {
        if (event.key !== "Enter") return;
        event.preventDefault();
        if (extra.value.trim()) extra.value = `${extra.value.trim()} `;
      });
    }
    if (!this.code()) return; // a shell before offline-bin.js filled in the bin: nothing to open
    const filled = this.section?.hasAttribute("data-move-roles") ? this.fillFromDevice() : Promise.resolve();
    filled.finally(() => (form.dataset.openerReady = "")); // for people and tests: it saves on the device now
  }

  /** The bin of the page. */
  code() {
    const input = this.form.elements.namedItem("bin_code");
    return input instanceof HTMLInputElement ? input.value.trim().toUpperCase() : "";
  }

  /** The offline bin shell: offer the form to whoever may open slips, filled from the pulled data. */
  async fillFromDevice() {
    const { form, section } = this;
    const session = await getMeta("session").catch(() => null);
    if (!section) return;
    section.hidden = !(section.dataset.moveRoles ?? "").split(" ").includes(session?.role);
    if (section.hidden) return;
    const code = this.code();
    const ref = await reference([code]);
    const bin = ref.bins.get(code);
    const quantity = /** @type {HTMLInputElement} */ (form.elements.namedItem("quantity"));
    if (!quantity.value && bin?.quantity != null) quantity.value = String(bin.quantity);
    const route = ref.products.get(bin?.product_code)?.route ?? [];
    const here = ref.locations.find((place) => place.code === bin?.location_code)?.operation;
    const next = nextOperation(bin, ref);
    const operation = (/** @type {string} */ opCode) => localName(ref.operations.find((o) => o.code === opCode)) || opCode;
    /** @type {(HTMLOptionElement | HTMLOptGroupElement)[]} */
    const options = [this.select.options[0] ?? new Option("", "")];
    if (next) {
      const option = new Option(`${say("next_operation")}: ${operation(next)}`, "next", true, true);
      option.dataset.operation = next;
      options.push(option);
    }
    const others = [...new Set(ref.locations.filter((p) => p.kind === "operation" && p.operation).map((p) => p.operation))]
      .filter((opCode) => opCode !== here && opCode !== next)
      .sort((a, b) => {
        const order = (/** @type {string} */ c) => (route.includes(c) ? route.indexOf(c) : route.length);
        return order(a) - order(b) || a.localeCompare(b);
      });
    if (others.length) {
      const group = document.createElement("optgroup");
      group.label = say("another_operation");
      group.append(...others.map((opCode) => new Option(operation(opCode), `op:${opCode}`)));
      options.push(group);
    }
    for (const kind of ["waiting", "warehouse"]) {
      if (ref.locations.some((place) => place.kind === kind)) options.push(new Option(say(`kind_${kind}`), kind));
    }
    this.select.replaceChildren(...options);
    // §3.1: leaving the route's first operation (cutting) needs the material's issue slip.
    const issue = /** @type {HTMLElement | null} */ (form.querySelector("[data-issue-slip]"));
    const issueInput = /** @type {HTMLInputElement} */ (form.elements.namedItem("issue_slip"));
    const leavesFirst = Boolean(here) && route[0] === here;
    if (issue) issue.hidden = !leavesFirst;
    issueInput.disabled = !leavesFirst;
    issueInput.required = leavesFirst;
  }

  /** @param {Event} event */
  async submit(event) {
    event.preventDefault();
    event.stopImmediatePropagation();
    if (this.saving) return; // a double tap must not open two slips
    const { form } = this;
    const quantity = /** @type {HTMLInputElement} */ (form.elements.namedItem("quantity"));
    quantity.setCustomValidity(quantity.validity.valid || quantity.validity.customError ? "" : say("invalid_quantity"));
    if (!form.reportValidity()) {
      quantity.setCustomValidity("");
      return;
    }
    this.saving = true;
    this.setStatus("working", t("saving"));
    try {
      const codes = this.binCodes();
      const to = this.destination();
      const ref = await reference(codes);
      const stop = this.mixup(codes, to, ref, await transferRecords());
      if (stop) throw new Stop(stop);
      const gate = this.firstPiece(codes, ref);
      if (gate) throw new Stop(gate);
      const text = (/** @type {string} */ name) => {
        const field = form.elements.namedItem(name);
        return field instanceof HTMLInputElement && !field.disabled ? field.value.trim() : "";
      };
      /** @type {Record<string, unknown>} */
      const payload = { transfer_id: uuid7(), bin_codes: codes, to, quantity: Number.parseInt(quantity.value, 10) };
      if (text("part")) payload.part = text("part");
      if (text("issue_slip")) payload.issue_slip = text("issue_slip");
      const record = await saveEvent("transfer.opened", 1, payload);
      this.setStatus("saved", t("saved_on_device"));
      location.assign(`/slips/${encodeURIComponent(String(record.payload.transfer_id))}`);
    } catch (error) {
      if (error instanceof Stop) {
        this.setStatus("", "");
        this.problem(error.message);
      } else {
        this.setStatus("error", error instanceof Error ? error.message : String(error));
      }
    } finally {
      this.saving = false;
    }
  }

  /** The page's bin, then the codes typed or scanned beside it, each once; a wrong one stops the save. */
  binCodes() {
    const typed = /** @type {HTMLInputElement | null} */ (this.form.elements.namedItem("extra_bins"));
    const codes = [this.code()];
    for (const text of (typed?.value ?? "").split(/[\s,;，、]+/).filter(Boolean)) {
      const scan = readHere(text);
      if (scan.kind !== "bin") throw new Stop(say("not_a_bin", { code: text }));
      if (!codes.includes(scan.code)) codes.push(scan.code);
    }
    if (codes.length > MAX_BINS) throw new Stop(say("too_many_bins"));
    return codes;
  }

  /** The payload's `to` for the select's choice. */
  destination() {
    const value = this.select.value;
    if (value === "next") return { next: true };
    if (value === "waiting" || value === "warehouse") return { area: value };
    return { operation: value.replace(/^op:/, "") };
  }

  /**
   * The first piece of the bin's order at the operation it leaves has not passed: "block" refuses the
   * slip (a director overrides at the office), "warn" says so once and saves on the next tap. The server
   * flags first_piece_pending either way.
   * @param {string[]} codes
   * @param {Reference} ref
   */
  firstPiece(codes, ref) {
    const bin = ref.bins.get(codes[0]);
    const quality = bin ? ref.orders.get(bin.work_order)?.quality : null;
    const place = bin ? ref.locations.find((loc) => loc.code === bin.location_code) : null;
    if (!quality?.first_piece_required || !place?.operation) return "";
    if ((quality.first_piece ?? {})[place.operation] === "passed") return "";
    const operation = localName(ref.operations.find((op) => op.code === place.operation)) || place.operation;
    if (quality.first_piece_gate === "block") return say("first_piece_block", { operation });
    if (this.warnedFirstPiece) return "";
    this.warnedFirstPiece = true;
    return say("first_piece_warn", { operation });
  }

  /**
   * Why §3.3 forbids this slip, naming the other part, or "" when it does not. The server judges
   * again at sync (it flags mixup_risk for the office); this stops the clerk before it happens.
   * @param {string[]} codes
   * @param {Record<string, any>} to
   * @param {Reference} ref
   * @param {import("../offline/outbox.js").OutboxRecord[]} records this device's slip records
   */
  mixup(codes, to, ref, records) {
    const { form } = this;
    const pageProduct = form.dataset.product || undefined;
    const partOf = (/** @type {string} */ code) =>
      ref.bins.get(code)?.product_code ?? (code === codes[0] ? pageProduct : undefined);
    const groupOf = (/** @type {string | undefined} */ part) =>
      (part && (ref.products.get(part)?.spec_group ?? (part === pageProduct ? form.dataset.specGroup : ""))) || "";
    const named = (/** @type {string} */ part) => `${part} ${localName(ref.products.get(part))}`.trim();
    const part = partOf(codes[0]);
    if (!part) return ""; // a bin this device knows nothing of: the server judges it
    const group = groupOf(part);
    for (const code of codes.slice(1)) {
      const other = partOf(code);
      if (!other || other === part) continue;
      if (group && groupOf(other) === group) return say("mixup_one_slip", { part: named(part), other: named(other) });
      return say("other_part", { code, other: named(other), part: named(part) });
    }
    if (!group) return "";
    const option = this.select.selectedOptions[0];
    const here = to.next && option?.dataset.operation ? `op:${option.dataset.operation}` : destinationKey(to, ref.bins.get(codes[0]), ref);
    if (!here) return "";
    const refused = new Set(records.filter((r) => r.type === "transfer.refused").map((r) => r.payload.transfer_id));
    /** @type {{part?: string, place: string, at: number}[]} */
    const sent = ref.transfers
      .filter((slip) => slip.status !== "refused")
      .map((slip) => ({ part: slip.product_code, place: placeKey(slip.to_location, ref), at: Date.parse(slip.created_at) }));
    for (const record of records) {
      const p = record.payload;
      if (record.type !== "transfer.opened" || refused.has(p.transfer_id) || !Array.isArray(p.bin_codes)) continue;
      const first = ref.bins.get(p.bin_codes[0]);
      sent.push({ part: first?.product_code, place: destinationKey(/** @type {any} */ (p.to) ?? {}, first, ref), at: record.occurred_at });
    }
    const now = Date.now();
    const window = ref.minutes * 60_000;
    for (const other of sent) {
      if (!other.part || other.part === part || other.place !== here || groupOf(other.part) !== group) continue;
      if (!(Math.abs(now - other.at) <= window)) continue;
      const ago = Math.max(0, Math.round((now - other.at) / 60_000));
      return say("mixup_recent", { other: named(other.part), part: named(part), ago, minutes: ref.minutes });
    }
    return "";
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  setStatus(state, text) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  /** @param {string} text */
  problem(text) {
    const el = /** @type {HTMLElement | null} */ (this.form.querySelector("[data-open-problem]"));
    if (!el || el.textContent === text) return;
    el.textContent = text;
    el.hidden = !text;
  }
}

/** A save this form stops, with the reason to show. */
class Stop extends Error {}
