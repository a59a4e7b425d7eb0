// @ts-check
/**
 * The transfer slip's page (/slips/<id>: <div data-slip="<id>">, slip.html) and its offline shell
 * (<div data-slip="" data-slip-shell>, pwa/offline_slip.html): the slip as this device knows it (the
 * server's copy on the page, or the slip pulled onto the device, with this device's own records of
 * it that the server had not got), who signed what, and the next signer named large with the form
 * for that step (_sign.html): the slip's quantity, the inspector's verdict (a fail asks what is wrong,
 * with photos), the signature pad, and the staff badge and PIN of anyone other than the person
 * signed in here (signer.js). The form carries the hash of the content shown: the server's hash of
 * the same content. Saved, the record goes to the outbox (offline-form.js) and the page moves on to
 * the next step by itself, network or not. Also the refusal (clerk before signing, receiver at
 * acceptance), offered in the shell as on the server's page.
 */
import { getMeta, onChange, openShopfloorDB } from "../offline/db.js";
import { pageUser } from "../offline/outbox.js";
import { signatureText } from "../offline/signature-note.js";
import { deviceSlip, say } from "../offline/slips.js";
import { pageLanguage, t } from "../i18n.js";

export const selector = "[data-slip]";

/** The step a person with this role signs first: the role names for "the inspector signs". */
const STEP_ROLE = /** @type {Record<string, string>} */ ({
  clerk: "clerk",
  inspector: "inspector",
  operator: "operator",
  receiver: "receiver",
});

/** @param {Element} root */
export function attach(root) {
  if (root instanceof HTMLElement) new SlipPage(root).start();
}

/**
 * @param {ParentNode} root
 * @param {string} selector
 */
function one(root, selector) {
  return /** @type {HTMLElement | null} */ (root.querySelector(selector));
}

/**
 * JSON from a <script type="application/json"> on the page, or null.
 * @param {string} selector
 */
function pageJson(selector) {
  try {
    return JSON.parse(document.querySelector(selector)?.textContent || "null");
  } catch {
    return null;
  }
}

/** The slip's id from /slips/<id> (the shell is served for any slip). */
function idFromPath() {
  return location.pathname.match(/^\/slips\/([0-9a-fA-F-]{36})$/)?.[1] ?? "";
}

