// @ts-check
/**
 * "Confirmed by another person" (<div data-signer> inside a form[data-offline-form]): a second
 * person confirms the record on this device with their staff badge and PIN. A tap on
 * [data-signer-open] opens the panel and the camera; the badge is read by the camera, by a
 * keyboard-wedge scanner (into [data-signer-badge], or anywhere while no field has the focus), and
 * the panel shows whose badge it is from the people pulled onto the device, then asks their PIN.
 *
 * offline-form.js asks `confirmSave` before saving: the proof is made for the record's event id,
 * and checked with the server when it answers (a wrong PIN, a revoked badge or a locked PIN stop
 * the save at once); out of reach, the record is saved "to be verified" and the push decides.
 * [data-signature-status] then shows how the last record's signature stands.
 *
 * The badge secret and the PIN are held only while needed: the badge in this object (never in the
 * page: the scanner's field is emptied as soon as it is read), the PIN in its field until the save,
 * a refusal, a change to the record, closing the panel or leaving the page.
 * States for people and tests: data-signer-state = closed | scan | pin | problem on [data-signer];
 * data-signer-role: the role of the person whose badge was read (for forms that only some roles sign).
 */
import { t } from "../i18n.js";
import { getMeta, onChange } from "../offline/db.js";
import { pageUser } from "../offline/outbox.js";
import {
  canSign,
  checkOnline,
  findPerson,
  hasPin,
  isBadgeText,
  isPin,
  makeSigner,
  parseBadge,
  refusalText,
  signatureState,
  signatureText,
} from "../offline/signing.js";
import { Camera, cameraUnavailable, problemOf } from "../scan/camera.js";
import { Decoder } from "../scan/decoder.js";
import * as feedback from "../scan/feedback.js";
import { SCAN_EVENT } from "../scan/route.js";

export const selector = "[data-signer]";

/** A save the confirmation stopped; its reason is already shown beside the badge or the PIN. */
export class SaveStopped extends Error {}

/** @typedef {import("../offline/signing.js").Signer} Signer */
/** @typedef {import("../offline/outbox.js").SignatureNote} SignatureNote */

/** @type {WeakMap<HTMLFormElement, SignerPanel>} */
const panels = new WeakMap();

/** @param {Element} root */
export function attach(root) {
  const form = root.closest("form");
  if (root instanceof HTMLElement && form) panels.set(form, new SignerPanel(root, form));
}

/**
 * The confirmation of the record about to be saved by `form`: null when nobody confirms it;
 * throws SaveStopped when the save must not happen (no badge or PIN yet, or the server refused).
 * @param {HTMLFormElement} form
 * @param {{id: string, type: string, payload: Record<string, unknown>, progress: (text: string) => void}} what
 * @returns {Promise<{signer: Signer, signature: SignatureNote} | null>}
 */
export async function confirmSave(form, what) {
  const panel = panels.get(form);
  return panel ? panel.confirm(what) : null;
}

/**
 * The form saved a record: forget the badge and PIN, and follow the record's signature (if any).
 * @param {HTMLFormElement} form
 * @param {import("../offline/outbox.js").OutboxRecord} record
 */
export function recordSaved(form, record) {
  panels.get(form)?.saved(record);
}

/**
 * @param {ParentNode} root
 * @param {string} selector
 */
function one(root, selector) {
  return /** @type {HTMLElement} */ (root.querySelector(selector));
}

