// @ts-check
/**
 * A signature drawn on the screen with a finger, a glove or a stylus (the transfer slip's handover):
 * <div data-signature-pad data-field="signature_sha256" [data-required] hidden> inside a
 * form[data-offline-form], holding a <canvas data-signature-canvas> and a
 * <button type="button" data-signature-clear>. This module and the drawing library
 * (vendor/signature_pad) load only on a page with a pad, not with the floor shell (app.js, and
 * offline-form.js when it saves); the service worker keeps both for offline use. The pad shows once
 * the library is there: without it there is nothing to draw with.
 *
 * The canvas takes the pad's full width and two fifths of it in height (180 to 360 CSS px), in the
 * screen's own pixels; a new width (the tablet turned) keeps the drawing, scaled to fit.
 * The canvas itself has no border or padding (frame the div instead): the pen follows its box.
 * data-signature-state = empty | drawn on the pad, for people and tests. offline-form.js takes the
 * drawing with `attachmentsOf` (a PNG on white, cut to the strokes) and empties the pad with
 * `clearSignature` once the record is saved. A stroke or a clear is an input of the form, as typing
 * is: a second person's PIN typed already is asked again (signer.js).
 */

import { t } from "../i18n.js";
import { sha256Hex } from "../offline/photos.js";

/** @typedef {import("../../vendor/signature_pad-5.1.4.js").default} SignaturePad */

export const selector = "[data-signature-pad]";

/** The canvas's height for its width, in CSS px: a signature is wide. */
const HEIGHT_PER_WIDTH = 0.4;
const MIN_HEIGHT = 180;
const MAX_HEIGHT = 360;
/**
 * Black on white, wide enough to see under a finger or a glove (the library's widths are radii,
 * in CSS px: strokes 3 to 8 px, thinner where the finger moves fast).
 * @type {import("../../vendor/signature_pad-5.1.4.js").Options}
 */
const PEN = { minWidth: 1.5, maxWidth: 4, penColor: "#000", backgroundColor: "#fff" };
/** CSS px of white kept around the strokes in the PNG. */
const MARGIN = 8;
/** An opaque white pixel read as one 32-bit number (the same in either byte order). */
const WHITE = 0xffffffff;

/** @type {WeakMap<Element, Pad>} */
const pads = new WeakMap();

/** @param {Element} root */
export async function attach(root) {
  const canvas = root.querySelector("canvas[data-signature-canvas]");
  if (!(root instanceof HTMLElement) || !(canvas instanceof HTMLCanvasElement)) return;
  const { default: Library } = await import("../../vendor/signature_pad-5.1.4.js");
  pads.set(root, new Pad(root, canvas, new Library(canvas, PEN)));
}

/**
 * The signature drawn in `form`'s pad, and the payload field that names it; null when nothing is
 * drawn (or the pad is not ready yet).
 * @param {HTMLFormElement} form
 * @returns {Promise<{file: Blob, field: string} | null>}
 */
async function signatureOf(form) {
  const pad = padOf(form);
  const file = await pad?.png();
  return pad && file ? { file, field: pad.root.dataset.field || "signature_sha256" } : null;
}

/**
 * The drawn signature as the record's attachment, its PNG bytes as drawn, named in the payload
 * (payload[data-field] = its SHA-256); none without a drawing, and a save stops when the pad
 * is `data-required`.
 * @param {HTMLFormElement} form
 * @param {Record<string, unknown>} payload
 * @returns {Promise<import("../offline/outbox.js").Attachment[]>}
 */
export async function attachmentsOf(form, payload) {
  const drawn = await signatureOf(form);
  if (!drawn) {
    if (form.querySelector("[data-signature-pad][data-required]")) throw new Error(t("signature_required"));
    return [];
  }
  const data = await drawn.file.arrayBuffer();
  const sha256 = await sha256Hex(data);
  payload[drawn.field] = sha256;
  return [{ sha256, mime: drawn.file.type, size: data.byteLength, data }];
}

/**
 * Empty `form`'s pad (its record is saved).
 * @param {HTMLFormElement} form
 */
export function clearSignature(form) {
  padOf(form)?.clear();
}

/** @param {HTMLFormElement} form */
function padOf(form) {
  const root = form.querySelector(selector);
  return root ? pads.get(root) : undefined;
}

