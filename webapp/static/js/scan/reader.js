// @ts-check
/**
 * QR codes read from the live camera, for a screen that keeps the camera on (a stocktake): the
 * back camera plays into a <video>, frames go to the decoder worker one at a time (the next only
 * once the last is answered), mostly the framing box and every third frame the whole frame, and
 * each text read is handed to `onText`. The same reading as the scan screen's
 * (behaviours/scan-screen.js), which keeps its own loop beside its list and torch.
 */
import { Camera, cameraUnavailable, problemOf } from "./camera.js";
import { Decoder } from "./decoder.js";

/** The framing box: a square this share of the frame's shorter side, in the middle. */
export const BOX = 0.7;
/** Every this many frames, the whole frame is read too (a label held off-centre). */
const FULL_EVERY = 3;

export class FrameReader {
  /**
   * @param {HTMLVideoElement} video
   * @param {(text: string) => void} onText
   */
  constructor(video, onText) {
    this.video = video;
    this.onText = onText;
    /** @type {Camera | null} */
    this.camera = null;
    /** @type {Decoder | null} */
    this.decoder = null;
    this.starting = false;
    this.wanted = false; // stop() while the camera was starting: let it go once it has started
    this.reading = false;
    this.paused = false; // the camera stays on; frames are not read
    this.busy = false; // a frame is with the decoder
    this.frames = 0;
    this.round = 0; // each start's frame loop has its number: a stopped loop never comes back
  }

  /**
   * Start the camera and the decoder. Resolves with "" once frames are being read (or when a
   * start is already under way), else with why not: insecure, unsupported, denied, missing, busy,
   * failed or decoder.
   * @returns {Promise<string>}
   */
  async start() {
    if (this.starting || this.camera) return "";
    const unavailable = cameraUnavailable();
    if (unavailable) return unavailable;
    this.starting = true;
    this.wanted = true;
    this.decoder ??= new Decoder();
    try {
      const camera = await Camera.open(this.video);
      if (!this.wanted) {
        camera.stop();
        return "";
      }
      this.camera = camera;
    } catch (error) {
      console.warn("shopfloor: camera", error);
      this.decoder.close(); // nothing to decode: typing and wedge scanners need no decoder
      this.decoder = null;
      return problemOf(error);
    } finally {
      this.starting = false;
    }
    try {
      await this.decoder.ready;
    } catch (error) {
      console.warn("shopfloor: QR decoder", error);
      this.stop();
      return "decoder";
    }
    if (!this.camera) return ""; // stopped meanwhile
    this.reading = true;
    this.watchFrames();
    return "";
  }

  /** Take frames as the video presents them, one at a time to the decoder. */
  watchFrames() {
    const video = this.video;
    const round = ++this.round;
    const next = () => {
      if (typeof video.requestVideoFrameCallback === "function") video.requestVideoFrameCallback(tick);
      else requestAnimationFrame(tick);
    };
    const tick = () => {
      if (!this.reading || round !== this.round) return;
      next();
      if (!this.busy && !this.paused) this.readFrame();
    };
    next();
  }

  /** Send the current frame to the decoder; hand on what it reads. */
  async readFrame() {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height || !this.decoder) return;
    this.busy = true;
    try {
      const side = Math.round(BOX * Math.min(width, height));
      const box = { x: Math.round((width - side) / 2), y: Math.round((height - side) / 2), width: side, height: side };
      const whole = this.frames++ % FULL_EVERY === FULL_EVERY - 1;
      const bitmap = whole
        ? await createImageBitmap(this.video)
        : await createImageBitmap(this.video, box.x, box.y, box.width, box.height);
      const texts = await this.decoder.decode(bitmap, whole ? box : null, whole);
      if (this.reading && !this.paused && texts.length) this.onText(texts[0]);
    } catch (error) {
      if (this.reading) console.warn("shopfloor: frame", error); // else the camera stopped under the frame
    } finally {
      this.busy = false;
    }
  }

  /**
   * Stop or resume reading frames; the camera stays on either way.
   * @param {boolean} paused
   */
  pause(paused) {
    this.paused = paused;
  }

  /** Release the camera (the page is hidden or left); the decoder stays for the next start. */
  stop() {
    this.wanted = false;
    this.reading = false;
    this.camera?.stop();
    this.camera = null;
  }

  /** Let go of everything. */
  close() {
    this.stop();
    this.decoder?.close();
    this.decoder = null;
  }
}