class SignerPanel {
  /**
   * @param {HTMLElement} root
   * @param {HTMLFormElement} form
   */
  constructor(root, form) {
    this.root = root;
    this.form = form;
    this.openButton = /** @type {HTMLButtonElement} */ (one(root, "[data-signer-open]"));
    this.panel = one(root, "[data-signer-panel]");
    this.cameraView = one(root, "[data-signer-camera]");
    this.video = /** @type {HTMLVideoElement} */ (one(root, "[data-signer-video]"));
    this.cameraNote = one(root, "[data-signer-camera-note]");
    this.badgeField = one(root, "[data-signer-badge-field]");
    this.badgeInput = /** @type {HTMLInputElement} */ (one(root, "[data-signer-badge]"));
    this.who = one(root, "[data-signer-who]");
    this.pinField = one(root, "[data-signer-pin-field]");
    this.pinInput = /** @type {HTMLInputElement} */ (one(root, "[data-signer-pin]"));
    this.error = one(root, "[data-signer-error]");
    this.rescanButton = /** @type {HTMLButtonElement} */ (one(root, "[data-signer-rescan]"));
    this.closeButton = /** @type {HTMLButtonElement} */ (one(root, "[data-signer-close]"));
    this.status = /** @type {HTMLElement | null} */ (form.querySelector("[data-signature-status]"));
    /** @type {import("../offline/signing.js").Badge | null} */
    this.badge = null;
    /** @type {import("../offline/signing.js").Person | null} */
    this.person = null;
    this.problem = ""; // why this badge cannot confirm here ("" when it can)
    /** @type {Camera | null} */
    this.camera = null;
    /** @type {Decoder | null} */
    this.decoder = null;
    this.round = 0; // each camera start's frame loop has its number
    this.busy = false;
    this.refused = ""; // the last text read that was not a badge
    /** @type {{id: string, signature: SignatureNote} | null} */
    this.last = null; // the last record saved with a confirmation, followed until the push answers

    root.hidden = false; // without JavaScript there is nothing to confirm with
    this.setState("closed");
    feedback.unlockOnFirstGesture();
    this.openButton.addEventListener("click", () => this.open());
    this.closeButton.addEventListener("click", () => this.close());
    this.rescanButton.addEventListener("click", () => this.open());
    // A wedge scanner types the badge into its field: take it whole, never leave it in the page.
    this.badgeInput.addEventListener("input", () => {
      if (parseBadge(this.badgeInput.value)) this.takeTyped();
    });
    this.badgeInput.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault(); // Enter after a badge is not "Save count"
      if (this.badgeInput.value.trim()) this.takeTyped();
    });
    this.pinInput.addEventListener("input", () => {
      this.pinInput.setCustomValidity("");
      if (this.error.dataset.kind === "pin") this.showError("");
    });
    // The person confirms what the form holds when they type their PIN: a change after it asks again.
    form.addEventListener("input", (event) => {
      if (!(event.target instanceof Node) || this.root.contains(event.target) || !this.pinInput.value) return;
      this.pinInput.value = "";
      this.showError(t("signer_pin_again"), "pin");
    });
    // A wedge scan while no field has the focus: a badge is for this panel.
    this.onScan = (/** @type {Event} */ event) => {
      if (!this.form.isConnected) return document.removeEventListener(SCAN_EVENT, this.onScan);
      const text = /** @type {CustomEvent} */ (event).detail?.text;
      if (!isBadgeText(text) || this.form.closest("[hidden]")) return;
      event.preventDefault(); // taken: not a bin code to open
      if (this.root.dataset.signerState === "closed") this.open();
      this.take(text);
    };
    document.addEventListener(SCAN_EVENT, this.onScan);
    // Leaving the page (or putting the app away) forgets the PIN and lets go of the camera.
    window.addEventListener("pagehide", () => {
      if (this.root.dataset.signerState !== "closed") this.close();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) this.stopCamera();
      else if (this.root.dataset.signerState === "scan" && this.root.isConnected) this.startCamera();
    });
    const stop = onChange((change) => {
      if (!this.form.isConnected) return stop();
      if (change.type === "results" && this.last) {
        const result = change.results.find((/** @type {{id: string}} */ r) => r.id === this.last?.id);
        if (result) this.showSignature({ signature: this.last.signature, result });
      }
    });
  }

  /** Open the panel and start the camera for the badge. */
  open() {
    this.forget();
    this.panel.hidden = false;
    this.openButton.hidden = true;
    this.openButton.setAttribute("aria-expanded", "true");
    if (!canSign()) {
      // Plain http:// on the LAN: no WebCrypto (nor camera) for the page, so no proof can be made.
      this.problem = t("signer_insecure");
      this.showError(this.problem);
      this.badgeField.hidden = true;
      this.setState("problem");
      return;
    }
    this.setState("scan");
    this.startCamera();
  }

  /** Close the panel: the record is saved without a confirmation. */
  close() {
    this.stopCamera();
    this.decoder?.close(); // the worker and its WebAssembly go until the next confirmation
    this.decoder = null;
    this.forget();
    this.panel.hidden = true;
    this.openButton.hidden = false;
    this.openButton.setAttribute("aria-expanded", "false");
    this.setState("closed");
  }

  /** Forget the badge and the PIN. */
  forget() {
    this.badge = null;
    this.person = null;
    this.problem = "";
    this.badgeInput.value = "";
    this.badgeField.hidden = false;
    this.pinInput.value = "";
    this.pinInput.setCustomValidity("");
    this.pinField.hidden = true;
    this.rescanButton.hidden = true;
    this.who.hidden = true;
    this.who.textContent = "";
    this.who.removeAttribute("data-known");
    delete this.root.dataset.signerRole;
    this.showError("");
  }

  /** @param {string} state closed | scan | pin | problem */
  setState(state) {
    this.root.dataset.signerState = state;
  }

  /**
   * @param {string} text
   * @param {string} [kind] badge | pin: which step it is about
   */
  showError(text, kind = "badge") {
    this.error.textContent = text;
    this.error.hidden = !text;
    if (text) this.error.dataset.kind = kind;
    else delete this.error.dataset.kind;
  }

  takeTyped() {
    const text = this.badgeInput.value;
    this.badgeInput.value = "";
    this.take(text);
  }

  /**
   * A badge was read (camera, scanner or the field): say whose it is and ask their PIN.
   * @param {string} text
   */
  async take(text) {
    if (!canSign()) return; // the panel already says why
    const badge = parseBadge(text);
    if (!badge) {
      if (text !== this.refused) feedback.refusal(); // once per label held up, not once per frame
      this.refused = text;
      this.showError(t("signer_not_a_badge"));
      return;
    }
    this.refused = "";
    this.stopCamera();
    feedback.success();
    this.forget();
    this.badge = badge;
    this.rescanButton.hidden = false;
    const person = await findPerson(badge.userId).catch(() => undefined);
    if (this.badge !== badge) return; // another badge came meanwhile
    this.person = person ?? null;
    const self = pageUser()?.id ?? (await getMeta("session").catch(() => null))?.id;
    this.who.hidden = false;
    if (!person) {
      this.who.textContent = t("signer_unknown_badge");
      this.problem = t("signer_unknown_badge_hint");
    } else {
      this.who.textContent = `${person.display_name || person.username} · ${t(`role_${person.role}`)}`;
      this.who.dataset.known = "";
      this.root.dataset.signerRole = person.role ?? ""; // the form may ask whether this role signs what it holds
      if (person.id === self) this.problem = t("signer_is_you");
      else if (person.active === false) this.problem = t("signer_inactive");
      else if (!hasPin(person)) this.problem = t("signer_no_pin", { name: person.display_name || person.username });
    }
    if (this.problem) {
      this.showError(this.problem);
      this.setState("problem");
      return;
    }
    this.badgeField.hidden = true; // read: the PIN is what comes next
    this.pinField.hidden = false;
    this.setState("pin");
    this.pinInput.focus();
  }

  /**
   * @param {{id: string, type: string, payload: Record<string, unknown>, progress: (text: string) => void}} what
   * @returns {Promise<{signer: Signer, signature: SignatureNote} | null>}
   */
  async confirm({ id, type, payload, progress }) {
    if (this.root.dataset.signerState === "closed" || this.root.hidden) return null;
    const { badge, person } = this;
    if (!badge || !person || this.problem) {
      this.showError(this.problem || t("signer_scan_first"));
      this.panel.scrollIntoView({ block: "nearest" });
      throw new SaveStopped("confirmation incomplete");
    }
    const pin = this.pinInput.value;
    if (!isPin(pin)) {
      this.pinInput.setCustomValidity(t("signer_pin_invalid"));
      this.pinInput.reportValidity();
      throw new SaveStopped("no PIN");
    }
    progress(t("signer_checking"));
    const signer = await makeSigner({ eventId: id, type, payload, badge, pin, person });
    const answer = await checkOnline(id, signer);
    if (answer.outcome === "refused" || answer.outcome === "locked") {
      this.pinInput.value = "";
      feedback.refusal();
      const badgeGone = answer.outcome === "refused" && answer.reason !== "wrong_pin";
      if (badgeGone) {
        // The badge itself cannot confirm (revoked, unknown, no PIN): another badge is needed.
        this.badge = null;
        this.pinField.hidden = true;
        this.badgeField.hidden = false;
        this.problem = refusalText(answer);
        this.setState("problem");
      }
      this.showError(refusalText(answer), badgeGone ? "badge" : "pin");
      if (!badgeGone) this.pinInput.focus();
      throw new SaveStopped(answer.outcome === "locked" ? "pin_locked" : answer.reason);
    }
    const name = (answer.outcome === "verified" && answer.signer?.display_name) || person.display_name || person.username;
    return {
      signer,
      signature: { id: person.id, name, state: answer.outcome === "verified" ? "verified" : "to-verify" },
    };
  }

  /** @param {import("../offline/outbox.js").OutboxRecord} record */
  saved(record) {
    if (!record.signature) {
      this.last = null;
      if (this.status) this.status.hidden = true;
      return;
    }
    this.last = { id: record.id, signature: record.signature };
    this.close();
    this.showSignature({ signature: record.signature, result: record.result });
  }

  /**
   * Show how the last confirmed record's signature stands.
   * @param {{signature: SignatureNote, result?: import("../offline/outbox.js").PushResult}} record
   */
  showSignature(record) {
    if (!this.status) return;
    const shown = /** @type {import("../offline/outbox.js").OutboxRecord} */ (record);
    const state = signatureState(shown);
    this.status.textContent = signatureText(shown);
    this.status.hidden = !state;
    this.status.dataset.state = state ?? "";
  }

  /** Start the camera and read badges from it; say so when there is none (the scanner still works). */
  async startCamera() {
    if (this.camera || document.hidden || !this.root.isConnected) return;
    const unavailable = cameraUnavailable();
    if (unavailable) return this.noCamera();
    this.cameraNote.hidden = true;
    const round = ++this.round;
    try {
      this.decoder ??= new Decoder();
      const camera = await Camera.open(this.video);
      if (round !== this.round || this.root.dataset.signerState !== "scan" || document.hidden) {
        camera.stop(); // closed, or a badge came another way, while the camera was starting
        return;
      }
      this.camera = camera;
      this.cameraView.hidden = false;
      this.root.dataset.cameraState = "starting";
      await this.decoder.ready;
    } catch (error) {
      console.warn("shopfloor: camera for the badge:", problemOf(error));
      this.stopCamera();
      return this.noCamera();
    }
    if (!this.camera || round !== this.round) return;
    this.root.dataset.cameraState = "scanning";
    this.watchFrames(round);
  }

  noCamera() {
    this.cameraView.hidden = true;
    this.cameraNote.hidden = false;
    this.root.dataset.cameraState = "problem";
  }

  /**
   * Hand the decoder one frame at a time, the whole frame (a badge is held anywhere in view).
   * @param {number} round
   */
  watchFrames(round) {
    const video = this.video;
    const next = () => {
      if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(tick);
      else requestAnimationFrame(tick);
    };
    const tick = async () => {
      if (round !== this.round || !this.camera) return;
      if (!this.root.isConnected) return this.stopCamera();
      next();
      if (this.busy || !video.videoWidth || !this.decoder) return;
      this.busy = true;
      try {
        const texts = await this.decoder.decode(await createImageBitmap(video), null, true);
        const text = texts.find(isBadgeText) ?? texts[0];
        if (text && round === this.round && this.camera) this.take(text);
      } catch {
        // the camera stopped under the frame: nothing to read
      } finally {
        this.busy = false;
      }
    };
    next();
  }

  stopCamera() {
    this.round++;
    this.camera?.stop();
    this.camera = null;
    this.cameraView.hidden = true;
    if (this.root.dataset.cameraState) this.root.dataset.cameraState = "off";
  }
}
