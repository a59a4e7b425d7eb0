// @ts-check
/**
 * Keyboard-wedge scanners (the rugged handhelds whose trigger "types" the label's URL or code,
 * then Enter) work on every page: a fast burst of characters ending in Enter, typed while no
 * text field has the focus (or into a scan field, <input data-scan-input>), is routed like a
 * camera scan. People type far slower than scanners, so what they type is left alone.
 */
import { routeScan } from "../scan/route.js";

/** A longer gap between keys starts a new burst. */
const PAUSE_MS = 400;
/**
 * A scanner sends a key every few ms (slow Bluetooth ones a few tens); people take 100 ms and more.
 * Judged on the burst's average, so one late key (a busy page) does not lose a scan.
 */
const MEAN_GAP_MS = 60;
/** Shortest burst taken for a scan: a bin code is 7 characters. */
const MIN_LENGTH = 4;

let burst = "";
let first = 0; // when the burst's first character came
let last = 0;
/** @type {EventTarget | null} */
let burstTarget = null;

/** One listener for the whole page (no elements to attach to). */
export function start() {
  document.addEventListener("keydown", onKey, true);
}

/** @param {EventTarget | null} target */
function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) {
    return true;
  }
  if (!(target instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit"].includes(target.type);
}

/** @param {KeyboardEvent} event */
function onKey(event) {
  const target = event.target;
  const scanField = target instanceof HTMLInputElement && target.matches("[data-scan-input]");
  if (isTextField(target) && !scanField) {
    burst = "";
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
  const now = event.timeStamp;
  const gap = now - last;
  last = now;
  if (event.key === "Enter") {
    const text = burst;
    burst = "";
    const fast = (now - first) / Math.max(text.length, 1) <= MEAN_GAP_MS;
    if (text.length < MIN_LENGTH || gap > PAUSE_MS || target !== burstTarget || !fast) return;
    if (scanField) {
      // Whatever was in the field before the burst goes; Enter then submits the field's form,
      // which reads it as a typed code (code-entry.js), errors shown beside the field.
      /** @type {HTMLInputElement} */ (target).value = text;
      return;
    }
    event.preventDefault(); // not a click on the focused button
    event.stopPropagation();
    routeScan(text, "wedge");
    return;
  }
  if (event.key.length !== 1) return; // Shift and other keys without a character
  if (gap > PAUSE_MS || target !== burstTarget) {
    burst = "";
    first = now;
  } else if (!scanField && gap <= MEAN_GAP_MS) {
    // A key hard on the heels of the last is the scanner's, not a page shortcut (Firefox's "/"
    // quick find would take the rest of the URL). The first passes: nobody knows yet it starts a burst.
    event.preventDefault();
  }
  burstTarget = target;
  burst += event.key;
}
