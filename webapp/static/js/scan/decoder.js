// @ts-check
/**
 * The page's side of the decoder worker (decoder-worker.js): start it, hand it frames, one at a
 * time, and get back the texts of the QR codes it read.
 */

/** @typedef {{x: number, y: number, width: number, height: number}} Crop */
/** @typedef {{engine: string, version: string}} DecoderInfo */

export class Decoder {
  constructor() {
    this.worker = new Worker(new URL("decoder-worker.js", import.meta.url), { type: "module", name: "qr-decoder" });
    /** @type {Map<number, (texts: string[]) => void>} */
    this.waiting = new Map();
    this.nextId = 1;
    /** @type {Promise<DecoderInfo>} resolves when the decoder can read, rejects when it cannot start */
    this.ready = new Promise((resolve, reject) => {
      this.worker.addEventListener("message", (event) => {
        const message = event.data ?? {};
        if (message.type === "ready") resolve({ engine: message.engine, version: message.version });
        else if (message.type === "failed") reject(new Error(message.message));
        else if (message.type === "result") {
          this.waiting.get(message.id)?.(message.texts ?? []);
          this.waiting.delete(message.id);
        }
      });
      this.worker.addEventListener("error", (event) => reject(new Error(event.message || "decoder worker failed")));
    });
    this.ready.catch(() => {}); // the caller looks at it when it needs to; no unhandled rejection
  }

  /**
   * Read a frame (transferred: the bitmap is the worker's afterwards). With a `crop` (the framing
   * box) that part is read first, and the whole bitmap too when `full` is set and the box held
   * nothing; without one, the whole bitmap.
   * @param {ImageBitmap} bitmap
   * @param {Crop | null} crop
   * @param {boolean} full
   * @returns {Promise<string[]>}
   */
  decode(bitmap, crop, full) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker.postMessage({ type: "frame", id, bitmap, crop, full }, [bitmap]);
    });
  }

  /** Stop the worker; frames still waiting get no texts. */
  close() {
    this.worker.terminate();
    for (const resolve of this.waiting.values()) resolve([]);
    this.waiting.clear();
  }
}