class Pad {
  /**
   * @param {HTMLElement} root
   * @param {HTMLCanvasElement} canvas
   * @param {SignaturePad} pad
   */
  constructor(root, canvas, pad) {
    this.root = root;
    this.canvas = canvas;
    this.pad = pad;
    this.clearButton = /** @type {HTMLButtonElement | null} */ (root.querySelector("[data-signature-clear]"));
    this.width = 0; // the CSS size the drawing is at (0 until the canvas is first shown)
    this.height = 0;

    root.hidden = false;
    canvas.style.width = "100%";
    this.fit();
    new ResizeObserver(() => this.fit()).observe(canvas);
    pad.addEventListener("endStroke", () => this.changed());
    this.clearButton?.addEventListener("click", () => {
      this.clear();
      this.changed();
    });
    this.show();
  }

  /** Size the canvas for its width and the screen's pixels, keeping the drawing (scaled to fit). */
  fit() {
    const width = this.canvas.clientWidth;
    if (!width || width === this.width) return; // hidden, or only the height changed (set here)
    const height = Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, width * HEIGHT_PER_WIDTH)));
    const scale = this.width ? Math.min(width / this.width, height / this.height) : 1;
    const ratio = Math.max(1, window.devicePixelRatio || 1);
    const strokes = this.pad.toData();
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * ratio); // also empties the canvas and resets its scale
    this.canvas.height = Math.round(height * ratio);
    this.canvas.getContext("2d")?.scale(ratio, ratio); // the library draws in CSS px
    const scaled = strokes.map((group) => ({
      ...group,
      points: group.points.map((point) => ({ ...point, x: point.x * scale, y: point.y * scale })),
    }));
    this.pad.fromData(scaled); // on white again: resizing emptied the canvas
    this.width = width;
    this.height = height;
  }

  clear() {
    this.pad.clear();
    this.show();
  }

  /** The person drew or cleared: say so, and tell the form its record changed. */
  changed() {
    this.show();
    this.root.dispatchEvent(new Event("input", { bubbles: true }));
  }

  show() {
    const empty = this.pad.isEmpty();
    this.root.dataset.signatureState = empty ? "empty" : "drawn";
    if (this.clearButton) this.clearButton.disabled = empty;
  }

  /**
   * The drawing as a PNG on white, cut to the strokes and a margin, in the screen's pixels;
   * null when nothing is drawn.
   * @returns {Promise<Blob | null>}
   */
  async png() {
    const { canvas } = this;
    const context = canvas.getContext("2d");
    if (this.pad.isEmpty() || !context) return null;
    const box = inkBox(context.getImageData(0, 0, canvas.width, canvas.height));
    if (!box) return null;
    const margin = Math.round((MARGIN * canvas.width) / this.width);
    const left = Math.max(0, box.left - margin);
    const top = Math.max(0, box.top - margin);
    const width = Math.min(canvas.width, box.right + margin) - left;
    const height = Math.min(canvas.height, box.bottom + margin) - top;
    const cut = document.createElement("canvas");
    cut.width = width;
    cut.height = height;
    const out = cut.getContext("2d");
    /** @type {Blob | null} */
    let blob = null;
    if (out) {
      out.fillStyle = "#fff";
      out.fillRect(0, 0, width, height);
      out.drawImage(canvas, left, top, width, height, 0, 0, width, height);
      blob = await /** @type {Promise<Blob | null>} */ (new Promise((resolve) => cut.toBlob(resolve, "image/png")));
    }
    cut.width = cut.height = 0; // iOS keeps canvas memory until the size is zero
    // No memory for the copy: the save stops rather than go on as if nothing were drawn.
    if (!blob) throw new Error(t("signature_unreadable"));
    return blob;
  }
}

/**
 * The smallest box holding every pixel that is not white; null when there is none.
 * @param {ImageData} image
 * @returns {{left: number, top: number, right: number, bottom: number} | null} right and bottom exclusive
 */
function inkBox({ data, width, height }) {
  const pixels = new Uint32Array(data.buffer, data.byteOffset, width * height);
  let left = width;
  let right = 0;
  let top = height;
  let bottom = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (pixels[row + x] === WHITE) continue;
      if (x < left) left = x;
      if (x >= right) right = x + 1;
      if (y < top) top = y;
      bottom = y + 1;
    }
  }
  return right ? { left, top, right, bottom } : null;
}
