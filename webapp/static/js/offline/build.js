// @ts-check
/**
 * This page's build and what the server says about builds. A build is "<release>+<content hash>":
 * the release is a number bumped by hand per release, so it can be compared with the server's
 * `min_build`; a build below it may still push (to drain the outbox) but may not pull, and the
 * page says so until it is updated. Every sync answer carries `min_build` and the server's own
 * `build`; the last `min_build` heard is kept in the device database, so the warning also
 * shows offline and after a restart.
 */
import { getMeta, setMeta, notify } from "./db.js";

/** This page's build, as the server rendered it into <meta name="shopfloor-build">. */
export function pageBuild() {
  return document.querySelector('meta[name="shopfloor-build"]')?.getAttribute("content") ?? "";
}

/**
 * The release number of a build ("3+9f2c…" → 3); 0 for a build without one (older than release numbers).
 * @param {string} build
 */
export function releaseOf(build) {
  const match = /^(\d+)(?:\+|$)/.exec(build);
  return match ? Number(match[1]) : 0;
}

/**
 * Whether this page's build is below `minBuild` (a release number; null or undefined: no minimum).
 * @param {unknown} minBuild
 */
export function isTooOld(minBuild) {
  return typeof minBuild === "number" && releaseOf(pageBuild()) < minBuild;
}

/** Whether the server last said this build is too old (kept across reloads and offline). */
export async function knownTooOld() {
  return isTooOld(await getMeta("min_build"));
}

/** What this tab last heard, so repeated answers (one per push) cost nothing. */
let heard = "";

/**
 * Keep what a sync answer says about builds and tell every tab when it changed. Returns whether
 * this build is too old by this answer (undefined when the answer says nothing about builds).
 * @param {unknown} answer
 * @returns {Promise<boolean | undefined>}
 */
export async function noteServerBuilds(answer) {
  if (!answer || typeof answer !== "object" || !("min_build" in answer)) return undefined;
  const { min_build: said, build } = /** @type {{min_build: unknown, build?: unknown}} */ (answer);
  const minBuild = typeof said === "number" ? said : null;
  const server = typeof build === "string" ? build : null;
  const key = JSON.stringify([minBuild, server]);
  if (key !== heard) {
    if ((await getMeta("min_build")) !== minBuild) await setMeta("min_build", minBuild);
    heard = key;
    notify({ type: "build", min_build: minBuild, server });
  }
  return isTooOld(minBuild);
}