class SlipPage {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.shell = root.hasAttribute("data-slip-shell");
    this.id = root.dataset.slip || idFromPath();
    /** @type {Record<string, any> | null} */
    this.server = this.shell ? null : pageJson("script[data-slip-data]");
    this.section = one(document, "[data-slip-sign]");
    this.form = /** @type {HTMLFormElement | null} */ (this.section?.querySelector("form") ?? null);
    /** @type {Record<string, string[]>} */
    this.stepRoles = pageJson("script[data-step-roles]") ?? {};
    this.shownStep = ""; // the step (and content) the form was last set up for: "" when none
    this.own = false; // the person signed in here may sign the shown step
    this.round = 0;
    /** @type {import("../offline/slips.js").DeviceSlip | null} */
    this.slip = null;
    /** @type {{id?: number, username?: string, display_name?: string, role?: string} | null} */
    this.user = null; // the person signed in on this device
  }

  start() {
    const form = this.form;
    if (form) {
      // Before offline-form.js's own listener on the form (capture, on an ancestor): a step the
      // person signed in here may not sign needs the badge of one who may.
      this.root.addEventListener("submit", (event) => this.checkSigner(event), true);
      form.addEventListener("change", () => this.showDefects());
      form.addEventListener("input", () => this.problem(""));
    }
    this.render();
    const stop = onChange((change) => {
      if (!this.root.isConnected) stop();
      else if (["saved", "results", "pulled", "session", "outbox"].includes(change.type)) this.render();
    });
  }

  /** Show the slip as the device knows it now (the newest render wins). */
  async render() {
    const round = ++this.round;
    const [slip, session] = await Promise.all([deviceSlip(this.id, this.server), getMeta("session").catch(() => null)]);
    if (round !== this.round) return;
    this.slip = slip;
    const user = pageUser() ?? session ?? null;
    this.user = user;
    const unknown = one(this.root, "[data-slip-unknown]");
    if (unknown) unknown.hidden = Boolean(slip);
    if (!slip) {
      if (this.section) this.section.hidden = true;
      return;
    }
    this.root.dataset.slipStatus = slip.status;
    this.showStatus(slip);
    if (this.shell) await this.showFacts(slip);
    if (this.shell || slip.changed) this.showSignatures(slip);
    this.offerSigning(slip, user);
    this.offerRefusal(slip, user);
    this.root.dataset.slipShown = ""; // for people and tests: the device's own records are in
  }

  /**
   * "Waiting for signatures · Next to sign: Inspector: quality", or the refusal.
   * @param {import("../offline/slips.js").DeviceSlip} slip
   */
  showStatus(slip) {
    const line = one(this.root, "[data-slip-state]");
    if (!line) return;
    line.dataset.state = slip.status;
    line.replaceChildren(say(`status_${slip.status}`));
    if (slip.next_step) {
      const next = document.createElement("strong");
      next.dataset.nextStep = slip.next_step;
      next.textContent = say(`step_${slip.next_step}`);
      line.append(` · ${say("next_to_sign")}: `, next);
    } else if (slip.refusal) {
      line.append(` · ${say(`step_${slip.refusal.step}`)}: ${slip.refusal.text}`);
    }
  }

  /**
   * The slip's facts in the shell, from the opening and the data pulled onto the device.
   * @param {import("../offline/slips.js").DeviceSlip} slip
   */
  async showFacts(slip) {
    const db = await openShopfloorDB();
    const pulled = slip.pulled;
    const first = slip.content.bin_codes?.[0];
    const [bin, locations, operations] = await Promise.all([
      first ? db.get("bins", first) : undefined,
      db.getAll("locations"),
      db.getAll("operations"),
    ]);
    const chinese = (pageLanguage() ?? "").startsWith("zh");
    const named = (/** @type {Record<string, any> | undefined} */ thing) =>
      thing ? (chinese ? thing.name_zh : thing.name_en) || thing.code : "";
    const place = (/** @type {string | null | undefined} */ code) => named(locations.find((p) => p.code === code)) || code || "";
    const to = slip.content.to ?? {};
    let goes = pulled && !slip.opened ? place(pulled.to_location) : "";
    if (!goes && to.operation) goes = named(operations.find((o) => o.code === to.operation)) || to.operation;
    if (!goes && to.area) goes = t(`kind_${to.area}`);
    if (!goes && to.next) goes = t("transfer_kind_next_operation");
    const facts = /** @type {Record<string, string>} */ ({
      number: this.id.slice(0, 8).toUpperCase(),
      part: slip.content.part ?? pulled?.part ?? bin?.product_name ?? "",
      work_order: pulled?.work_order ?? bin?.work_order ?? "",
      bins: (slip.content.bin_codes ?? []).join(", "),
      from: pulled ? place(pulled.from_location) : bin?.location_name ?? "",
      to: goes,
      quantity: String(slip.content.quantity ?? ""),
    });
    for (const el of this.root.querySelectorAll("[data-slip-field]")) {
      el.textContent = facts[el.getAttribute("data-slip-field") ?? ""] || "—";
    }
  }

  /**
   * Every signature: step, who, how many, verdict, when, how it was proven, and how it stands.
   * @param {import("../offline/slips.js").DeviceSlip} slip
   */
  showSignatures(slip) {
    const list = one(this.root, "[data-signatures]");
    if (!list) return;
    const api = document.querySelector('meta[name="shopfloor-api"]')?.getAttribute("content") || "/api/v1";
    const items = slip.signatures.map((sig) => {
      const item = document.createElement("li");
      item.dataset.step = sig.step;
      item.dataset.state = sig.state ?? "";
      item.className = `signature ${sig.state ?? ""}`;
      const head = document.createElement("strong");
      head.textContent = say(`step_${sig.step}`);
      const when = new Date(sig.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      const parts = [sig.signer || sig.record?.signature?.name || this.actorName(sig.record), t("n_pieces", { n: sig.quantity })];
      if (sig.verdict) parts.push(say(`verdict_${sig.verdict}`));
      parts.push(when);
      if (sig.record) {
        item.dataset.local = sig.record.state === "sent" ? "sent" : "pending";
        parts.push(signatureText(sig.record) || t(sig.record.state === "sent" ? "synced" : "pending"));
      } else if (sig.verification) {
        parts.push(say(`verification_${sig.verification}`));
      }
      item.append(head, ` · ${parts.filter(Boolean).join(" · ")}`);
      if (sig.state && sig.state !== "valid") {
        const warn = document.createElement("span");
        warn.className = "warn";
        warn.textContent = say(`state_${sig.state}`);
        item.append(" · ", warn);
      }
      if (sig.defects) item.append(document.createElement("br"), sig.defects);
      if (sig.image) {
        // The server's copy of the drawing (only signatures the server listed name one).
        const image = document.createElement("img");
        image.className = "signature-image";
        image.alt = say(`step_${sig.step}`);
        image.loading = "lazy";
        image.src = `${api}/blobs/${sig.image}`;
        item.append(image);
      }
      return item;
    });
    if (!items.length) {
      const none = document.createElement("li");
      none.className = "hint";
      none.textContent = say("no_signatures");
      items.push(none);
    }
    list.replaceChildren(...items);
  }

  /**
   * The name of whoever saved `record` here without a second person: the person signed in.
   * @param {import("../offline/outbox.js").OutboxRecord | undefined} record
   */
  actorName(record) {
    const user = this.user;
    return record && user && record.actor_id === user.id ? user.display_name || user.username || "" : "";
  }

  /**
   * The form for the next step, to whoever holds the device; nothing when the slip waits for no signature.
   * @param {import("../offline/slips.js").DeviceSlip} slip
   * @param {{role?: string} | null} user
   */
  offerSigning(slip, user) {
    const { section, form } = this;
    if (!section || !form) return;
    const roles = (section.dataset.signRoles ?? "").split(" ");
    const step = slip.next_step;
    section.hidden = !step || !roles.includes(user?.role ?? "");
    if (section.hidden || !step) {
      this.shownStep = "";
      return;
    }
    this.own = (this.stepRoles[step] ?? []).includes(user?.role ?? "");
    const role = t(`role_${STEP_ROLE[step]}`);
    const heading = one(section, "[data-next-signer]");
    if (heading) {
      heading.textContent = say(`step_${step}`);
      heading.dataset.step = step;
    }
    const hint = one(section, "[data-signer-hint]");
    if (hint) hint.textContent = say(this.own ? "sign_yourself" : "sign_by_badge", { role });
    const signer = one(form, "[data-signer]");
    signer?.toggleAttribute("data-signer-required", !this.own);
    const close = signer ? one(signer, "[data-signer-close]") : null;
    if (close) close.hidden = !this.own; // closing the panel would leave nobody who may sign
    const field = (/** @type {string} */ name) => /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name));
    const setup = `${step} ${slip.content_hash}`;
    if (setup === this.shownStep) return; // the same step: keep what the person typed
    const first = !this.shownStep;
    this.shownStep = setup;
    form.dataset.step = step;
    /** @type {[string, string][]} */
    const hidden = [["transfer_id", this.id], ["step", step], ["content_hash", slip.content_hash]];
    for (const [name, value] of hidden) {
      const input = field(name);
      if (input) input.value = input.defaultValue = value;
    }
    const quantity = field("quantity");
    if (quantity) quantity.value = quantity.defaultValue = String(slip.content.quantity ?? "");
    const inspector = step === "inspector";
    const verdict = one(form, "[data-verdict]");
    if (verdict) verdict.hidden = !inspector;
    for (const radio of form.querySelectorAll('input[name="verdict"]')) {
      const input = /** @type {HTMLInputElement} */ (radio);
      input.disabled = !inspector;
      input.required = inspector;
      input.checked = input.defaultChecked = false;
    }
    this.showDefects();
    this.problem("");
    // A phone shows one step a screen: the next one comes into view, under the header, once the last is saved.
    if (!first && window.innerWidth < 900) {
      const header = document.querySelector(".topbar")?.getBoundingClientRect().height ?? 0;
      window.scrollTo({ top: section.getBoundingClientRect().top + window.scrollY - header - 8 });
    }
  }

  /** A fail asks what is wrong, with photos; a pass (or another step) asks neither. */
  showDefects() {
    const form = this.form;
    if (!form) return;
    const fail = /** @type {HTMLInputElement | null} */ (form.querySelector('input[name="verdict"][value="fail"]'));
    const failing = Boolean(fail?.checked && !fail.disabled);
    const defects = one(form, "[data-defects]");
    if (defects) defects.hidden = !failing;
    for (const field of form.querySelectorAll('[data-defects] textarea, [data-defects] input')) {
      const input = /** @type {HTMLInputElement | HTMLTextAreaElement} */ (field);
      input.disabled = !failing;
      if (input instanceof HTMLTextAreaElement) input.required = failing;
    }
  }

  /**
   * Stop a save that nobody who may sign this step would make: the person signed in here may not
   * sign it and no badge was shown, or the badge shown is of someone who may not.
   * @param {Event} event
   */
  checkSigner(event) {
    const form = this.form;
    if (!form || event.target !== form) return;
    const step = form.dataset.step ?? "";
    const signer = one(form, "[data-signer]");
    const open = Boolean(signer && signer.dataset.signerState && signer.dataset.signerState !== "closed");
    const role = t(`role_${STEP_ROLE[step] ?? step}`);
    let problem = "";
    if (!this.slip || this.slip.next_step !== step) problem = say("slip_changed");
    else if (!open && !this.own) problem = say("badge_needed", { role });
    else if (open && signer?.dataset.signerRole && !(this.stepRoles[step] ?? []).includes(signer.dataset.signerRole)) {
      problem = say("signer_not_for_step", { role });
    }
    if (!problem) return;
    event.preventDefault();
    event.stopPropagation(); // the form's own listeners (offline-form.js) never see it
    this.problem(problem);
  }

  /** @param {string} text */
  problem(text) {
    const el = this.form ? one(this.form, "[data-sign-problem]") : null;
    if (!el || el.textContent === text) return;
    el.textContent = text;
    el.hidden = !text;
  }

  /**
   * The refusal: while the slip waits for signatures, to the roles that may refuse; the clerk's
   * before the clerk signed, the receiver's after.
   * @param {import("../offline/slips.js").DeviceSlip} slip
   * @param {{role?: string} | null} user
   */
  offerRefusal(slip, user) {
    const section = one(this.root, "#refuse");
    const form = section?.querySelector("form");
    if (!section || !form) return;
    const roles = section.dataset.refuseRoles;
    section.hidden = slip.status !== "open" || (roles !== undefined && !roles.split(" ").includes(user?.role ?? ""));
    const id = /** @type {HTMLInputElement | null} */ (form.elements.namedItem("transfer_id"));
    if (id) id.value = id.defaultValue = this.id;
    const step = /** @type {HTMLInputElement | null} */ (form.elements.namedItem("step"));
    if (step) step.value = step.defaultValue = slip.next_step === "clerk" ? "clerk" : "receiver";
  }
}
