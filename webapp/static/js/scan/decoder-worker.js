// @ts-check
/// <reference lib="webworker" />
/**
 * The QR decoder, in a module worker so the camera view stays smooth while a frame is read.
 *
 * The browser's own BarcodeDetector when it reads QR codes (Android Chrome, Safari 17+ on
 * macOS), else ZXing-C++ compiled to WebAssembly (the barcode-detector ponyfill, vendored). The
 * .wasm is loaded from our own static files, never a CDN, so it works offline (the service
 * worker precaches it) and in plants without internet access. ZXing's reader options are the
 * ponyfill's: tryHarder, tryRotate, tryInvert and tryDownscale all on, QR only.
 *
 * Messages in: {type: "frame", id, bitmap: ImageBitmap, crop: {x, y, width, height} | null,
 * full: boolean}; the bitmap is transferred and closed here. The crop (the framing box) is
 * read first; the whole frame too when `full` is set and the crop held nothing.
 * Messages out: {type: "ready", engine, version}, {type: "result", id, texts, ms},
 * {type: "failed", message} (the decoder could not start: the page offers manual entry).
 */

const VENDOR = new URL("../../vendor/", import.meta.url);
const PONYFILL = new URL("barcode-detector-3.2.2/ponyfill.js", VENDOR).href;
const WASM = new URL("zxing-wasm-3.1.3/zxing_reader.wasm", VENDOR).href;
// The .wasm vendored beside the ponyfill must be the build its JavaScript glue was made for.
const WASM_VERSION = "3.1.3";
const WASM_SHA256 = "2ebda08a93eea3efcd8399cda6b276e6a0b1de4fec60b4d8988a047de4c6d1ba";

const worker = /** @type {DedicatedWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/** @typedef {{detect(source: ImageBitmap | ImageData): Promise<{rawValue: string}[]>}} Detector */
/** @typedef {{x: number, y: number, width: number, height: number}} Crop */

/** Canvases to read pixels with, by size (the crop's and the whole frame's). */
const canvases = /** @type {Map<string, OffscreenCanvasRenderingContext2D>} */ (new Map());
let engine = "";

/** @returns {Promise<Detector>} */
async function start() {
  const Native = /** @type {any} */ (worker).BarcodeDetector;
  if (Native && (await Native.getSupportedFormats().catch(() => [])).includes("qr_code")) {
    engine = "native";
    return new Native({ formats: ["qr_code"] });
  }
  const zxing = await import(PONYFILL);
  if (zxing.ZXING_WASM_VERSION !== WASM_VERSION || zxing.ZXING_WASM_SHA256 !== WASM_SHA256) {
    throw new Error(`decoder ${zxing.ZXING_WASM_VERSION} does not match the vendored wasm ${WASM_VERSION}`);
  }
  // Before anything else touches the module: its default would fetch the .wasm from a CDN.
  zxing.setZXingModuleOverrides({
    locateFile: (/** @type {string} */ path, /** @type {string} */ prefix) =>
      path.endsWith(".wasm") ? WASM : prefix + path,
  });
  await zxing.prepareZXingModule({ fireImmediately: true });
  engine = "zxing";
  const detector = new zxing.BarcodeDetector({ formats: ["qr_code"] });
  await detector.detect(new ImageData(8, 8)); // the first call sets up the reader: not on a real frame
  return detector;
}

const ready = start();
ready.then(
  () => worker.postMessage({ type: "ready", engine, version: engine === "zxing" ? WASM_VERSION : "" }),
  (error) => worker.postMessage({ type: "failed", message: String(error?.message ?? error) }),
);

/**
 * A region of a frame as pixels for ZXing, or as a bitmap for the native detector.
 * @param {ImageBitmap} bitmap
 * @param {Crop} crop
 * @returns {Promise<ImageBitmap | ImageData>}
 */
async function regionOf(bitmap, crop) {
  if (engine === "native") return createImageBitmap(bitmap, crop.x, crop.y, crop.width, crop.height);
  const key = `${crop.width}x${crop.height}`;
  let context = canvases.get(key);
  if (!context) {
    if (canvases.size > 2) canvases.clear(); // the camera changed resolution
    const canvas = new OffscreenCanvas(crop.width, crop.height);
    // Read back on the CPU: a GPU canvas would copy every frame back from the GPU.
    context = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
    canvases.set(key, context);
  }
  context.drawImage(bitmap, crop.x, crop.y, crop.width, crop.height, 0, 0, crop.width, crop.height);
  return context.getImageData(0, 0, crop.width, crop.height);
}

/**
 * @param {Detector} detector
 * @param {ImageBitmap | ImageData} source
 */
async function texts(detector, source) {
  const found = await detector.detect(source);
  return found.map((barcode) => barcode.rawValue).filter(Boolean);
}

worker.addEventListener("message", async (event) => {
  const { type, id, bitmap, crop, full } = event.data ?? {};
  if (type !== "frame") return;
  const started = performance.now();
  /** @type {string[]} */
  let found = [];
  try {
    const detector = await ready;
    const whole = { x: 0, y: 0, width: bitmap.width, height: bitmap.height };
    if (crop) found = await texts(detector, await regionOf(bitmap, crop));
    if (!found.length && (full || !crop)) found = await texts(detector, await regionOf(bitmap, whole));
  } catch (error) {
    console.warn("shopfloor: frame not decoded", error);
  } finally {
    bitmap?.close();
  }
  worker.postMessage({ type: "result", id, texts: found, ms: performance.now() - started });
});
