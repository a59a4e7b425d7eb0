// @ts-check
/**
 * The back camera for scanning: start it into a <video>, the torch where the device has one,
 * and why it cannot start, in words a person can act on.
 */

/**
 * Why this page cannot use a camera at all, before asking: "insecure" (plain http:// other than
 * localhost), "unsupported" (no getUserMedia), or "" when it may try.
 * @returns {"insecure" | "unsupported" | ""}
 */
export function cameraUnavailable() {
  if (!window.isSecureContext) return "insecure";
  if (!navigator.mediaDevices?.getUserMedia) return "unsupported";
  return "";
}

/**
 * The kind of a getUserMedia failure: "denied", "missing", "busy" or "failed".
 * @param {unknown} error
 * @returns {"denied" | "missing" | "busy" | "failed"}
 */
export function problemOf(error) {
  const name = error instanceof DOMException || error instanceof Error ? error.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "missing";
  if (name === "NotReadableError" || name === "AbortError") return "busy";
  return "failed";
}

export class Camera {
  /**
   * @param {HTMLVideoElement} video
   * @param {MediaStream} stream
   */
  constructor(video, stream) {
    this.video = video;
    this.stream = stream;
    this.track = stream.getVideoTracks()[0];
    this.torchOn = false;
  }

  /**
   * Start the back camera (the front one when there is no other) into `video`.
   * @param {HTMLVideoElement} video
   */
  static async open(video) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      // 720p: small labels stay readable at arm's length, and a frame decodes in a few tens of ms.
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    const camera = new Camera(video, stream);
    // Labels are read close up: keep refocusing where the camera lets us choose.
    const caps = camera.capabilities();
    if (Array.isArray(caps.focusMode) && caps.focusMode.includes("continuous")) {
      await camera.track.applyConstraints(/** @type {any} */ ({ advanced: [{ focusMode: "continuous" }] })).catch(() => {});
    }
    video.srcObject = stream;
    try {
      await video.play();
    } catch (error) {
      camera.stop();
      throw error;
    }
    return camera;
  }

  /** @returns {Record<string, any>} */
  capabilities() {
    return /** @type {any} */ (this.track)?.getCapabilities?.() ?? {};
  }

  /** Whether the camera has a torch (a light) the page may switch. */
  hasTorch() {
    return this.capabilities().torch === true;
  }

  /**
   * Switch the torch on or off.
   * @param {boolean} on
   */
  async setTorch(on) {
    await this.track.applyConstraints(/** @type {any} */ ({ advanced: [{ torch: on }] }));
    this.torchOn = on;
  }

  /** Release the camera (its light goes off). */
  stop() {
    for (const track of this.stream.getTracks()) track.stop();
    if (this.video.srcObject === this.stream) this.video.srcObject = null;
  }
}
