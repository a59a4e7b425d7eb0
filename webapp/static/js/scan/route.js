// @ts-check
/**
 * Where a scan goes, from whichever input it came (camera, typed code, keyboard-wedge scanner):
 * the scan screen takes it when it is open (so continuous mode sees every scan); anywhere else a
 * bin of this server opens, and anything else is refused with a message.
 */
import { t } from "../i18n.js";
import { toast } from "../behaviours/sync-status.js";
import { readScan } from "./codes.js";

export const SCAN_EVENT = "shopfloor:scan";

/** @typedef {import("./codes.js").Scan} Scan */
/** @typedef {"camera" | "typed" | "wedge"} Source */

/** This page's origin and the server's PUBLIC_URL (the address printed in labels), if set. */
export function ownOrigins() {
  const publicUrl = document.querySelector('meta[name="shopfloor-public-url"]')?.getAttribute("content") ?? "";
  return [location.origin, publicUrl];
}

/**
 * What a scan means on this page.
 * @param {string} text
 */
export function readHere(text) {
  return readScan(text, ownOrigins());
}

/**
 * The translated message for a scan that opens nothing.
 * @param {Scan} scan
 */
export function messageFor(scan) {
  if (scan.kind === "foreign") return t("scan_foreign", { host: scan.host });
  if (scan.kind === "wrong_check") return t("scan_wrong_check");
  return t("scan_not_a_bin");
}

/**
 * The bin page's address.
 * @param {string} code
 */
export function binUrl(code) {
  return `/b/${encodeURIComponent(code)}`;
}

/**
 * Offer a scan to the scan screen, if it is open: true when it took the scan.
 * @param {string} text
 * @param {Source} source
 */
export function offerToScanScreen(text, source) {
  const offered = new CustomEvent(SCAN_EVENT, { detail: { text, source }, cancelable: true });
  return !document.dispatchEvent(offered);
}

/**
 * Route a scan: to the scan screen when it is open; otherwise open the bin or say why not.
 * @param {string} text
 * @param {Source} source
 */
export function routeScan(text, source) {
  if (offerToScanScreen(text, source)) return;
  const scan = readHere(text);
  if (scan.kind === "bin") location.assign(binUrl(scan.code));
  else toast(messageFor(scan));
}
