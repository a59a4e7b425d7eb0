// @ts-check
/**
 * Photos taken on the floor, made ready to keep on the device: upright (EXIF orientation
 * applied), at most 1600 px on the long side, re-encoded as JPEG, and named by the SHA-256
 * of those bytes. A phone's 12-megapixel photo of a few MB becomes a few hundred KB.
 */
import { t } from "../i18n.js";

const LONG_EDGE = 1600;
const QUALITY = 0.85;
const MIME = "image/jpeg";

/** @typedef {import("./outbox.js").Attachment} Attachment */

/**
 * Downscale and re-encode one picked file.
 * @param {Blob} file
 * @returns {Promise<Attachment>}
 */
export async function preparePhoto(file) {
  const image = await decode(file);
  let encoded;
  try {
    const scale = Math.min(1, LONG_EDGE / Math.max(image.width, image.height));
    const width = Math.max(1, Math.round(image.width * scale));
    const height = Math.max(1, Math.round(image.height * scale));
    encoded = await drawJpeg(image.source, width, height);
  } finally {
    image.close();
  }
  const data = await encoded.arrayBuffer();
  return { sha256: await sha256Hex(data), mime: MIME, size: data.byteLength, data };
}

/**
 * Lowercase hex SHA-256 of some bytes (the name the server stores them under).
 * @param {ArrayBuffer} data
 */
export async function sha256Hex(data) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @typedef {object} Decoded
 * @property {CanvasImageSource} source
 * @property {number} width upright width
 * @property {number} height upright height
 * @property {() => void} close frees the decoded pixels
 */

/**
 * Decode a picked file upright. createImageBitmap does it off the main thread; browsers
 * without its imageOrientation option fall back to an <img>, which applies EXIF itself.
 * @param {Blob} file
 * @returns {Promise<Decoded>}
 */
async function decode(file) {
  if (typeof createImageBitmap === "function") {
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
    } catch {
      // an option this browser does not know, or a format only <img> decodes: try that
    }
  }
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.src = url;
  try {
    await img.decode();
  } catch (error) {
    URL.revokeObjectURL(url);
    throw new Error(t("photo_unreadable"), { cause: error });
  }
  return { source: img, width: img.naturalWidth, height: img.naturalHeight, close: () => URL.revokeObjectURL(url) };
}

/**
 * Draw the image at the given size on white (JPEG has no transparency) and encode it.
 * @param {CanvasImageSource} source
 * @param {number} width
 * @param {number} height
 * @returns {Promise<Blob>}
 */
async function drawJpeg(source, width, height) {
  if (typeof OffscreenCanvas === "function") {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d");
    if (context) {
      paint(context, source, width, height);
      return canvas.convertToBlob({ type: MIME, quality: QUALITY });
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  if (!context) throw new Error(t("photo_unreadable"));
  paint(context, source, width, height);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, MIME, QUALITY));
  canvas.width = canvas.height = 0; // iOS keeps canvas memory until the size is zero
  if (!(blob instanceof Blob)) throw new Error(t("photo_unreadable"));
  return blob;
}

/**
 * @param {CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D} context
 * @param {CanvasImageSource} source
 * @param {number} width
 * @param {number} height
 */
function paint(context, source, width, height) {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = "high";
  context.drawImage(source, 0, 0, width, height);
}
